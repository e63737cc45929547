"""Shadow scoring: a real server logging to a real SQLite registry, with a second real version
of the model scoring every answered request silently."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlwright
from mlwright.model import Model
from mlwright.registry import open_registry
from mlwright.serving import RegistryPredictionLogger, RegistrySource, ServingConfig, create_app
from mlwright.serving.problems import ApiError
from mlwright.serving.rows import RowValidator
from mlwright.serving.scoring import LoadedModel
from mlwright.serving.shadow import _batch_for, _Job
from mlwright.serving.sources import ResolvedModel

from .conftest import read_log, records, save_with_threshold, wait_until
from .test_cli_serve import _run


def add_version(registry_dir: Path, folder: Path, alias: str) -> int:
    registry = open_registry(registry_dir)
    try:
        return registry.register(folder, "churn", alias=alias).version
    finally:
        registry.close()


def shadow_health(client: TestClient) -> dict[str, Any]:
    shadow: dict[str, Any] = client.get("/health").json()["shadow"]
    return shadow


def wait_shadow_loaded(client: TestClient) -> None:
    wait_until(lambda: shadow_health(client)["model"] is not None)


def flush_shadow(client: TestClient) -> None:
    shadow = client.app.state.server.shadow  # type: ignore[attr-defined]
    assert shadow.flush()


def test_shadow_predictions_are_logged_under_the_same_request_ids(
    make_logged_client,
    make_client,
    model_dir: Path,
    trained: Model,
    registry_dir: Path,
    test_rows: pd.DataFrame,
    tmp_path: Path,
):
    # version 2: the same predictor with threshold 0, so it answers "Yes" for every row
    add_version(registry_dir, save_with_threshold(trained, 0.0, tmp_path / "yes"), "challenger")
    client, logger = make_logged_client(shadow="churn@challenger")
    wait_shadow_loaded(client)
    assert shadow_health(client)["model"]["version"] == 2
    plain = make_client(model_dir)  # the same model, served without a shadow
    rows = records(test_rows.head(3))
    split = test_rows.iloc[3:5]
    csv = test_rows.iloc[5:9].to_csv(index=False)
    bodies: list[dict[str, Any]] = [
        {"json": {"rows": rows}},
        {
            "json": {
                "dataframe_split": {"columns": list(split.columns), "data": split.values.tolist()}
            }
        },
        {"content": csv, "headers": {"Content-Type": "text/csv"}},
    ]
    answers = [client.post("/predict", **body) for body in bodies]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    # the live answers are the served model's, exactly as without a shadow
    for answer, body in zip(answers, bodies, strict=True):
        alone = plain.post("/predict", **body).json()
        got = answer.json()
        assert got["predictions"] == alone["predictions"]
        assert got["probabilities"] == alone["probabilities"]
        assert got["model"] == {"name": "churn", "version": 1}
        assert set(got) == set(alone)
    flush_shadow(client)
    assert logger.flush()
    health = shadow_health(client)
    assert (health["rows_scored"], health["rows_dropped"], health["failures"]) == (9, 0, 0)
    assert health["prediction_log"]["written"] == 9 and "last_error" not in health
    metrics = client.get("/metrics").text
    assert "mlwright_shadow_rows_scored_total 9.0" in metrics
    assert "mlwright_shadow_model_info{digest=" in metrics and 'version="2"' in metrics
    # monitoring judges the served version's rows only
    assert client.get("/monitoring").json()["rows_logged"] == 9
    client.__exit__(None, None, None)

    window = read_log(registry_dir)
    logged = window.rows
    live = logged[logged["source"] == "rest"].set_index("request_id")
    shadow = logged[logged["source"] == "shadow"].set_index("request_id")
    sent = [rid for a in answers for rid in a.json()["request_ids"]]
    assert sorted(live.index) == sorted(shadow.index) == sorted(sent)
    assert set(live["version"]) == {1} and set(shadow["version"]) == {2}
    assert set(shadow["prediction"]) == {"Yes"}  # the shadow's own answers, logged only
    for rid in sent:
        assert shadow.loc[rid, "probabilities"] == live.loc[rid, "probabilities"]
        assert shadow.loc[rid, "at"] == live.loc[rid, "at"]
    inputs = window.inputs.set_index(logged["request_id"])
    both = inputs.loc[sent[0]]
    assert both.iloc[0]["Contract"] == both.iloc[1]["Contract"] == rows[0]["Contract"]


def test_a_shadow_that_fails_to_load_does_not_hurt_serving(
    make_logged_client, trained: Model, registry_dir: Path, test_rows: pd.DataFrame, tmp_path
):
    folder = save_with_threshold(trained, 0.0, tmp_path / "yes")
    version = add_version(registry_dir, folder, "challenger")
    registry = open_registry(registry_dir)
    stored = Path(registry.get("churn", version).path)
    registry.close()
    victim = next(p for p in sorted(stored.rglob("*")) if p.is_file() and p.stat().st_size > 0)
    victim.write_bytes(victim.read_bytes() + b"tampered")  # its digest no longer matches

    client, _ = make_logged_client(shadow="churn@challenger")
    wait_until(lambda: shadow_health(client)["last_load_failure"] is not None)
    health = shadow_health(client)
    assert health["model"] is None and health["source"] == "churn@challenger"
    assert client.get("/health").json()["model"]["version"] == 1
    answer = client.post("/predict", json={"rows": records(test_rows.head(4))})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 4
    flush_shadow(client)
    assert shadow_health(client)["rows_skipped"] == {"no shadow model loaded": 4}
    assert "mlwright_shadow_model_reload_failures_total 1.0" in client.get("/metrics").text
    client.__exit__(None, None, None)
    assert set(read_log(registry_dir).rows["source"]) == {"rest"}


def test_a_shadow_of_the_served_version_scores_nothing(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    client, _ = make_logged_client(shadow="churn@1")  # the version production serves
    wait_shadow_loaded(client)
    assert client.post("/predict", json={"rows": records(test_rows.head(2))}).status_code == 200
    flush_shadow(client)
    assert shadow_health(client)["rows_skipped"] == {"the shadow is the version served": 2}
    client.__exit__(None, None, None)
    assert set(read_log(registry_dir).rows["source"]) == {"rest"}


def test_a_full_shadow_queue_drops_shadow_work_not_requests(
    make_logged_client, trained: Model, registry_dir: Path, test_rows: pd.DataFrame, tmp_path
):
    add_version(registry_dir, save_with_threshold(trained, 0.0, tmp_path / "yes"), "challenger")
    client, _ = make_logged_client(shadow="churn@challenger", shadow_max_queued_rows=2)
    wait_shadow_loaded(client)
    answer = client.post("/predict", json={"rows": records(test_rows.head(3))})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3
    assert client.post("/predict", json={"rows": records(test_rows.head(1))}).status_code == 200
    flush_shadow(client)
    health = shadow_health(client)
    assert (health["rows_dropped"], health["rows_scored"]) == (3, 1)
    assert "mlwright_shadow_rows_dropped_total 3.0" in client.get("/metrics").text


def test_shadow_setup_errors_are_clear(
    registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["serve", "churn@production", "--registry", str(registry_dir), "--no-auth"]
    code, err = _run([*args, "--no-log", "--shadow", "churn@challenger"], capsys)
    assert code == 1 and "--shadow churn@challenger needs the prediction log" in err
    source = RegistrySource("churn@production", str(registry_dir))
    try:
        with pytest.raises(mlwright.ConfigError, match="needs the prediction log"):
            create_app(source, ServingConfig(shadow="churn@challenger"))
        logger = RegistryPredictionLogger(source.registry, "churn")
        with pytest.raises(mlwright.ConfigError, match="is not a version of 'churn'"):
            create_app(source, ServingConfig(shadow="other@challenger"), prediction_logger=logger)
        with pytest.raises(mlwright.ConfigError, match="shadow_max_queued_rows"):
            ServingConfig(shadow="churn@2", shadow_max_queued_rows=0)
    finally:
        source.registry.close()


def test_rows_that_do_not_fit_the_shadow_schema_are_refused_for_it(
    trained: Model, test_rows: pd.DataFrame
) -> None:
    """A shadow with other columns checks the request anew, as if it had been asked."""
    ref = ResolvedModel("churn", 1, Path("."), "0" * 64)
    live = LoadedModel(ref, trained, RowValidator(trained.schema_))
    narrower = copy.deepcopy(trained)
    narrower.schema_.columns = [c for c in narrower.schema_.columns if c.name != "gender"]
    shadow = LoadedModel(ref, narrower, RowValidator(narrower.schema_))
    batch = live.validator.parse_json(orjson.dumps({"rows": records(test_rows.head(2))}))
    job = _Job(["r-0", "r-1"], time.time(), live, batch)
    with pytest.raises(ApiError, match="unknown column 'gender'"):
        _batch_for(shadow, job)
    assert _batch_for(live, job) is batch  # the same schema: the checked rows are reused
