"""POST /feedback and GET /monitoring against a server that logs to a real registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .conftest import ADMIN, AUTH, KEYS, read_log, records


def test_feedback_joins_labels_to_logged_predictions(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    client, logger = make_logged_client()
    answer = client.post("/predict", json={"rows": records(test_rows.head(4))}).json()
    ids = answer["request_ids"]
    assert logger.flush()
    labels = [
        {"request_id": ids[0], "actual": "Yes"},
        {"request_id": ids[1], "actual": "No"},
        {"request_id": "never-predicted-0", "actual": "No"},
        {"request_id": ids[2]},  # no actual: reported, the others stored
        {"request_id": ids[3], "actual": {"value": "No"}},
    ]
    reply = client.post("/feedback", json={"labels": labels})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["received"], body["stored"], body["matched"], body["unmatched"]) == (5, 3, 2, 1)
    assert body["unmatched_request_ids"] == ["never-predicted-0"] and "join" in body["note"]
    assert [(bad["row"], bad["reason"]) for bad in body["invalid"]] == [
        (3, "actual is missing"),
        (4, "actual must be text, a number or true/false, got dict"),
    ]
    one = client.post("/feedback", json={"request_id": ids[2], "actual": "Yes"}).json()
    assert (one["received"], one["matched"], one["invalid"]) == (1, 1, [])
    client.__exit__(None, None, None)
    logged = read_log(registry_dir).rows.set_index("request_id")
    assert logged.loc[ids[0], "actual"] == "Yes" and logged.loc[ids[2], "actual"] == "Yes"
    assert bool(logged.loc[ids[1], "labelled"]) and not bool(logged.loc[ids[3], "labelled"])


def test_malformed_feedback_is_422_with_a_message_per_field(make_logged_client):
    client, _ = make_logged_client()
    cases = {
        b'{"labels": []}': ["labels"],
        b'{"labels": [{"actual": "No"}], "extra": 1}': ["extra"],
        b'{"labels": [{"request_id": "", "actual": "No"}, 5]}': ["labels", 0],
        b'{"rows": [1]}': None,
        b"[1, 2]": None,
    }
    for body, first_loc in cases.items():
        reply = client.post("/feedback", content=body, headers={"Content-Type": "application/json"})
        assert reply.status_code == 422, (body, reply.text)
        error = reply.json()["error"]
        assert error["code"] == "invalid_feedback" and "request_id" in error["expected"]
        if first_loc is not None:
            assert error["fields"][0]["loc"] == first_loc, error
    empty_and_five = client.post(
        "/feedback", json={"labels": [{"request_id": "", "actual": "No"}, 5]}
    ).json()["error"]
    assert [f["message"] for f in empty_and_five["fields"]] == [
        "request_id must be 1-120 characters, got 0",
        "expected an object with request_id and actual, got int",
    ]
    broken = client.post("/feedback", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


def test_feedback_needs_a_predict_key_and_monitoring_an_admin_key(make_logged_client, test_rows):
    client, _ = make_logged_client(keys=KEYS)
    label = {"request_id": "a-0", "actual": "No"}
    assert client.post("/feedback", json=label).status_code == 401
    assert client.post("/feedback", json=label, headers=AUTH).status_code == 200
    assert client.get("/monitoring").status_code == 401
    assert client.get("/monitoring", headers=AUTH).status_code == 403
    assert client.get("/monitoring", headers=ADMIN).status_code != 403
    document = client.get("/openapi.json", headers=AUTH).json()
    body = document["paths"]["/feedback"]["post"]["requestBody"]["content"]
    assert "application/json" in body
    assert document["paths"]["/monitoring"]["get"]["security"] == [{"bearer": []}]


def test_monitoring_judges_the_logged_predictions(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    client, logger = make_logged_client()
    for start in range(0, 40, 10):
        rows = records(test_rows.iloc[start : start + 10])
        assert client.post("/predict", json={"rows": rows}).status_code == 200
    assert logger.flush()
    reply = client.get("/monitoring", params={"since": "1h"})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["status"] in ("ok", "warning", "alert") and report["rows"] == 40
    assert {f["name"] for f in report["features"]} >= {"tenure", "Contract"}
    ops = logger.registry.operations
    assert ops.monitor_runs(logger.name) == []  # a plain GET only reads
    stored = client.get("/monitoring", params={"since": "1h", "window": "30m", "store": "true"})
    assert stored.status_code == 200, stored.text
    filled = [w for w in stored.json()["windows"] if w["rows"]]  # empty windows are not kept
    assert len(ops.monitor_runs(logger.name)) == len(filled) >= 1
    assert client.get("/monitoring", params={"store": "maybe"}).status_code == 422
    bad = client.get("/monitoring", params={"since": "yesterday-ish"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_query"
    unknown = client.get("/monitoring", params={"sinse": "1h"})
    assert unknown.status_code == 422 and "sinse" in unknown.json()["error"]["message"]
