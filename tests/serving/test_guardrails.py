"""Per-prediction guardrails: flag, default and review, in the answer, the metrics and the log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.serving import Guardrails
from mlwright.settings import GuardrailSettings, Settings

from .conftest import ADMIN, KEYS, read_log, records, wait_until


def _far_rows(test_rows: pd.DataFrame) -> list[dict]:
    """Four rows: 1 and 3 far outside the training data (a huge tenure, an unseen contract)."""
    rows = records(test_rows.head(4))
    rows[1]["tenure"] = 10_000
    rows[3]["Contract"] = "Lifetime"
    return rows


def test_guardrails_are_off_by_default(client, test_rows):
    answer = client.post("/predict", json={"rows": _far_rows(test_rows)}).json()
    assert "guardrails" not in answer


def test_out_of_range_inputs_are_routed_to_review_and_findable_in_the_log(
    make_logged_client, registry_dir: Path, test_rows
):
    rails = GuardrailSettings(out_of_range="review")
    client, _ = make_logged_client(guardrails=rails, keys=KEYS)
    answer = client.post("/predict", json={"rows": _far_rows(test_rows)}, headers=ADMIN).json()
    entries = answer["guardrails"]
    assert entries[0] is None and entries[2] is None
    assert entries[1]["out_of_range"] == "review" and entries[1]["review"] is True
    assert "'tenure' is 10000, far outside the training range" in entries[1]["reasons"][0]
    assert entries[3]["reasons"] == ["'Contract' is 'Lifetime', a category never seen in training"]
    csv = pd.DataFrame(_far_rows(test_rows)).to_csv(index=False)
    from_csv = client.post(
        "/predict", content=csv, headers={**ADMIN, "Content-Type": "text/csv"}
    ).json()
    assert [e is not None for e in from_csv["guardrails"]] == [False, True, False, True]
    metrics = client.get("/metrics", headers=ADMIN).text
    assert 'mlwright_guardrail_rows_total{action="review",rule="out_of_range"} 4.0' in metrics
    client.__exit__(None, None, None)
    logged = read_log(registry_dir).rows
    review = logged[logged["flags"].map(lambda f: isinstance(f, dict) and "review" in f.values())]
    assert sorted(review["request_id"]) == sorted(
        [answer["request_ids"][1], answer["request_ids"][3]]
        + [from_csv["request_ids"][1], from_csv["request_ids"][3]]
    )
    assert review["flags"].iloc[0] == {"out_of_range": "review"}


def test_low_confidence_is_flagged_or_replaced_by_the_default(
    make_logged_client, registry_dir: Path, test_rows
):
    # every probability is below 1: a threshold of 1 fires on every row
    rails = GuardrailSettings(
        low_confidence="default", low_confidence_threshold=1.0, default_prediction="Yes"
    )
    client, logger = make_logged_client(guardrails=rails)
    answer = client.post("/predict", json={"rows": records(test_rows.head(6))}).json()
    assert answer["predictions"] == ["Yes"] * 6
    entries = answer["guardrails"]
    assert all(e["low_confidence"] == "default" and "review" not in e for e in entries)
    assert {e["model_prediction"] for e in entries} <= {"No", "Yes"}
    assert "top class probability" in entries[0]["reasons"][0]
    client.__exit__(None, None, None)
    logged = read_log(registry_dir).rows.set_index("request_id")
    for rid, entry in zip(answer["request_ids"], entries, strict=True):
        # the log keeps the model's own answer, and says it was replaced
        assert logged.loc[rid, "prediction"] == entry["model_prediction"]
        assert logged.loc[rid, "flags"] == {"low_confidence": "default"}


def test_flag_keeps_the_prediction(make_client, model_dir, test_rows, client):
    plain = client.post("/predict", json={"rows": records(test_rows.head(5))}).json()
    rails = GuardrailSettings(low_confidence="flag", low_confidence_threshold=1.0)
    flagged = make_client(model_dir, guardrails=rails)
    answer = flagged.post("/predict", json={"rows": records(test_rows.head(5))}).json()
    assert answer["predictions"] == plain["predictions"]
    assert answer["guardrails"] == [
        {"low_confidence": "flag", "reasons": e["reasons"]} for e in answer["guardrails"]
    ]


def test_a_default_that_is_not_a_class_keeps_the_model_from_loading(make_client, model_dir):
    rails = GuardrailSettings(low_confidence="default", default_prediction="Maybe")
    client = make_client(model_dir, guardrails=rails, ready=False)
    wait_until(lambda: client.get("/health").json()["last_reload_failure"] is not None)
    failure = client.get("/health").json()["last_reload_failure"]
    assert "default_prediction 'Maybe' is not one of the model's classes" in failure["error"]
    assert client.get("/ready").status_code == 503


def test_rules_on_typed_rows(trained: Model):
    reference = trained.reference_
    assert reference is not None
    tenure = reference.feature("tenure")
    span = tenure.maximum - tenure.minimum
    rails = Guardrails.build(GuardrailSettings(out_of_range="flag", out_of_range_k=0.5), trained)
    assert rails is not None
    base = trained.schema_.feature_names
    frame = pd.DataFrame([{name: None for name in base}] * 4)
    frame["tenure"] = [
        tenure.maximum + 0.4 * span,  # within k = 0.5 ranges
        tenure.maximum + 0.6 * span,
        tenure.minimum - 0.6 * span,
        float("nan"),  # missing values are not out of range
    ]
    found = rails.check(frame, None, len(frame))
    assert [e is not None for e in found] == [False, True, True, False]
    assert Guardrails.build(GuardrailSettings(), trained) is None  # off: nothing to do at all
    with pytest.raises(ConfigError, match="guardrail low_confidence has action 'default'"):
        Settings().with_overrides(guardrails={"low_confidence": "default"})


def test_guardrail_entries_follow_their_rows_through_micro_batches():
    from mlwright.serving.scoring import Scored

    merged = Scored(["a", "b", "c"], None, {2: "bad"}, [None, {"low_confidence": "flag"}, None])
    first, second = merged.split([1, 2])
    assert first.guardrails == [None] and second.guardrails == [{"low_confidence": "flag"}, None]
    assert second.reasons == {1: "bad"}
