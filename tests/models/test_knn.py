"""k-nearest neighbours: matches scikit-learn, keeps every class column, saves as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from mlwright.models.knn import KNNLearner


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.7, 0.7])


@pytest.mark.parametrize("params", KNNLearner.portfolio("multiclass"))
def test_probabilities_match_sklearn(params: dict[str, object]) -> None:
    X, y = _data()
    X_new, _ = _data(seed=1)
    proba = KNNLearner("multiclass", 3, params).fit(X, y).predict(X_new)
    reference = KNeighborsClassifier(**params).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(proba, reference.predict_proba(X_new.astype(np.float32)))


def test_regression_matches_sklearn() -> None:
    X, _ = _data()
    y = 2 * X[:, 0] + X[:, 1]
    pred = KNNLearner("regression", 0, {"n_neighbors": 15, "weights": "distance"}).fit(X, y)
    reference = KNeighborsRegressor(n_neighbors=15, weights="distance").fit(X.astype(np.float32), y)
    X_new, _ = _data(seed=1)
    np.testing.assert_allclose(pred.predict(X_new), reference.predict(X_new.astype(np.float32)))


def test_fold_missing_a_class_keeps_every_column() -> None:
    X, y = _data()
    keep = y != 1
    proba = KNNLearner("multiclass", 3, {"n_neighbors": 5}).fit(X[keep], y[keep]).predict(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_more_neighbours_than_rows_uses_all_rows() -> None:
    X, y = _data(n=10)
    proba = KNNLearner("multiclass", 3, {"n_neighbors": 50, "weights": "uniform"}).fit(X, y)
    expected = np.bincount(y, minlength=3) / 10
    np.testing.assert_allclose(proba.predict(X[:2]), np.tile(expected, (2, 1)))


def test_stored_rows_are_a_seeded_subsample() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60_000, 2))
    y = (X[:, 0] > 0).astype(int)
    a = KNNLearner("binary", 2, seed=1).fit(X, y)
    b = KNNLearner("binary", 2, seed=1).fit(X, y)
    assert a.X_train_.shape == (50_000, 2) and a.X_train_.dtype == np.float32
    np.testing.assert_array_equal(a.X_train_, b.X_train_)
    assert not np.array_equal(a.X_train_, KNNLearner("binary", 2, seed=2).fit(X, y).X_train_)


def test_save_load_is_data_only_and_predicts_the_same(tmp_path: Path) -> None:
    X, y = _data()
    learner = KNNLearner("multiclass", 3, {"n_neighbors": 15, "weights": "distance"}).fit(X, y)
    learner.save(tmp_path)
    assert {p.suffix for p in tmp_path.iterdir()} == {".npy", ".json"}
    loaded = KNNLearner.load(tmp_path, "multiclass", 3)
    np.testing.assert_array_equal(loaded.predict(X), learner.predict(X))


def test_estimate_cost_grows_with_rows() -> None:
    small = KNNLearner.estimate_cost("binary", 1000, 10, 2, {})
    big = KNNLearner.estimate_cost("binary", 100_000, 10, 2, {})
    assert 0 < small[0] < big[0] and 0 < small[1] < big[1]
