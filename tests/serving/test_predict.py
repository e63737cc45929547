"""POST /predict in every payload shape, with per-row rejects, validation errors and limits."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlwright

from .conftest import records


def _check_answer(doc: dict[str, Any], n: int) -> None:
    assert len(doc["predictions"]) == len(doc["probabilities"]) == len(doc["request_ids"]) == n
    for proba in doc["probabilities"]:
        assert proba is None or (
            set(proba) == {"No", "Yes"} and abs(sum(proba.values()) - 1) < 1e-6
        )
    assert doc["model"] == {"name": "churn", "version": None}


def test_rows_match_model_score(client: TestClient, model_dir, test_rows: pd.DataFrame):
    response = client.post("/predict", json={"rows": records(test_rows)})
    assert response.status_code == 200, response.text
    doc = response.json()
    _check_answer(doc, len(test_rows))
    assert doc["rejects"] == []
    rid = response.headers["x-request-id"]
    assert doc["request_ids"][3] == f"{rid}-3"
    expected = mlwright.load(model_dir).score(test_rows)
    assert doc["predictions"] == expected.frame["prediction"].tolist()
    got = [p["Yes"] for p in doc["probabilities"]]
    assert got == pytest.approx(expected.frame["proba_Yes"].tolist(), abs=1e-9)


def test_mlflow_records_and_split(client: TestClient, test_rows: pd.DataFrame):
    rows = test_rows.head(5)
    base = client.post("/predict", json={"rows": records(rows)}).json()
    by_records = client.post("/predict", json={"dataframe_records": records(rows)})
    split = rows.astype(object).where(rows.notna(), None).to_dict(orient="split")
    by_split = client.post("/predict", json={"dataframe_split": split})
    assert by_records.status_code == by_split.status_code == 200, by_split.text
    assert by_records.json()["predictions"] == by_split.json()["predictions"] == base["predictions"]
    assert by_split.json()["probabilities"] == base["probabilities"]


def test_csv_and_parquet_bodies(client: TestClient, test_rows: pd.DataFrame):
    base = client.post("/predict", json={"rows": records(test_rows)}).json()
    csv = client.post(
        "/predict", content=test_rows.to_csv(index=False), headers={"Content-Type": "text/csv"}
    )
    assert csv.status_code == 200, csv.text
    assert csv.json()["predictions"] == base["predictions"]
    buffer = io.BytesIO()
    test_rows.to_parquet(buffer, index=False)
    for media in (
        "application/vnd.apache.parquet",
        "application/x-parquet",
        "application/octet-stream",
    ):
        parquet = client.post(
            "/predict", content=buffer.getvalue(), headers={"Content-Type": media}
        )
        assert parquet.status_code == 200, parquet.text
        assert parquet.json()["predictions"] == base["predictions"]


def test_unusable_rows_are_reported_per_row(client: TestClient, test_rows: pd.DataFrame):
    rows = records(test_rows.head(3))
    rows[1]["SeniorCitizen"] = "maybe"
    rows[2]["tenure"] = "twelve"
    doc = client.post("/predict", json={"rows": rows}).json()
    assert doc["predictions"][0] is not None and doc["probabilities"][0] is not None
    assert doc["predictions"][1] is None and doc["probabilities"][1] is None
    reasons = {r["row"]: r["reason"] for r in doc["rejects"]}
    assert set(reasons) == {1, 2}
    assert "SeniorCitizen" in reasons[1] and "'maybe'" in reasons[1]
    assert "tenure" in reasons[2] and "'twelve' is not a number" in reasons[2]


def test_csv_rejects_are_reported_per_row(client: TestClient, test_rows: pd.DataFrame):
    frame = test_rows.head(3).astype(str)
    frame.loc[frame.index[0], "MonthlyCharges"] = "lots"
    doc = client.post(
        "/predict", content=frame.to_csv(index=False), headers={"Content-Type": "text/csv"}
    ).json()
    assert doc["predictions"][0] is None and doc["predictions"][1] is not None
    assert doc["rejects"][0]["row"] == 0 and "MonthlyCharges" in doc["rejects"][0]["reason"]


def test_validation_errors_name_each_field(client: TestClient, test_rows: pd.DataFrame):
    rows = records(test_rows.head(2))
    rows[0]["tenure"] = True
    rows[0]["nickname"] = "x"
    del rows[1]["Contract"]
    response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["expected"] and error["hint"]
    fields = {tuple(f["loc"]): f for f in error["fields"]}
    assert fields[("rows", 0, "tenure")]["type"] == "type_error"
    assert "expected a number" in fields[("rows", 0, "tenure")]["message"]
    assert fields[("rows", 0, "nickname")]["type"] == "unknown_column"
    assert fields[("rows", 1, "Contract")]["type"] == "missing"
    assert response.headers["x-request-id"] == error["request_id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"rows": []},
        {"rows": [1]},
        {"rows": [], "dataframe_records": []},
        {"rows": [{}], "params": {}},
        {"dataframe_split": {"columns": ["nope"], "data": [[1]]}},
        {"dataframe_split": {"columns": "gender", "data": []}},
        [1, 2],
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: Any):
    response = client.post("/predict", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] and error["expected"] and error["hint"]


def test_invalid_json_csv_and_parquet(client: TestClient):
    assert (
        client.post(
            "/predict", content=b"{nope", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    bad_csv = client.post("/predict", content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert bad_csv.status_code == 422 and bad_csv.json()["error"]["fields"]
    bad_parquet = client.post(
        "/predict", content=b"PAR1garbage", headers={"Content-Type": "application/x-parquet"}
    )
    assert bad_parquet.status_code == 422
    assert bad_parquet.json()["error"]["code"] == "invalid_parquet"


def test_unsupported_media_type_is_415(client: TestClient):
    response = client.post(
        "/predict", content=b"<rows/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    error = response.json()["error"]
    assert "application/xml" in error["message"] and "text/csv" in error["expected"]


def test_body_over_limit_is_413(make_client, model_dir, test_rows: pd.DataFrame):
    client = make_client(model_dir, max_body_mb=0.01)
    big = {"rows": records(test_rows) * 3}
    response = client.post("/predict", json=big)
    assert response.status_code == 413
    assert "--max-body-mb" in response.json()["error"]["hint"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b" " * 1024

    streamed = client.post(
        "/predict", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_client_request_id_is_kept(client: TestClient, test_rows: pd.DataFrame):
    response = client.post(
        "/predict", json={"rows": records(test_rows.head(2))}, headers={"X-Request-ID": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["request_ids"] == ["abc-123-0", "abc-123-1"]
    odd = client.get("/health", headers={"X-Request-ID": "no spaces <allowed>"})
    assert odd.headers["x-request-id"] != "no spaces <allowed>"


def test_metadata_and_openapi_describe_the_model(client: TestClient, trained):
    meta = client.get("/metadata").json()
    assert meta["task"] == "binary" and meta["classes"] == ["No", "Yes"]
    assert meta["model"]["name"] == "churn" and meta["metric"] == trained.metric_
    assert meta["metrics"][trained.metric_] is not None
    assert meta["input_schema"]["features"] == trained.schema_.feature_names
    document = client.get("/openapi.json").json()
    row = document["components"]["schemas"]["Row"]
    assert row["additionalProperties"] is False
    assert set(trained.schema_.feature_names) <= set(row["required"])
    assert {"type": "number"} in row["properties"]["tenure"]["anyOf"]
    assert row["properties"]["Contract"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv", "application/vnd.apache.parquet"} <= set(body)


def test_prediction_logger_receives_each_request(make_client, model_dir, test_rows):
    from mlwright.serving import FolderSource, PredictionRecord, ServingConfig, create_app

    got: list[PredictionRecord] = []

    class Recorder:
        def log(self, record: PredictionRecord) -> None:
            got.append(record)

    app = create_app(FolderSource(model_dir), ServingConfig(), prediction_logger=Recorder())
    with TestClient(app) as client:
        from .conftest import wait_ready

        wait_ready(client)
        response = client.post("/predict", json={"rows": records(test_rows.head(2))})
    assert len(got) == 1
    record = got[0]
    assert record.request_id == response.headers["x-request-id"]
    assert record.model_name == "churn" and record.model_digest
    assert record.outputs["predictions"] == response.json()["predictions"]
    assert len(record.inputs["rows"]) == 2


def test_app_can_be_started_again(model_dir, test_rows):
    from mlwright.serving import FolderSource, ServingConfig, create_app

    from .conftest import wait_ready

    app = create_app(FolderSource(model_dir), ServingConfig())
    for _ in range(2):
        with TestClient(app) as client:
            wait_ready(client)
            response = client.post("/predict", json={"rows": records(test_rows.head(2))})
            assert response.status_code == 200, response.text
