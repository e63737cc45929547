"""The prediction log of the REST server: a real server, a real SQLite registry in tmp_path."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from .conftest import ADMIN, KEYS, read_log, records


def test_predictions_land_in_the_log_with_their_ids_inputs_and_probabilities(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    client, _ = make_logged_client()
    rows = records(test_rows.head(3))
    answers = [client.post("/predict", json={"rows": rows})]
    split = test_rows.iloc[3:5]
    answers.append(
        client.post(
            "/predict",
            json={
                "dataframe_split": {"columns": list(split.columns), "data": split.values.tolist()}
            },
        )
    )
    csv = test_rows.iloc[5:9].to_csv(index=False)
    answers.append(client.post("/predict", content=csv, headers={"Content-Type": "text/csv"}))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    client.__exit__(None, None, None)  # a graceful shutdown writes what is buffered

    window = read_log(registry_dir)
    logged = window.rows.set_index("request_id")
    sent = {rid: a.json() for a in answers for rid in a.json()["request_ids"]}
    assert set(logged.index) == set(sent) and len(logged) == 9
    assert set(logged["version"]) == {1} and set(logged["source"]) == {"rest"}
    for answer in answers:
        body = answer.json()
        for i, rid in enumerate(body["request_ids"]):
            assert rid == f"{answer.headers['x-request-id']}-{i}"
            assert logged.loc[rid, "prediction"] == body["predictions"][i]
            assert logged.loc[rid, "probabilities"] == list(body["probabilities"][i].values())
    inputs = window.inputs.set_index(window.rows["request_id"])
    first = answers[0].json()["request_ids"][0]
    assert inputs.loc[first, "Contract"] == rows[0]["Contract"]
    assert inputs.loc[first, "tenure"] == rows[0]["tenure"]
    from_split = answers[1].json()["request_ids"][1]
    assert inputs.loc[from_split, "PaymentMethod"] == split.iloc[1]["PaymentMethod"]
    from_csv = answers[2].json()["request_ids"][3]
    as_text = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False).iloc[3]
    assert inputs.loc[from_csv, "MonthlyCharges"] == as_text["MonthlyCharges"]  # as received


def test_rejected_rows_are_logged_with_their_reason(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    client, _ = make_logged_client()
    rows = records(test_rows.head(3))
    rows[1]["tenure"] = "twelve"
    answer = client.post("/predict", json={"dataframe_records": rows}).json()
    assert answer["rejects"][0]["row"] == 1
    client.__exit__(None, None, None)
    logged = read_log(registry_dir).rows.set_index("request_id")
    bad = logged.loc[answer["request_ids"][1]]
    assert "twelve" in bad["rejected"] and pd.isna(bad["prediction"])
    assert not isinstance(bad["probabilities"], list)
    good = logged.loc[answer["request_ids"][0]]
    assert pd.isna(good["rejected"]) and good["prediction"] in ("No", "Yes")


def test_graceful_shutdown_writes_the_buffer(
    make_logged_client, registry_dir: Path, test_rows: pd.DataFrame
):
    # a buffer that would not be written for a minute: only the shutdown writes it
    client, logger = make_logged_client(flush_interval=60, buffer_rows=10_000)
    for _ in range(5):
        assert client.post("/predict", json={"rows": records(test_rows.head(2))}).status_code == 200
    assert len(read_log(registry_dir)) == 0
    health = client.get("/health").json()["prediction_log"]
    assert health["queued"] == 10 and health["written"] == 0 and health["buffer_rows"] == 10_000
    assert "last_error" not in health  # it may quote logged inputs; /health is public
    client.__exit__(None, None, None)
    assert len(read_log(registry_dir)) == 10
    assert logger.stats()["written"] == 10 and logger.stats()["queued"] == 0


def test_log_counters_in_metrics(make_logged_client, test_rows: pd.DataFrame):
    client, logger = make_logged_client(keys=KEYS)
    body = {"rows": records(test_rows.head(4))}
    assert client.post("/predict", json=body, headers=ADMIN).status_code == 200
    assert logger.flush()
    text = client.get("/metrics", headers=ADMIN).text
    assert "mlwright_prediction_log_rows_written_total 4.0" in text
    assert "mlwright_prediction_log_rows_dropped_total 0.0" in text
    assert "mlwright_prediction_log_rows_queued 0.0" in text


def test_a_server_without_a_log_answers_feedback_and_monitoring_with_409(client, test_rows):
    assert client.get("/health").json()["prediction_log"] is None
    answer = client.post("/feedback", json={"request_id": "x-0", "actual": "Yes"})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "no_prediction_log" and "--log-as" in error["hint"]
    assert client.get("/monitoring").status_code == 409
