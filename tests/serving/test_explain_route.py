"""POST /explain: attributions of the served model's predictions, in the same units."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from .conftest import AUTH, KEYS, records


def test_explain_json_rows_add_up_to_the_predictions(client: TestClient, test_rows):
    body = {"rows": records(test_rows.head(3))}
    explained = client.post("/explain?top=4", json=body)
    assert explained.status_code == 200, explained.text
    document = explained.json()
    predicted = client.post("/predict", json=body).json()
    assert document["outputs"] == ["Yes"] and document["unit"] == "probability"
    assert document["model"]["name"] and document["rejects"] == []
    assert [row["row"] for row in document["rows"]] == [0, 1, 2]
    for row, label, proba in zip(
        document["rows"], predicted["predictions"], predicted["probabilities"], strict=True
    ):
        entry = row["explained"][0]
        assert row["label"] == label
        assert entry["prediction"] == pytest.approx(proba["Yes"], abs=1e-9)
        shown = sum(c["contribution"] for c in entry["contributions"])
        assert len(entry["contributions"]) == 4
        assert entry["base"] + shown + entry["rest"] == pytest.approx(entry["prediction"])


def test_explain_reports_bad_rows_and_explains_the_rest(client: TestClient, test_rows):
    rows = records(test_rows.head(3))
    rows[1]["tenure"] = "forever"
    document = client.post("/explain", json={"rows": rows}).json()
    assert [row["row"] for row in document["rows"]] == [0, 2]
    assert document["rejects"][0]["row"] == 1 and "tenure" in document["rejects"][0]["reason"]


def test_explain_csv_body(client: TestClient, test_rows):
    body = test_rows.head(2).to_csv(index=False).encode()
    answer = client.post("/explain", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["rows"]) == 2


def test_explain_limits(client: TestClient, test_rows):
    many = pd.concat([test_rows] * 3, ignore_index=True)
    too_many = client.post("/explain", json={"rows": records(many)})
    assert too_many.status_code == 413 and "at most 100" in too_many.text
    bad_top = client.post("/explain?top=some", json={"rows": records(test_rows.head(1))})
    assert bad_top.status_code == 422


def test_explain_needs_a_predict_key(make_client, model_dir: Path, test_rows):
    secured = make_client(model_dir, keys=KEYS)
    body = {"rows": records(test_rows.head(1))}
    assert secured.post("/explain", json=body).status_code == 401
    assert secured.post("/explain", json=body, headers=AUTH).status_code == 200
