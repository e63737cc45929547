"""Monitoring from the prediction log, end to end: a real model, a real registry (SQLite and
PostgreSQL), rows written by PredictionLog, labels, stored verdicts and alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mlwright
from mlwright.errors import ConfigError, DataError
from mlwright.monitoring import monitor_logged, parse_duration, parse_time, store_feedback
from mlwright.registry import Registry, open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog
from mlwright.settings import AlertSettings, Settings
from tests.registry.conftest import pg_schema_url

from ..conftest import EXAMPLE
from .test_alerts import Webhook

DAY = timedelta(days=1)
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 3 * DAY


@pytest.fixture(scope="module")
def model_dir(churn_model: mlwright.Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return churn_model.save(tmp_path_factory.mktemp("service") / "churn")


@pytest.fixture(scope="module")
def test_rows() -> pd.DataFrame:
    return mlwright.read_data(EXAMPLE / "test.csv")


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    if request.param == "sqlite":
        reg = open_registry(tmp_path / "registry")
        yield reg
        reg.close()
        return
    monkeypatch.setenv("MLWRIGHT_ARTIFACT_STORE", str(tmp_path / "store"))
    for url in pg_schema_url():
        reg = open_registry(url)
        yield reg
        reg.close()


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[Registry]:
    reg = open_registry(tmp_path / "registry")
    yield reg
    reg.close()


def log_rows(
    reg: Registry,
    model: mlwright.Model,
    df: pd.DataFrame,
    at: datetime,
    prefix: str,
    **extra: Any,
) -> list[str]:
    """Write ``df`` to the prediction log as the server would: inputs, prediction, probabilities."""
    proba = model.predict_proba(df)
    labels = model.predict(df)
    rows = [
        LoggedRow(
            f"{prefix}-{i}",
            at + timedelta(seconds=i),
            inputs,
            label,
            [float(p) for p in probabilities],
            **extra,
        )
        for i, (inputs, label, probabilities) in enumerate(
            zip(df.to_dict("records"), labels, proba.to_numpy(), strict=True)
        )
    ]
    with PredictionLog(reg, "churn", flush_interval=0.05) as plog:
        assert plog.submit(1, rows)
        assert plog.flush()
    return [r.request_id for r in rows]


def shift_tenure(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    tenure = pd.to_numeric(out["tenure"])
    out["tenure"] = (tenure + tenure.std()).astype(str)  # one standard deviation
    return out


def assert_calm(document: dict[str, Any]) -> None:
    """No input column moved. The status is "ok", or "warning" when only the scores moved: their
    reference is out-of-fold, not the deployed ensemble's (see monitoring/report.py)."""
    assert not any(f["drifted"] or f["minor_drift"] for f in document["features"])
    if document["status"] != "ok":
        assert document["status"] == "warning", document["reasons"]
        assert all(r.startswith("The model's predictions") for r in document["reasons"])


def test_logged_predictions_judged_stored_and_alerted(
    registry: Registry, model_dir: Path, churn_model: mlwright.Model, test_rows: pd.DataFrame
) -> None:
    registry.register(model_dir, "churn", alias="production")
    normal, later = test_rows.iloc[:700], test_rows.iloc[700:]
    ids = log_rows(registry, churn_model, normal.drop(columns=["Churn"]), START, "a")
    registry.operations.add_labels("churn", ids[:300], list(normal["Churn"][:300]))
    log_rows(registry, churn_model, shift_tenure(later), START + DAY, "b")
    log_rows(registry, churn_model, later, START + 2 * DAY, "c")

    ref, schema = churn_model.reference_, churn_model.schema_
    with Webhook() as hook:
        alerts = AlertSettings(webhook_url=hook.url, timeout_s=2, retries=1, backoff_s=0.01)

        def judge(day: int) -> Any:
            start = START + day * DAY
            return monitor_logged(
                registry,
                "churn",
                1,
                ref,
                schema,
                since=start,
                until=start + DAY,
                alert_settings=alerts,
            )

        calm = judge(0)
        document = calm.to_dict()
        json.dumps(document, allow_nan=False)
        assert_calm(document)
        assert document["model"] == {"name": "churn", "version": 1}
        assert document["rows"] == 700 and document["labelled"] == 300
        assert len(document["features"]) == len(schema.feature_names)
        assert {"name", "drifted", "statistic", "threshold"} <= set(document["features"][0])
        performance = document["performance"]
        assert performance["labelled_rows"] == 300
        assert set(performance["realized"]) >= {"accuracy", "roc_auc"}
        assert set(performance["estimated"]) >= {"accuracy", "roc_auc"}
        assert document["alerts"] == [] and hook.received == []

        drifted = judge(1)
        assert drifted.status == "alert", drifted.reasons
        by_name = {f["name"]: f for f in drifted.to_dict()["features"]}
        assert by_name["tenure"]["drifted"] and not by_name["gender"]["drifted"]
        assert any("Feature 'tenure' drifted" in r for r in drifted.reasons)
        assert [(a.rule, a.event) for a in drifted.alerts] == [("status:alert", "opened")]
        assert [m["event"] for m in hook.received] == ["alert"]
        assert hook.received[0]["model"] == "churn" and hook.received[0]["status"] == "alert"

        again = judge(1)
        assert [(a.event, a.delivery) for a in again.alerts] == [("open", None)]
        assert len(hook.received) == 1  # not sent again while it stays open

        back = judge(2)
        assert_calm(back.to_dict())
        assert [(a.rule, a.event) for a in back.alerts] == [("status:alert", "cleared")]
        assert [m["event"] for m in hook.received] == ["alert", "resolved"]

    runs = registry.operations.monitor_runs("churn")
    assert [r["status"] for r in runs][1:3] == ["alert", "alert"]
    assert runs[0]["status"] == calm.status and runs[3]["status"] == back.status
    assert runs[1]["rows"] == 709 and runs[0]["labelled"] == 300
    assert runs[1]["report"]["features"][4]["name"] == "tenure"
    assert [e.action for e in registry.history("churn")].count("alert") == 1


def test_windows_are_judged_and_stored_for_trends(
    sqlite_registry: Registry,
    model_dir: Path,
    churn_model: mlwright.Model,
    test_rows: pd.DataFrame,
) -> None:
    reg = sqlite_registry
    reg.register(model_dir, "churn")
    log_rows(reg, churn_model, test_rows.iloc[:700], START + timedelta(hours=5), "a")
    log_rows(reg, churn_model, shift_tenure(test_rows.iloc[700:]), START + DAY, "b")
    log_rows(reg, churn_model, test_rows.iloc[700:], START + 2 * DAY, "c")
    result = monitor_logged(
        reg,
        "churn",
        1,
        churn_model.reference_,
        churn_model.schema_,
        window="1d",
        until=START + 3 * DAY,
        alert_settings=AlertSettings(rules=["drift:tenure", "quality:Tenure"]),
    )
    windows = result.to_dict()["windows"]
    assert [w["start"][:10] for w in windows] == [
        (START + i * DAY).date().isoformat() for i in range(3)
    ]  # aligned to whole days since the first logged row
    assert windows[1]["status"] == "alert"
    for calm in (windows[0], windows[2]):
        assert calm["status"] in ("ok", "warning") and not calm["drifted"], calm["reasons"]
    assert [w["rows"] for w in windows] == [700, 709, 709]
    assert windows[1]["drifted"] == ["tenure"] and windows[1]["reasons"]
    assert result.status == "alert" and result.rows_logged == 2118  # the whole range
    stored = reg.operations.monitor_runs("churn")
    assert [r["id"] for r in stored] == result.runs
    assert [r["window_start"] for r in stored] == [START + i * DAY for i in range(3)]
    assert [(a.rule, a.event) for a in result.alerts] == [("drift:tenure", "opened")]
    assert any("'quality:Tenure' names no input column" in n for n in result.notes)

    with pytest.raises(ConfigError, match="at most 1000 are judged"):
        monitor_logged(
            reg,
            "churn",
            1,
            churn_model.reference_,
            churn_model.schema_,
            window="1m",
            since=START,
            until=START + 3 * DAY,
        )


def test_nothing_logged_is_ok_and_says_so(
    sqlite_registry: Registry, model_dir: Path, churn_model: mlwright.Model
) -> None:
    sqlite_registry.register(model_dir, "churn")
    result = monitor_logged(
        sqlite_registry,
        "churn",
        1,
        churn_model.reference_,
        churn_model.schema_,
        since=START,
        until=START + DAY,
        window=timedelta(hours=6),
        alert_settings=AlertSettings(),
    )
    document = result.to_dict()
    assert document["status"] == "ok" and document["insufficient_data"]
    assert document["rows"] == 0 and document["rows_logged"] == 0
    assert "No predictions were logged for churn@1 between" in document["reasons"][0]
    assert "mlwright serve churn@ALIAS" in document["reasons"][0]
    assert len(document["windows"]) == 4 and document["runs"] == []
    assert document["performance"]["labelled_rows"] == 0
    assert any("Alert rules were not judged" in n for n in document["notes"])
    assert sqlite_registry.operations.monitor_runs("churn") == []
    with pytest.raises(ConfigError, match="alpha must be between 0 and 0.5"):
        monitor_logged(
            sqlite_registry, "churn", 1, churn_model.reference_, churn_model.schema_, alpha=5
        )
    with pytest.raises(ConfigError, match="expected the start before the end"):
        monitor_logged(
            sqlite_registry,
            "churn",
            1,
            churn_model.reference_,
            churn_model.schema_,
            since=START + DAY,
            until=START,
        )


def test_rejected_unusable_and_flagged_rows_are_counted(
    sqlite_registry: Registry,
    model_dir: Path,
    churn_model: mlwright.Model,
    test_rows: pd.DataFrame,
) -> None:
    reg = sqlite_registry
    reg.register(model_dir, "churn")
    rows = test_rows.iloc[:200]
    log_rows(reg, churn_model, rows, START, "a", flags={"low_confidence": "flag"})
    bad = rows.iloc[:10].copy()
    bad["tenure"] = "abc"
    log_rows(reg, churn_model, rows.iloc[:5], START, "r", rejected="column 'tenure' is missing")
    with PredictionLog(reg, "churn", flush_interval=0.05) as plog:
        plog.submit(
            1, [LoggedRow(f"u-{i}", START, r) for i, r in enumerate(bad.to_dict("records"))]
        )
    result = monitor_logged(
        reg,
        "churn",
        1,
        churn_model.reference_,
        churn_model.schema_,
        since=START,
        until=START + DAY,
        store=False,
    )
    document = result.to_dict()
    assert document["rows_logged"] == 215 and document["rows"] == 200
    assert document["rows_rejected"] == 15  # 5 refused by the server, 10 that do not conform
    assert document["guardrails"] == {
        "flagged": 200,
        "rules": {"low_confidence": 200},
        "actions": {"flag": 200},
    }
    notes = " ".join(document["notes"])
    assert "5 logged row(s) were rejected by the server" in notes
    assert "10 logged row(s) no longer fit the model's schema" in notes
    assert "column 'tenure'" in notes
    assert reg.operations.monitor_runs("churn") == []  # store=False only reads


def test_feedback_sets_bad_rows_aside(sqlite_registry: Registry, tmp_path: Path) -> None:
    from tests.registry.conftest import fake_model

    sqlite_registry.register(fake_model(tmp_path / "m"), "churn")
    with PredictionLog(sqlite_registry, "churn", flush_interval=0.05) as plog:
        plog.submit(1, [LoggedRow(str(i), START, {"x": i}, "No", [0.9, 0.1]) for i in (17, 18)])
    labels = pd.DataFrame(
        {
            "request_id": [17.0, "18", None, "  ", "x" * 200, "nope", "18"],
            "actual": ["Yes", "No", "Yes", "No", "Yes", "No", ""],
        }
    )
    result = store_feedback(sqlite_registry, "churn", labels, source="test")
    assert (result.received, result.stored, result.matched) == (7, 3, 2)
    assert result.unmatched == ["nope"]
    assert list(result.invalid["_row"]) == [2, 3, 4, 6]
    assert list(result.invalid["_reason"]) == [
        "request_id is missing",
        "request_id is missing",
        "request_id is longer than 120 characters",
        "actual is missing",
    ]
    window = sqlite_registry.operations.read("churn", labelled_only=True)
    assert dict(zip(window.rows["request_id"], window.rows["actual"], strict=True)) == {
        "17": "Yes",
        "18": "No",
    }
    assert result.to_dict()["invalid_rows"][0] == {"row": 2, "reason": "request_id is missing"}
    with pytest.raises(DataError, match=r"no column\(s\) \['actual'\]"):
        store_feedback(sqlite_registry, "churn", pd.DataFrame({"request_id": ["1"], "y": [1]}))


def test_times_and_durations() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert parse_time("7d", now=now) == datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert parse_time("2026-03-01", now=now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_time("2026-03-01T12:00:00+01:00") == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert parse_duration("30m") == timedelta(minutes=30) and parse_duration("1.5h").seconds == 5400
    with pytest.raises(ConfigError, match="neither an ISO date/time nor a duration"):
        parse_time("yesterday")
    with pytest.raises(ConfigError, match="is not a duration"):
        parse_duration("1 day")
    with pytest.raises(ConfigError, match="must be positive"):
        parse_duration("0h")


def test_front_doors_resolve_the_reference(
    tmp_path: Path, model_dir: Path, churn_model: mlwright.Model, test_rows: pd.DataFrame
) -> None:
    location = str(tmp_path / "registry")
    mlwright.register(model_dir, "churn", registry=location, alias="production")
    reg = open_registry(location)
    ids = log_rows(reg, churn_model, test_rows.iloc[:400], START, "a")
    reg.close()
    labels = pd.DataFrame({"request_id": ids[:100], "actual": list(test_rows["Churn"][:100])})
    assert mlwright.feedback("churn", labels, registry=location).matched == 100
    settings = Settings(monitoring={"since": "5d", "window": "1d"})
    result = mlwright.monitor("churn@production", registry=location, settings=settings)
    assert_calm(result.to_dict())
    assert result.rows_logged == 400 and result.labelled == 100
    assert len(result.windows) in (5, 6)  # aligned to whole days, up to now
    assert result.report.performance is not None
    assert result.report.performance.labelled_rows == 100
