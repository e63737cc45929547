"""evaluate_predictions: metrics with intervals, confusion matrix, residuals, JSON and Rich."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from mlwright.errors import DataError
from mlwright.evaluation import Evaluation, evaluate_predictions, get_metric


def render(evaluation: Evaluation) -> str:
    console = Console(width=120, record=True)
    console.print(evaluation.to_rich())
    return console.export_text()


@pytest.fixture
def binary() -> Evaluation:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p1 = np.clip(0.4 * y + 0.6 * rng.random(300), 0, 1)
    pred = np.column_stack([1 - p1, p1])
    return evaluate_predictions(
        "binary", y, pred, primary="f1", classes=["No", "Yes"], threshold=0.4, n_boot=200
    )


def test_binary_evaluation(binary: Evaluation) -> None:
    names = [m.name for m in binary.metrics]
    assert names[0] == "f1" and "roc_auc" in names and len(names) == len(set(names))
    for m in binary.metrics:
        assert m.low <= m.value <= m.high
    assert binary["log_loss"].greater_is_better is False
    assert binary.threshold == 0.4 and binary.n_rows == 300
    assert binary.confusion is not None
    assert list(binary.confusion.index) == ["No", "Yes"]
    assert list(binary.confusion.columns) == ["No", "Yes"]
    assert int(binary.confusion.to_numpy().sum()) == 300
    # the confusion matrix is taken at the threshold: its accuracy is the reported accuracy
    assert np.trace(binary.confusion.to_numpy()) / 300 == pytest.approx(binary["accuracy"].value)
    with pytest.raises(KeyError, match="rmse"):
        binary["rmse"]


def test_to_dict_is_json_ready_and_round_trips(binary: Evaluation) -> None:
    document = binary.to_dict()
    text = json.dumps(document, allow_nan=False)
    back = Evaluation.from_dict(json.loads(text))
    assert back.to_dict() == document
    assert back.confusion is not None and binary.confusion is not None
    assert back.confusion.equals(binary.confusion)
    assert back["f1"] == binary["f1"]


def test_nan_and_numpy_values_serialise() -> None:
    y = np.zeros(20, dtype=int)  # one class: roc_auc is undefined
    pred = np.tile([0.7, 0.3], (20, 1))
    ev = evaluate_predictions(
        "binary", y, pred, primary="roc_auc", classes=[np.int64(0), np.int64(1)], n_boot=20
    )
    document = ev.to_dict()
    json.dumps(document, allow_nan=False)
    assert document["metrics"][0]["value"] is None and document["classes"] == [0, 1]
    assert document["threshold"] == 0.5
    assert np.isnan(Evaluation.from_dict(document)["roc_auc"].value)
    assert "n/a" in render(ev)


def test_multiclass_evaluation_has_confusion_and_no_threshold() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    pred = rng.dirichlet(np.ones(3), 200)
    ev = evaluate_predictions("multiclass", y, pred, primary="log_loss", n_boot=50)
    assert ev.threshold is None and ev.residuals is None
    assert ev.confusion is not None and ev.confusion.shape == (3, 3)
    assert np.array_equal(ev.confusion.to_numpy().sum(axis=1), np.bincount(y, minlength=3))
    assert [m.name for m in ev.metrics][0] == "log_loss"
    json.dumps(ev.to_dict(), allow_nan=False)


def test_regression_residuals() -> None:
    y = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    pred = np.array([11.0, 19.0, 30.0, 30.0, 52.0])
    ev = evaluate_predictions("regression", y, pred, primary="mae", n_boot=50)
    assert ev.confusion is None and ev.threshold is None and ev.residuals is not None
    r = ev.residuals
    assert r["mean"] == pytest.approx(np.mean(y - pred))
    assert r["mean_abs"] == pytest.approx(2.8) and r["max_abs"] == 10.0
    assert r["p50"] == 0.0 and r["within_10pct"] == pytest.approx(0.8)
    assert set(r) >= {"std", "p05", "p25", "p75", "p95"}
    assert ev["mae"].value == pytest.approx(get_metric("mae", "regression").score(y, pred))
    assert Evaluation.from_dict(json.loads(json.dumps(ev.to_dict()))).residuals == r


def test_rich_output_shows_intervals_threshold_and_tables(binary: Evaluation) -> None:
    text = render(binary)
    assert "95% CI" in text and "f1 (primary)" in text and "threshold" in text
    assert "confusion matrix" in text and "Yes" in text


def test_bad_inputs_are_data_errors() -> None:
    with pytest.raises(DataError, match="class labels"):
        evaluate_predictions("binary", np.array([0, 1]), np.eye(2), primary="f1", classes=["a"])
    with pytest.raises(DataError, match="no rows"):
        evaluate_predictions("regression", np.array([]), np.array([]), primary="rmse")
