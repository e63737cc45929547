"""The registry under concurrent writers and under ``kill -9``: nothing lost, nothing half-written.

Workers are forked processes (each opens its own registry, as separate ``mlwright`` commands
would); a write counts as acknowledged once the call returned and the worker logged it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest

from mlwright.artifact import read_verified
from mlwright.registry import open_registry
from tests.registry.conftest import fake_model

pytestmark = pytest.mark.slow

WORKERS = 16
SECONDS = float(os.environ.get("MLWRIGHT_TEST_REGISTRY_SECONDS", "30"))
KILLS = 50


def _worker(location: str, scratch: str, seconds: float, log: str, seed: int) -> None:
    rng = random.Random(seed)
    reg = open_registry(location)
    deadline = time.monotonic() + seconds
    with open(log, "a", encoding="utf-8") as out:
        i = 0
        while time.monotonic() < deadline:
            folder = fake_model(Path(scratch) / f"{seed}-{i}")
            version = reg.register(folder, "churn", actor=f"w{seed}")
            out.write(json.dumps({"op": "register", "v": version.version, "d": version.digest}))
            out.write("\n")
            out.flush()
            if rng.random() < 0.7:
                event = reg.promote("churn", version.version, "production", actor=f"w{seed}")
                out.write(json.dumps({"op": "promote", "v": event.version}) + "\n")
                out.flush()
            reg.resolve("churn@latest")
            i += 1
    reg.close()


def _forever(location: str, scratch: str, seed: int) -> None:
    _worker(location, scratch, 3600.0, os.devnull, seed)


def _check_consistent(location: str) -> tuple[list[int], list[dict[str, object]]]:
    """Invariants that must hold whatever happened; returns versions and production moves."""
    reg = open_registry(location)
    try:
        numbers = [v.version for v in reg.versions("churn")]
        assert numbers == list(range(1, len(numbers) + 1)), "versions must be 1..N, no gaps"
        for version in reg.versions("churn"):
            read_verified(version.path)  # every version's artifact is whole and unaltered
        for digest in reg.store.digests():
            read_verified(reg.store.path(digest))  # nothing half-written in the store
        production = reg.resolve("churn@production")
        assert production.status == "ready"
        moves = [e.to_dict() for e in reg.history("churn", alias="production")]
        registered = [e for e in reg.history("churn") if e.action == "register"]
        assert [e.version for e in registered] == numbers
        previous = None
        for move in moves:  # every move saw the move before it: no lost update
            assert move["previous_version"] == previous
            previous = move["version"]
        assert previous == production.version
        return numbers, moves
    finally:
        reg.close()


def test_sixteen_processes_registering_and_promoting(
    registry_location: str, tmp_path: Path
) -> None:
    location = registry_location
    context = multiprocessing.get_context("fork")
    open_registry(location).close()  # migrate once, as a first `mlwright` command would
    logs = [tmp_path / f"w{i}.jsonl" for i in range(WORKERS)]
    procs = [
        context.Process(
            target=_worker, args=(location, str(tmp_path / "src"), SECONDS, str(logs[i]), i)
        )
        for i in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(SECONDS + 120)
        assert p.exitcode == 0, f"a worker failed (exit code {p.exitcode})"
    acked = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    registers = [a for a in acked if a["op"] == "register"]
    promotes = [a for a in acked if a["op"] == "promote"]
    assert len(registers) > WORKERS, "each worker should have registered several versions"

    numbers, moves = _check_consistent(location)
    assert len(numbers) == len(registers), "every acknowledged register is there, no more"
    assert len({a["v"] for a in registers}) == len(registers), "no version given out twice"
    reg = open_registry(location)
    stored = {v.version: v.digest for v in reg.versions("churn")}
    reg.close()
    assert all(stored[a["v"]] == a["d"] for a in registers)
    assert len(moves) == len(promotes), "every acknowledged promotion is in the audit log"


def test_kill_9_never_leaves_half_written_state(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    location = str(tmp_path / "registry")
    seed_reg = open_registry(location)
    seed_reg.register(fake_model(tmp_path / "first"), "churn")
    seed_reg.promote("churn", 1, "production")
    seed_reg.close()
    rng = random.Random(0)
    for attempt in range(KILLS):
        worker = context.Process(target=_forever, args=(location, str(tmp_path / "src"), attempt))
        worker.start()
        time.sleep(rng.uniform(0.02, 0.4))
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
        assert worker.exitcode == -signal.SIGKILL
        _check_consistent(location)
    reg = open_registry(location)
    assert len(reg.versions("churn")) > 1, "the workers should have got some writes through"
    reg.store.sweep(min_age_s=0)  # temporary copies of killed writers are swept, not served
    assert not any((reg.store.root / ".tmp").iterdir())
    reg.close()
