"""Per-prediction explanations: Shapley values that add up to the model's own predictions."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.errors import MlwrightWarning
from mlwright.evaluation.explain import shapley_values
from mlwright.model import Model

from .conftest import EXAMPLE

TOLERANCE = 1e-9


def _train(target: str, rows: int = 1200) -> Model:
    df = pd.read_csv(EXAMPLE / "train.csv", dtype=str, keep_default_na=False).head(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        return mlwright.train(df, target=target, time_limit=5, preset="fast")


@pytest.fixture(scope="module")
def churn() -> Model:
    return _train("Churn")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE / "test.csv").drop(columns=["Churn"]).head(8)


def _additive_gap(explanation) -> float:
    total = explanation.base + explanation.values.sum(axis=1)
    return float((total - explanation.prediction).abs().max())


# -- the estimator, on functions whose Shapley values are known -------------------------------
def test_exact_values_for_few_columns():
    rows = pd.DataFrame({"a": [1.0, 3.0], "b": [2.0, -1.0], "c": [5.0, 4.0]})
    baseline = pd.DataFrame({"a": [0.0], "b": [0.0], "c": [0.0]})

    def f(frame: pd.DataFrame) -> np.ndarray:
        return (2 * frame["a"] + frame["b"] * frame["c"]).to_numpy()[:, None]

    phi, base, pred, errors, method = shapley_values(f, rows, baseline)
    assert method.startswith("exact")
    # 2a is a's alone; the product b*c is shared equally between b and c
    expected = np.array([[2.0, 5.0, 5.0], [6.0, -2.0, -2.0]])
    np.testing.assert_allclose(phi[:, :, 0], expected)
    np.testing.assert_allclose(base, [0.0])
    np.testing.assert_allclose(base + phi.sum(axis=1), pred)
    assert not errors.any()


def test_sampled_values_are_exact_for_an_additive_function_and_always_add_up():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.normal(size=(4, 7)), columns=list("abcdefg"))
    background = pd.DataFrame(rng.normal(size=(5, 7)), columns=list("abcdefg"))
    weights = np.arange(1.0, 8.0)

    def additive(frame: pd.DataFrame) -> np.ndarray:
        return frame.to_numpy() @ weights

    phi, base, pred, errors, method = shapley_values(additive, rows, background, seed=3)
    assert method.startswith("permutation")  # 7! orderings > 64
    used = background.iloc[np.arange(32) % 5]  # each antithetic pair starts from one row
    expected = (rows.to_numpy() - used.to_numpy().mean(axis=0)) * weights
    np.testing.assert_allclose(phi[:, :, 0], expected, atol=1e-12)

    def interacting(frame: pd.DataFrame) -> np.ndarray:
        x = frame.to_numpy()
        return np.stack([np.tanh(x[:, 0] * x[:, 1]) + x[:, 2] ** 2, x.max(axis=1)], axis=1)

    phi, base, pred, errors, _ = shapley_values(interacting, rows, background, seed=3)
    np.testing.assert_allclose(base + phi.sum(axis=1), pred, atol=TOLERANCE)
    np.testing.assert_allclose(pred, interacting(rows))
    assert errors.max() > 0


# -- Model.explain ------------------------------------------------------------------------------
def test_binary_explains_the_positive_class_probability(churn: Model, rows: pd.DataFrame):
    explanation = churn.explain(rows)
    assert explanation.outputs == ["Yes"] and explanation.unit == "probability"
    assert list(explanation.values.columns) == churn.schema_.feature_names  # input columns
    assert list(explanation.values.index) == list(rows.index)
    proba = churn.predict_proba(rows)["Yes"]
    np.testing.assert_allclose(explanation.prediction, proba, atol=TOLERANCE)
    assert _additive_gap(explanation) < TOLERANCE
    assert "baseline" in explanation.method and explanation.background_rows == 1
    assert explanation.labels == list(churn.predict(rows))
    # the same call gives the same values
    again = churn.explain(rows)
    pd.testing.assert_frame_equal(explanation.values, again.values)


def test_background_rows_and_the_json_form(churn: Model, rows: pd.DataFrame):
    background = pd.read_csv(EXAMPLE / "train.csv").head(200)
    explanation = churn.explain(rows, background=background, n_permutations=32)
    assert explanation.background_rows == 16
    assert "interventional" in explanation.method
    assert _additive_gap(explanation) < TOLERANCE
    document = explanation.to_dict(top=3)
    first = document["rows"][0]["explained"][0]
    shown = [c["contribution"] for c in first["contributions"]]
    assert len(shown) == 3 and shown == sorted(shown, key=abs, reverse=True)
    assert first["base"] + sum(shown) + first["rest"] == pytest.approx(first["prediction"])
    assert {"column", "value", "contribution", "standard_error"} <= set(first["contributions"][0])


def test_unusable_rows_are_set_aside_with_reasons(churn: Model, rows: pd.DataFrame):
    bad = rows.copy()
    bad["tenure"] = bad["tenure"].astype(object)
    bad.loc[bad.index[1], "tenure"] = "forever"
    with pytest.warns(MlwrightWarning, match="could not be scored"):
        explanation = churn.explain(bad)
    assert len(explanation.values) == len(rows) - 1
    assert list(explanation.rejects["_row"]) == [1]
    assert explanation.to_dict()["rejects"][0]["row"] == 1


def test_a_saved_model_explains_the_same(churn: Model, rows: pd.DataFrame, tmp_path: Path):
    loaded = mlwright.load(churn.save(tmp_path / "churn"))
    pd.testing.assert_frame_equal(churn.explain(rows).values, loaded.explain(rows).values)


def test_multiclass_explains_every_class():
    model = _train("Contract", rows=900)
    rows = pd.read_csv(EXAMPLE / "test.csv").drop(columns=["Contract"]).head(5)
    explanation = model.explain(rows)
    assert explanation.outputs == [str(c) for c in model.classes_ or []]
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(explanation.prediction.to_numpy(), proba.to_numpy(), atol=1e-9)
    for output in explanation.outputs:
        frame = explanation.frame(output)
        total = explanation.base[output] + frame.sum(axis=1)
        np.testing.assert_allclose(total, explanation.prediction[output], atol=TOLERANCE)
    # the attributions of one column across the classes sum to zero (probabilities sum to 1)
    np.testing.assert_allclose(explanation.contributions.sum(axis=2), 0.0, atol=1e-9)


def test_regression_explains_the_value():
    model = _train("MonthlyCharges", rows=600)
    rows = pd.read_csv(EXAMPLE / "test.csv").drop(columns=["MonthlyCharges"]).head(5)
    explanation = model.explain(rows)
    assert explanation.unit == "value" and explanation.outputs == ["MonthlyCharges"]
    np.testing.assert_allclose(explanation.prediction, model.predict(rows), atol=1e-9)
    assert _additive_gap(explanation) < 1e-6
