"""Retraining on shadow evidence, end to end: a real server answers with the champion while a
shadow version scores the same requests silently, labels arrive through POST /feedback, and
``retrain --shadow`` promotes or keeps on those real outcomes, with the evidence in history."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlwright
from mlwright.model import Model
from mlwright.operate import retrain
from mlwright.operate.data import labelled_rows
from mlwright.registry import Registry, open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog
from mlwright.serving import RegistryPredictionLogger, RegistrySource, ServingConfig, create_app
from mlwright.settings import Settings

from ..cli.test_cli import run
from .test_retrain import TRAIN, make_rows, policy, retrain_events


def trained_on(rows: pd.DataFrame, folder: Path) -> Path:
    settings = Settings(training=TRAIN, progress=False)
    return mlwright.train(rows, target="y", settings=settings).save(folder)


@pytest.fixture(scope="module")
def champion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_on(make_rows(3000, seed=1), tmp_path_factory.mktemp("champion") / "model")


@pytest.fixture(scope="module")
def changed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A challenger trained after the concept change."""
    rows = make_rows(3000, seed=7, changed=True)
    return trained_on(rows, tmp_path_factory.mktemp("changed") / "model")


def serve_with_shadow(location: Path, rows: pd.DataFrame) -> list[str]:
    """Answer ``rows`` (four requests) with churn@production while churn@challenger shadows;
    post their labels to /feedback; return the request ids of the answers."""
    source = RegistrySource("churn@production", str(location))
    logger = RegistryPredictionLogger(source.registry, "churn", flush_interval=0.05)
    config = ServingConfig(shadow="churn@challenger", poll_interval=0.1)
    ids: list[str] = []
    try:
        with TestClient(create_app(source, config, prediction_logger=logger)) as client:
            shadow = client.app.state.server.shadow  # type: ignore[attr-defined]
            deadline = datetime.now(UTC) + timedelta(seconds=30)
            while shadow.holder.current is None or client.get("/ready").status_code != 200:
                assert datetime.now(UTC) < deadline, client.get("/health").json()
                time.sleep(0.05)
            features = rows.drop(columns=["y"])
            for part in range(0, len(rows), 100):
                chunk = features.iloc[part : part + 100].to_dict("records")
                answer = client.post("/predict", json={"rows": chunk})
                assert answer.status_code == 200, answer.text
                assert answer.json()["model"]["version"] == 1
                ids += answer.json()["request_ids"]
            assert shadow.flush() and logger.flush()
            labels = [{"request_id": i, "actual": y} for i, y in zip(ids, rows["y"], strict=True)]
            stored = client.post("/feedback", json={"labels": labels}).json()
            assert stored["matched"] == len(rows)
    finally:
        source.registry.close()
    return ids


def test_a_better_shadow_is_promoted_on_real_outcomes(
    champion_dir: Path, changed_dir: Path, tmp_path: Path
) -> None:
    reg = open_registry(tmp_path / "reg")
    reg.register(champion_dir, "churn", alias="production")
    reg.register(changed_dir, "churn", alias="challenger")
    reg.close()
    ids = serve_with_shadow(tmp_path / "reg", make_rows(400, seed=2, changed=True))
    reg = open_registry(tmp_path / "reg")

    logged = reg.operations.read("churn", labelled_only=True).rows
    assert sorted(logged["source"].value_counts().items()) == [("rest", 400), ("shadow", 400)]
    # the holdout path sees each labelled request once, not once per version that scored it
    champion = Model.load(reg.get("churn", 1).path)
    assert len(labelled_rows(reg, "churn", champion).actual) == 400

    decision = retrain(reg, "churn", shadow="churn@challenger", settings=policy(), actor="ops")

    assert decision.decision == "promoted", decision.reason
    assert (decision.champion, decision.challenger) == (1, 2)
    assert reg.get("churn", "production").version == 2
    assert len(reg.versions("churn")) == 2  # nothing was trained
    assert decision.holdout_rows == 400 and decision.data["shared"] == 400
    assert decision.data["compare"] == "shadow" and decision.data["shadow"] == "churn@challenger"
    evidence = decision.evidence
    assert evidence is not None and evidence["metric"] == "roc_auc"
    assert evidence["difference"] > 0 and evidence["p_value"] < 0.05
    assert "400 labelled requests both versions scored live" in decision.reason
    events = reg.history("churn")
    assert [e.action for e in events[-2:]] == ["promote", "retrain"]
    assert events[-1].actor == "ops" and events[-1].version == 2
    details = events[-1].details or {}
    assert details["decision"] == "promoted" and details["evidence"] == evidence
    last = max(logged.loc[logged["request_id"].isin(ids), "at"])
    assert datetime.fromisoformat(details["feedback_until"]) == last.to_pydatetime()

    # the shadow alias now names the champion itself: nothing to compare
    again = retrain(reg, "churn", shadow="challenger", settings=policy())
    assert again.decision == "skipped" and "the champion itself" in again.reason
    reg.close()


def log_pair(reg: Registry, twin: Model, rows: pd.DataFrame, *, prefix: str) -> None:
    """Log ``rows`` as answered by version 1 and shadowed by version 2 (the same predictor), and
    label them."""
    inputs = rows.drop(columns=["y"])
    proba = twin.predict_proba(inputs).to_numpy()
    at = datetime.now(UTC)
    made = [
        LoggedRow(
            f"{prefix}-{i}",
            at + timedelta(milliseconds=i),
            {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()},
            None,
            [float(v) for v in p],
        )
        for i, (record, p) in enumerate(zip(inputs.to_dict("records"), proba, strict=True))
    ]
    for source, version in (("rest", 1), ("shadow", 2)):
        with PredictionLog(reg, "churn", source=source, flush_interval=0.05) as plog:
            assert plog.submit(version, made) and plog.flush()
    reg.operations.add_labels("churn", [r.request_id for r in made], rows["y"])


def test_an_equal_shadow_is_kept_and_each_decision_judges_new_requests(
    champion_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    champion = Model.load(champion_dir)
    twin = copy.copy(champion)
    twin.threshold_ = 0.3  # another version, the same probabilities
    reg = open_registry(tmp_path / "reg")
    reg.register(champion_dir, "churn", alias="production")
    reg.register(twin.save(tmp_path / "twin"), "churn", alias="challenger")
    log_pair(reg, champion, make_rows(150, seed=3), prefix="a")

    few = retrain(reg, "churn", shadow="churn@challenger", settings=policy(min_holdout_rows=200))
    assert few.decision == "skipped" and few.error is None
    assert "needs at least 200" in few.reason and "there are 150" in few.reason
    reg.close()

    args = ["retrain", "churn", "--shadow", "churn@challenger", "--registry", str(tmp_path / "reg")]
    code, out, _ = run([*args, "--json"], capsys)
    assert code == 0
    kept = json.loads(out)
    assert kept["decision"] == "kept", kept["reason"]
    assert kept["reason"].startswith("kept version 1: the challenger is not better")
    assert kept["challenger"] == 2 and kept["holdout_rows"] == 150
    assert kept["evidence"]["method"] == "paired_bootstrap"
    assert kept["evidence"]["difference"] == 0

    # the same requests never judge the same shadow twice; [retrain] compare = "shadow" is the
    # same as --shadow
    reg = open_registry(tmp_path / "reg")
    settings = policy(compare="shadow", shadow="challenger")
    again = retrain(reg, "churn", settings=settings)
    assert again.decision == "skipped" and "there are 0" in again.reason
    assert "after the last decision" in again.reason
    log_pair(reg, champion, make_rows(120, seed=4), prefix="b")
    fresh = retrain(reg, "churn", settings=settings)
    assert fresh.decision == "kept" and fresh.holdout_rows == 120
    assert [d["decision"] for d in retrain_events(reg)] == ["skipped", "kept", "skipped", "kept"]

    wrong = retrain(reg, "churn", shadow="other@challenger", settings=policy())
    assert wrong.decision == "skipped" and "not a version of 'churn'" in (wrong.error or "")
    reg.close()
    code, out, _ = run([*args[:3], "other@x", *args[4:], "--json"], capsys)
    assert code == 1 and "not a version of 'churn'" in json.loads(out)["error"]
