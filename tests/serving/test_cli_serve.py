"""`mlwright serve` as users run it: a real process on a free port, and its refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from mlwright.cli import main

from .conftest import AUTH, PREDICT_KEY, read_log, records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_subprocess_end_to_end(model_dir: Path, test_rows, tmp_path: Path):
    port = _free_port()
    key_file = tmp_path / "keys"
    key_file.write_text(f"{PREDICT_KEY}:predict\n")
    env = {**os.environ, "MLWRIGHT_API_KEYS_FILE": str(key_file)}
    env.pop("MLWRIGHT_API_KEYS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlwright", "serve", str(model_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready within 60 s"
            time.sleep(0.2)
        body = {"dataframe_records": records(test_rows.head(3))}
        answer = httpx.post(f"{url}/predict", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3 and answer.headers["x-request-id"]
        assert httpx.post(f"{url}/predict", json=body).status_code == 401
        assert httpx.get(f"{url}/health").json()["model"]["name"] == "churn"
        # a batch in flight when SIGTERM arrives is still answered (graceful drain)
        batch = pd.concat([test_rows] * 200).to_csv(index=False)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post,
                f"{url}/predict",
                content=batch,
                headers={**AUTH, "Content-Type": "text/csv"},
                timeout=30,
            )
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            assert pending.result().status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    output = proc.stdout.read() if proc.stdout else ""
    # uvicorn drains, shuts the app down, then re-raises SIGTERM so the exit says why it stopped
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "serving churn" in output


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_serve_refuses_unsafe_or_wrong_setups(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("MLWRIGHT_API_KEYS", raising=False)
    monkeypatch.delenv("MLWRIGHT_API_KEYS_FILE", raising=False)
    code, err = _run(["serve", str(model_dir), "--host", "0.0.0.0", "--no-auth"], capsys)
    assert code == 1 and "--no-auth is refused on host '0.0.0.0'" in err
    code, err = _run(["serve", str(model_dir)], capsys)
    assert code == 1 and "no API keys configured" in err
    code, err = _run(["serve", "no/such/folder", "--no-auth"], capsys)
    assert code == 1 and "neither a model folder nor a registry reference" in err
    monkeypatch.setenv("MLWRIGHT_API_KEYS", "short:predict")
    code, err = _run(["serve", str(model_dir)], capsys)
    assert code == 1 and "at least 16" in err


def _dead_writer(registry_dir: Path) -> None:
    """A writer session of churn that stopped an hour ago without closing (a kill -9)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from mlwright.registry import open_registry
    from mlwright.registry.tables import log_sessions

    registry = open_registry(registry_dir)
    try:
        then = datetime.now(UTC) - timedelta(hours=1)
        with registry.engine.begin() as conn:
            conn.execute(
                insert(log_sessions).values(
                    model_id=registry.operations.model_id("churn"),
                    writer="old-host:123:rest",
                    started_at=then,
                    heartbeat_at=then,
                    rows_written=7,
                    buffer_rows=500,
                    flush_interval_s=2.0,
                )
            )
    finally:
        registry.close()


def test_serve_a_registry_model_logs_and_flushes_on_sigterm(
    registry_dir: Path, test_rows, tmp_path: Path
):
    _dead_writer(registry_dir)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLWRIGHT_")}
    cmd = [sys.executable, "-m", "mlwright", "serve", "churn@production", "--no-auth"]
    cmd += ["--registry", str(registry_dir), "--port", str(port), "--low-confidence", "flag"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready within 60 s"
            time.sleep(0.2)
        answer = httpx.post(f"{url}/predict", json={"rows": records(test_rows.head(3))})
        assert answer.status_code == 200 and len(answer.json()["guardrails"]) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    output = proc.stdout.read() if proc.stdout else ""
    assert (
        "the prediction-log writer old-host:123:rest of 'churn' stopped without closing" in output
    )
    assert "prediction log: model 'churn' in sqlite:///" in output
    assert "a crash loses at most 1000 rows / 1 s" in output
    assert "guardrails: out_of_range=off, low_confidence=flag" in output
    logged = read_log(registry_dir).rows
    assert sorted(logged["request_id"]) == sorted(answer.json()["request_ids"])


def test_which_servers_log(registry_dir: Path, model_dir: Path):
    from mlwright.cli.serving import prediction_logger
    from mlwright.errors import ConfigError
    from mlwright.serving import FolderSource, RegistrySource
    from mlwright.settings import Settings

    settings = Settings()
    ref = RegistrySource("churn@production", str(registry_dir))
    folder = FolderSource(model_dir)
    args = {"registry": str(registry_dir)}
    try:
        logged = prediction_logger(ref, ref.resolve(), settings, log=None, log_as=None, **args)
        assert logged is not None and logged.name == "churn"
        assert (
            prediction_logger(ref, ref.resolve(), settings, log=False, log_as=None, **args) is None
        )
        off = settings.with_overrides(prediction_log={"enabled": False})
        assert prediction_logger(ref, ref.resolve(), off, log=None, log_as=None, **args) is None
        with pytest.raises(ConfigError, match="--log-as other is for model folders"):
            prediction_logger(ref, ref.resolve(), settings, log=None, log_as="other", **args)
        resolved = folder.resolve()
        assert prediction_logger(folder, resolved, settings, log=None, log_as=None, **args) is None
        with pytest.raises(ConfigError, match="--log-as NAME"):
            prediction_logger(folder, resolved, settings, log=True, log_as=None, **args)
        named = prediction_logger(folder, resolved, settings, log=None, log_as="churn", **args)
        assert named is not None and named.name == "churn"
        named.registry.close()
    finally:
        ref.registry.close()
