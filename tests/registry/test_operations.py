"""The operations tables on SQLite and PostgreSQL: prediction log, labels, monitor runs, alerts,
writer sessions and locks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from mlwright.registry import open_registry
from mlwright.registry.operations import SHADOW_SOURCE, LoggedRow, PredictionLog
from mlwright.registry.tables import log_sessions
from tests.registry.conftest import fake_model


@pytest.fixture
def reg(registry_location: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    registry = open_registry(registry_location)
    registry.register(fake_model(tmp_path / "m"), "churn")
    yield registry
    registry.close()


def _rows(n: int, start: int = 0, at: datetime | None = None) -> list[LoggedRow]:
    at = at or datetime.now(UTC)
    return [
        LoggedRow(f"r-{i}", at, {"tenure": i, "plan": "a" if i % 2 else "b"}, "Yes", [0.3, 0.7])
        for i in range(start, start + n)
    ]


def test_log_read_label_and_purge(reg) -> None:  # type: ignore[no-untyped-def]
    old = datetime.now(UTC) - timedelta(days=10)
    with PredictionLog(reg, "churn", buffer_rows=7, flush_interval=0.05) as plog:
        assert plog.submit(1, _rows(20))
        assert plog.submit(1, lambda: _rows(5, start=20, at=old), n_rows=5)
        assert plog.flush()
    assert plog.stats()["written"] == 25
    ops = reg.operations
    window = ops.read("churn")
    assert len(window) == 25
    assert list(window.rows["request_id"][:5]) == [f"r-{i}" for i in range(20, 25)]
    assert set(window.inputs.columns) == {"tenure", "plan"}
    assert window.rows["probabilities"].iloc[0] == [0.3, 0.7]

    result = ops.add_labels("churn", ["r-1", "r-2", "nope", None], ["No", "Yes", "No", "Yes"])
    assert (result.received, result.stored, result.matched) == (4, 3, 2)
    assert result.unmatched == ["nope"] and len(result.invalid) == 1
    again = ops.add_labels("churn", ["r-1"], ["Yes"])  # a later label replaces the earlier
    assert again.matched == 1
    labelled = ops.read("churn", labelled_only=True)
    assert dict(zip(labelled.rows["request_id"], labelled.rows["actual"], strict=True)) == {
        "r-1": "Yes",
        "r-2": "Yes",
    }
    assert ops.label_count("churn") == 2
    ops.add_labels("churn", ["r-21"], ["No"])  # the outcome of a prediction made 10 days ago
    day_ago = datetime.now(UTC) - timedelta(days=1)
    assert ops.label_count("churn", since=day_ago) == 3  # labels received since
    assert ops.label_count("churn", predicted_since=day_ago) == 2  # of predictions made since
    recent = ops.read("churn", since=datetime.now(UTC) - timedelta(days=1))
    assert len(recent) == 20
    assert ops.purge("churn", datetime.now(UTC) - timedelta(days=1)) == 5
    assert ops.count("churn") == 20


def test_alert_opens_once_until_cleared(reg) -> None:  # type: ignore[no-untyped-def]
    ops = reg.operations
    assert ops.open_alert("churn", "drift", "Feature 'tenure' drifted", {"psi": 0.4})
    assert not ops.open_alert("churn", "drift", "Feature 'tenure' drifted")
    assert ops.alerts("churn")[0].state == "open"
    assert ops.clear_alert("churn", "drift")
    assert not ops.clear_alert("churn", "drift")
    assert ops.open_alert("churn", "drift", "again")
    actions = [e.action for e in reg.history("churn")]
    assert actions.count("alert") == 2 and actions.count("alert_cleared") == 1


def test_monitor_runs_are_stored(reg) -> None:  # type: ignore[no-untyped-def]
    ops = reg.operations
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(3):
        ops.save_monitor_run(
            "churn",
            version=1,
            window_start=start + timedelta(days=day),
            window_end=start + timedelta(days=day + 1),
            status="ok" if day < 2 else "alert",
            rows=100,
            labelled=10,
            flagged=0,
            report={"status": "ok", "day": day},
        )
    runs = ops.monitor_runs("churn", since=start + timedelta(days=1))
    assert [r["report"]["day"] for r in runs] == [1, 2]
    assert runs[-1]["status"] == "alert"


def test_one_lock_holder_at_a_time(reg) -> None:  # type: ignore[no-untyped-def]
    ops = reg.operations
    winners: list[str] = []

    def grab(who: str) -> None:
        if ops.acquire_lock("retrain:churn", who, ttl_s=30):
            winners.append(who)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    holder = ops.lock_holder("retrain:churn")
    assert holder is not None and holder[0] == winners[0]
    assert ops.acquire_lock("retrain:churn", winners[0], ttl_s=30)  # renewal
    ops.release_lock("retrain:churn", winners[0])
    assert ops.acquire_lock("retrain:churn", "other", ttl_s=0.2)
    time.sleep(0.3)
    assert ops.acquire_lock("retrain:churn", "late", ttl_s=30)  # the expired lease is taken


def test_a_dead_writer_is_reported(reg) -> None:  # type: ignore[no-untyped-def]
    first = PredictionLog(reg, "churn", flush_interval=0.05)
    first.start()
    first.submit(1, _rows(3))
    assert first.flush()
    # simulate kill -9: the thread stops without closing the session, and time passes
    first._queue.put(None)
    assert first._thread is not None
    first._thread.join()
    with reg.engine.begin() as conn:
        conn.execute(
            update(log_sessions).values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
    second = PredictionLog(reg, "churn")
    messages = second.start()
    second.close()
    assert len(messages) == 1
    assert "stopped without closing" in messages[0] and "missing from the log" in messages[0]


def test_shadow_rows_count_once(reg) -> None:  # type: ignore[no-untyped-def]
    ops = reg.operations
    model_id = ops.model_id("churn")
    ops.write_rows(model_id, 1, "rest", _rows(5))
    ops.write_rows(model_id, 2, SHADOW_SOURCE, _rows(5))  # the same requests, scored by v2
    ops.add_labels("churn", [f"r-{i}" for i in range(5)], ["No"] * 5)
    assert ops.label_count("churn") == 5
    assert len(ops.read("churn")) == 10
    served = ops.read("churn", include_shadow=False)
    assert len(served) == 5 and set(served.rows["source"]) == {"rest"}


def test_logged_rows_are_stored_as_sqlalchemy_would_store_them(reg) -> None:  # type: ignore[no-untyped-def]
    """write_rows hands the driver tuples with JSON it encoded itself; what it stores must be
    byte for byte what an ``insert(predictions)`` stores (JSON null for None, NaN as null)."""
    from sqlalchemy import insert, text

    from mlwright.registry.database import write_transaction
    from mlwright.registry.tables import predictions

    ops = reg.operations
    model_id = ops.model_id("churn")
    at = datetime.now(UTC)
    rows = [
        LoggedRow("a", at, {"x": 1.5, "y": None, "z": float("nan"), "s": "é"}),
        LoggedRow("b", at, {"x": 2}, "Yes", [0.1, 0.9], "bad row", {"ood": "flag"}),
    ]
    with write_transaction(reg.engine) as conn:
        conn.execute(
            insert(predictions),
            [
                {
                    "model_id": model_id,
                    "version": 1,
                    "request_id": r.request_id,
                    "at": r.at,
                    "source": "core",
                    "inputs": r.inputs,
                    "prediction": r.prediction,
                    "probabilities": r.probabilities,
                    "rejected": r.rejected,
                    "flags": r.flags,
                }
                for r in rows
            ],
        )
    ops.write_rows(model_id, 1, "driver", rows)
    columns = (
        "request_id, version, CAST(at AS TEXT), CAST(inputs AS TEXT), CAST(prediction AS TEXT)"
    )
    columns += ", CAST(probabilities AS TEXT), rejected, CAST(flags AS TEXT)"
    with reg.engine.connect() as conn:
        stored = {
            source: conn.execute(
                text(f"SELECT {columns} FROM predictions WHERE source = :s ORDER BY request_id"),
                {"s": source},
            ).all()
            for source in ("core", "driver")
        }
    assert len(stored["driver"]) == 2
    assert stored["driver"] == stored["core"]
    assert {r.request_id for r in ops.read("churn").rows.itertuples()} == {"a", "b"}
