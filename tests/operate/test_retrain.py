"""Retraining end to end on a real registry: a champion trained from a CSV source, predictions
logged and labelled, then ``retrain`` promotes after a concept change, keeps without one, skips
when nothing fired or another runner holds the lock, and records every decision."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.evaluation import Comparison
from mlwright.model import Model
from mlwright.operate import RetrainRunner, judge, retrain
from mlwright.operate.data import WEIGHT, LabelledRows, Split, training_frame
from mlwright.operate.policy import parse_duration
from mlwright.registry import Registry, open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog
from mlwright.settings import RetrainSettings, Settings

from ..cli.test_cli import run
from ..registry import conftest as registry_conftest

registry_location = registry_conftest.registry_location  # SQLite and PostgreSQL

TRAIN = {"time_limit": 5, "preset": "fast", "seed": 0, "deterministic": True}


def make_rows(n: int, seed: int, *, changed: bool = False) -> pd.DataFrame:
    """A binary task: y depends on x1, x2 and the plan; after the change it flips where x3 > 0."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    logit = 2.0 * x1 - 1.0 * x2 + np.select([plan == "pro", plan == "plus"], [1.0, 0.3], -0.5)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    if changed:
        y = np.where(x3 > 0, ~y, y)
    return pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "x3": x3.round(4),
            "plan": plan,
            "y": np.where(y, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def champion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("champion")
    source = folder / "train.csv"
    make_rows(3000, seed=1).to_csv(source, index=False)
    settings = Settings.model_validate(
        {"data": {"source": str(source), "target": "y"}, "training": TRAIN, "progress": False}
    )
    return mlwright.train(settings=settings).save(folder / "model")


def open_with_champion(location: Path | str, champion_dir: Path) -> Registry:
    reg = open_registry(location)
    reg.register(champion_dir, "churn", alias="production", reason="first model")
    return reg


def feed(reg: Registry, rows: pd.DataFrame, *, start: datetime, prefix: str = "r") -> None:
    """Log the champion's predictions for ``rows`` (one a minute from ``start``); label them."""
    model = Model.load(reg.resolve("churn@production").path)
    inputs = rows.drop(columns=["y"])
    proba = model.predict_proba(inputs).to_numpy()
    logged = [
        LoggedRow(
            f"{prefix}-{i}",
            start + timedelta(minutes=i),
            {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()},
            model.classes_[int(p[1] >= 0.5)],
            [float(v) for v in p],
        )
        for i, (record, p) in enumerate(zip(inputs.to_dict("records"), proba, strict=True))
    ]
    with PredictionLog(reg, "churn", source="batch", flush_interval=0.05) as plog:
        assert plog.submit(1, logged)
        assert plog.flush()
    labels = reg.operations.add_labels("churn", [r.request_id for r in logged], rows["y"])
    assert labels.matched == len(rows)


def policy(**retrain: object) -> Settings:
    return Settings.model_validate({"retrain": {"time_limit": 5, **retrain}, "progress": False})


def retrain_events(reg: Registry) -> list[dict[str, object]]:
    return [e.details or {} for e in reg.history("churn") if e.action == "retrain"]


def test_concept_change_promotes_the_challenger(champion_dir: Path, tmp_path: Path) -> None:
    reg = open_with_champion(tmp_path / "reg", champion_dir)
    feed(reg, make_rows(1000, seed=2, changed=True), start=datetime.now(UTC) - timedelta(days=1))
    settings = policy(min_new_labels=500, feedback_share=0.8)

    decision = retrain(reg, "churn", if_needed=True, settings=settings, actor="ops")

    assert decision.decision == "promoted", decision.reason
    assert decision.champion == 1 and decision.challenger == 2
    assert reg.get("churn", "production").version == 2
    assert reg.get("churn", 2).parent_version == 1
    assert reg.get("churn", 2).note == "challenger from retrain"
    assert "1,000 new label(s)" in decision.trigger[0]
    evidence = decision.evidence
    assert evidence is not None and evidence["metric"] == "roc_auc"
    assert evidence["difference"] > 0 and evidence["p_value"] < 0.05
    assert decision.holdout_rows == 300
    assert decision.data["source"] == 3000 and decision.data["feedback"] == 700
    assert decision.data["rows_trained"] == 3700 and decision.data["feedback_share"] == 0.8
    # one retrain event, and the promotion it caused, with the same reason
    events = reg.history("churn")
    assert [e.action for e in events[-2:]] == ["promote", "retrain"]
    assert events[-2].reason == events[-1].reason == decision.reason
    assert events[-1].actor == "ops" and events[-1].version == 2
    assert events[-1].details is not None and events[-1].details["decision"] == "promoted"
    # the challenger's manifest keeps the champion's source, so it can be retrained the same way
    assert Model.load(reg.get("churn", 2).path).settings.data.source.endswith("train.csv")
    # rows it was trained or judged on never judge it again: no new rows to compare on yet
    again = retrain(reg, "churn", settings=settings)
    assert again.decision == "skipped" and "needs at least 100" in again.reason
    reg.close()


def test_no_change_keeps_the_champion_by_cli(
    champion_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = open_with_champion(tmp_path / "reg", champion_dir)
    feed(reg, make_rows(1000, seed=3), start=datetime.now(UTC) - timedelta(days=1))
    reg.close()
    project = tmp_path / "mlwright.toml"
    project.write_text("[retrain]\nmin_new_labels = 1000\ntime_limit = 5\nmargin = 0.002\n")
    monkeypatch.setenv("MLWRIGHT_PROGRESS", "false")
    args = ["retrain", "churn", "--registry", str(tmp_path / "reg"), "--project", str(project)]

    code, out, _ = run([*args, "--if-needed", "--json"], capsys)

    assert code == 0
    document = json.loads(out)
    assert document["decision"] == "kept", document["reason"]
    assert document["reason"].startswith("kept version 1: ")
    assert {"name", "alias", "champion", "challenger", "evidence", "trigger", "data"} <= set(
        document
    )
    assert document["champion"] == 1 and document["challenger"] == 2
    assert document["evidence"]["method"] == "paired_bootstrap"
    assert document["holdout_rows"] == 300 and document["error"] is None
    reg = open_registry(tmp_path / "reg")
    assert reg.get("churn", "production").version == 1

    # nothing new since that decision: the trigger does not fire, and that is recorded too
    code, out, _ = run([*args, "--if-needed", "--json"], capsys)
    skipped = json.loads(out)
    assert skipped["decision"] == "skipped" and "no trigger fired" in skipped["reason"]
    assert "0 new label(s)" in skipped["reason"]

    code, out, _ = run(["models", "history", "churn", "--registry", str(tmp_path / "reg")], capsys)
    assert code == 0 and "retrain" in out
    code, out, _ = run(
        ["models", "history", "churn", "--registry", str(tmp_path / "reg"), "--json"], capsys
    )
    decisions = [
        e["details"]["decision"] for e in json.loads(out)["events"] if e["action"] == "retrain"
    ]
    assert decisions == ["kept", "skipped"]
    code, out, _ = run([*args, "--if-needed"], capsys)
    assert code == 0 and "SKIPPED churn@production" in out and "no trigger fired" in out
    reg.close()


def test_skips_without_trigger_and_when_locked(champion_dir: Path, registry_location: str) -> None:
    reg = open_with_champion(registry_location, champion_dir)

    nothing = retrain(reg, "churn", if_needed=True, settings=policy())
    assert nothing.decision == "skipped" and "no retraining trigger is configured" in nothing.reason

    quiet = retrain(reg, "churn", if_needed=True, settings=policy(schedule="7d"))
    assert quiet.decision == "skipped" and "schedule = 7d" in quiet.reason

    assert reg.operations.acquire_lock("retrain:churn", "other-host:42", 60)
    locked = retrain(reg, "churn", settings=policy())
    assert locked.decision == "skipped" and "other-host:42" in locked.reason
    assert reg.operations.lock_holder("retrain:churn")[0] == "other-host:42"  # type: ignore[index]
    reg.operations.release_lock("retrain:churn", "other-host:42")

    few = retrain(reg, "churn", settings=policy())
    assert few.decision == "skipped" and "there are 0" in few.reason
    assert reg.operations.lock_holder("retrain:churn") is None  # released after the run

    assert [d["decision"] for d in retrain_events(reg)] == ["skipped"] * 4
    assert reg.versions("churn")[-1].version == 1  # nothing trained
    reg.close()


def test_clear_errors(
    champion_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = open_with_champion(tmp_path / "reg", champion_dir)
    with pytest.raises(mlwright.RegistryError, match="no alias 'staging'"):
        retrain(reg, "churn", alias="staging", settings=policy())
    with pytest.raises(mlwright.RegistryError, match="no model named 'nope'"):
        retrain(reg, "nope", settings=policy())
    project = tmp_path / "mlwright.toml"
    project.write_text('[retrain]\nschedule = "weekly"\n')
    with pytest.raises(mlwright.ConfigError, match="schedule must be a duration"):
        mlwright.load_settings(project)
    assert parse_duration("36h") == timedelta(hours=36)

    # a champion trained from a DataFrame has no source to re-read
    frame = make_rows(600, seed=4)
    model = mlwright.train(frame, target="y", settings=Settings(training=TRAIN, progress=False))
    reg.register(model.save(tmp_path / "frame-model"), "churn", alias="production")
    feed(reg, make_rows(400, seed=5), start=datetime.now(UTC) - timedelta(hours=2))
    failed = retrain(reg, "churn", settings=policy(data="source"))
    assert failed.decision == "skipped" and failed.error is not None
    assert "no recorded data source" in failed.reason and 'data = "feedback"' in failed.reason
    reg.close()
    # the CLI prints the recorded failure and exits 1, so that cron sees it
    project.write_text('[retrain]\ndata = "source"\n')
    args = ["retrain", "churn", "--registry", str(tmp_path / "reg"), "--project", str(project)]
    code, out, _ = run([*args, "--json"], capsys)
    assert code == 1 and "no recorded data source" in json.loads(out)["error"]


def test_runner_leads_alone_and_survives_errors(champion_dir: Path, registry_location: str) -> None:
    reg = open_with_champion(registry_location, champion_dir)
    first = RetrainRunner(reg, "churn", settings=policy(min_new_labels=10), check_interval_s=60)
    second = RetrainRunner(reg, "churn", settings=policy(min_new_labels=10), check_interval_s=60)

    decision = first.run_once()
    assert decision is not None and decision.decision == "skipped"
    assert second.run_once() is None  # the first runner leads the fleet
    assert first.stats()["leading"] and not second.stats()["leading"]
    first.stop()
    again = second.run_once()
    assert again is not None and again.decision == "skipped"
    second.stop()

    broken = RetrainRunner(reg, "nope", settings=policy(), check_interval_s=0.05)
    broken.start()
    deadline = time.monotonic() + 10
    while broken.errors < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broken.running and broken.errors >= 2 and "no model named" in str(broken.last_error)
    broken.stop()
    assert not broken.running

    ticking = RetrainRunner(reg, "churn", settings=policy(), check_interval_s=0.05)
    ticking.start()
    deadline = time.monotonic() + 10
    while ticking.runs < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    ticking.stop()
    assert ticking.runs >= 1 and ticking.errors == 0
    assert all(d["decision"] == "skipped" for d in retrain_events(reg))
    reg.close()


def comparison(difference: float, low: float, p_value: float) -> Comparison:
    return Comparison(
        "roc_auc",
        "challenger",
        "champion",
        0.8 + difference,
        0.8,
        difference,
        low,
        difference + (difference - low),
        p_value,
        "paired_bootstrap",
        p_value < 0.05,
    )


def test_judge_needs_the_margin_itself_to_be_significant() -> None:
    rules = RetrainSettings(margin=0.005, alpha=0.05)
    assert judge(comparison(0.03, 0.012, 0.001), rules, 600).promote
    worse = judge(comparison(-0.01, -0.02, 0.01), rules, 600)
    assert not worse.promote and "not better" in worse.reason
    unsure = judge(comparison(0.01, -0.002, 0.2), rules, 600)
    assert not unsure.promote and "not significantly" in unsure.reason
    hair = judge(comparison(0.0065, 0.002, 0.004), rules, 600)
    assert not hair.promote and "below the margin of 0.005" in hair.reason
    undefined = judge(comparison(float("nan"), float("nan"), float("nan")), rules, 600)
    assert not undefined.promote and "undefined" in undefined.reason


def test_training_frame_joins_source_and_feedback(champion_dir: Path) -> None:
    champion = Model.load(champion_dir)
    rows = make_rows(10, seed=6)
    labelled = LabelledRows(
        inputs=rows.drop(columns=["y"]).assign(extra=1),  # a column the source lacks: dropped
        actual=pd.Series(list(rows["y"]), dtype=object),
        at=pd.Series(pd.date_range("2026-01-01", periods=10, tz="UTC")),
        scored=np.ones(10, dtype=bool),
        unusable={},
    )
    split = Split(np.arange(7, 10), np.arange(7), 10)
    plain, weight, info = training_frame(champion, labelled, split, RetrainSettings())
    assert weight is None and len(plain) == 3007 and "extra" not in plain.columns
    assert info["source"] == 3000 and info["feedback"] == 7 and info["holdout"] == 3
    assert plain["x1"].iloc[-1] == str(rows["x1"].iloc[6])  # text, like the CSV source
    shared, weight, _ = training_frame(
        champion, labelled, split, RetrainSettings(feedback_share=0.8)
    )
    assert weight == WEIGHT
    assert shared[WEIGHT].iloc[-7:].sum() == pytest.approx(0.8 * len(shared))
    only, weight, info = training_frame(champion, labelled, split, RetrainSettings(data="feedback"))
    assert len(only) == 7 and info["source"] is None and weight is None


def test_runner_monitors_and_an_alert_triggers_a_retrain(
    champion_dir: Path, tmp_path: Path
) -> None:
    reg = open_with_champion(tmp_path / "registry", champion_dir)
    shifted = make_rows(600, seed=7)
    shifted["x1"] = shifted["x1"] + 4.0  # far outside training: drift on x1
    feed(reg, shifted, start=datetime.now(UTC) - timedelta(hours=11))
    runner = RetrainRunner(reg, "churn", settings=policy(on_alert=True), check_interval_s=60)
    decision = runner.run_once()
    runner.stop()
    assert runner.errors == 0, runner.last_error
    assert runner.last_status == "alert"
    runs = reg.operations.monitor_runs("churn")
    assert runs and runs[-1]["status"] == "alert"
    assert [a.state for a in reg.operations.alerts("churn")] == ["open"]
    assert decision is not None and decision.decision in ("promoted", "kept")
    assert "alert" in decision.reason.lower() or "alert" in str(decision.to_dict()["trigger"])
    reg.close()
