"""The tabular MLP: embeddings learn categories, odd inputs stay valid, and a saved model
predicts without torch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from mlwright.models.mlp import MLPLearner  # noqa: E402

FAST = {"lr": 0.01, "hidden": 64, "layers": 2, "dropout": 0.0, "embedding_dim": 4}


def _categorical_task(n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """The class is a function of a 12-level category alone; one number carries noise."""
    rng = np.random.default_rng(0)
    city = rng.integers(0, 12, n).astype(float)
    noise = rng.normal(size=n)
    noise[rng.uniform(size=n) < 0.1] = np.nan
    y = (city % 3).astype(int)
    return np.column_stack([city, noise]), y


def test_embeddings_learn_a_categorical_signal():
    X, y = _categorical_task()
    learner = MLPLearner("multiclass", 3, FAST, seed=0).fit(
        X[:1000], y[:1000], X_val=X[1000:], y_val=y[1000:], categorical=[0]
    )
    accuracy = (learner.predict(X[1000:]).argmax(axis=1) == y[1000:]).mean()
    assert accuracy > 0.95
    assert learner.fitted_params()["epochs"] < 300  # early stopping worked


def test_unseen_categories_missing_values_and_extremes_give_valid_output():
    X, y = _categorical_task()
    learner = MLPLearner("multiclass", 3, FAST, seed=0).fit(X, y, categorical=[0])
    odd = np.array([[99.0, 0.0], [np.nan, np.nan], [3.0, 1e12], [3.0, -1e12]])
    proba = learner.predict(odd)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_saved_model_predicts_without_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    X, y = _categorical_task(400)
    target = y + 0.5 * np.nan_to_num(X[:, 1])
    learner = MLPLearner("regression", 0, FAST, seed=1).fit(X, target, categorical=[0])
    learner.save(tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    loaded = MLPLearner.load(tmp_path, "regression", 0)
    np.testing.assert_array_equal(loaded.predict(X), learner.predict(X))
    assert np.corrcoef(loaded.predict(X), target)[0, 1] > 0.9
