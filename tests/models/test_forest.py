"""Random forest and extra trees: the array predictor reproduces scikit-learn, saves as data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from mlwright.errors import ArtifactError
from mlwright.models import tree_arrays
from mlwright.models.forest import ExtraTreesLearner, RandomForestLearner
from mlwright.models.tree_arrays import export_trees, load_trees, predict_trees, save_trees

CLASSIFIERS = [RandomForestClassifier, ExtraTreesClassifier]
REGRESSORS = [RandomForestRegressor, ExtraTreesRegressor]
LEARNERS = [RandomForestLearner, ExtraTreesLearner]


def _data(n: int = 400, n_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ~10% NaN cells and a label depending on the first two columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    signal = X[:, 0] + 0.5 * X[:, 1]
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _trees(forest: Any) -> list[Any]:
    return [e.tree_ for e in forest.estimators_]


@pytest.mark.parametrize("forest_cls", CLASSIFIERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_arrays_reproduce_predict_proba_with_nan(forest_cls: Any, n_classes: int) -> None:
    X, y = _data(n_classes=n_classes)
    forest = forest_cls(n_estimators=15, min_samples_leaf=2, random_state=0).fit(X, y)
    arrays = export_trees(_trees(forest), n_classes, forest.classes_)
    X_new, _ = _data(n=300, n_classes=n_classes, seed=1)
    X_new[:5] = np.nan  # rows with every value missing
    assert np.isnan(X_new).any(axis=1).sum() > 100
    np.testing.assert_allclose(
        predict_trees(arrays, X_new), forest.predict_proba(X_new), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("compile_nodes", [1 << 19, 0])
def test_compiled_and_numpy_traversals_reproduce_sklearn(
    compile_nodes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a forest over the node limit (0 here) predicts with NumPy alone; few rows always do
    monkeypatch.setattr(tree_arrays, "_COMPILE_NODES", compile_nodes)
    X, y = _data()
    forest = ExtraTreesClassifier(n_estimators=15, random_state=0).fit(X, y)
    arrays = export_trees(_trees(forest), 3, forest.classes_)
    assert (arrays.compiled is not None) == (compile_nodes > 0)
    X_new, _ = _data(n=300, seed=1)
    for rows in (X_new[:3], X_new):
        np.testing.assert_allclose(
            predict_trees(arrays, rows), forest.predict_proba(rows), rtol=0, atol=1e-12
        )
    with pytest.raises(ValueError, match="at least 4 columns"):
        predict_trees(arrays, X_new[:, :3])


@pytest.mark.parametrize("forest_cls", REGRESSORS)
def test_arrays_reproduce_regression_predict_with_nan(forest_cls: Any) -> None:
    X, _ = _data()
    y = np.nan_to_num(X[:, 0]) * 3.0 + np.nan_to_num(X[:, 2])
    forest = forest_cls(n_estimators=15, random_state=0).fit(X, y)
    arrays = export_trees(_trees(forest), 1)
    X_new, _ = _data(n=300, seed=1)
    np.testing.assert_allclose(
        predict_trees(arrays, X_new)[:, 0], forest.predict(X_new), rtol=0, atol=1e-12
    )


def test_rows_exactly_at_thresholds_split_like_sklearn() -> None:
    # thresholds are float64 midpoints; float32 rounding must not flip rows sitting on them
    X, y = _data(n_classes=2)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    at = [
        (f, t)
        for tree in _trees(forest)
        for f, t in zip(tree.feature, tree.threshold, strict=True)
        if f >= 0 and np.isfinite(t)  # an infinite threshold splits off the missing
    ]
    X_new = np.tile(np.nanmedian(X, axis=0), (len(at), 1)).astype(np.float32)
    for i, (f, t) in enumerate(at):
        # the float32 values on and around the threshold
        X_new[i, f] = np.float32(t)
    X_new = np.vstack([X_new, np.nextafter(X_new, np.float32(np.inf))])
    arrays = export_trees(_trees(forest), 2, forest.classes_)
    np.testing.assert_allclose(
        predict_trees(arrays, X_new), forest.predict_proba(X_new), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("cls", LEARNERS)
def test_learner_matches_sklearn_forest_grown_in_one_go(cls: Any) -> None:
    # 120 trees grow as 50 + 50 + 20 with warm_start: the same forest as one fit
    X, y = _data()
    learner = cls("multiclass", 3, {"n_estimators": 120, "max_features": 0.5}, seed=7).fit(X, y)
    sk_cls = RandomForestClassifier if cls is RandomForestLearner else ExtraTreesClassifier
    forest = sk_cls(
        n_estimators=120,
        max_features=0.5,
        max_leaf_nodes=4096,
        bootstrap=True,
        oob_score=True,
        random_state=7,
    ).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(learner.predict(X), forest.predict_proba(X), rtol=0, atol=1e-12)
    assert learner.fitted_params()["n_estimators"] == 120
    # out-of-bag predictions are scikit-learn's, computed once after the last batch
    np.testing.assert_allclose(learner.oob_predictions(), forest.oob_decision_function_)


@pytest.mark.parametrize("cls", LEARNERS)
def test_out_of_bag_predictions_are_honest(cls: Any) -> None:
    """On pure noise, out-of-bag accuracy is chance, while accuracy on the bag is not."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 5))
    y = rng.integers(0, 2, 600)
    learner = cls("binary", 2, {"n_estimators": 100}, seed=1).fit(X, y)
    oob = learner.oob_predictions()
    assert oob.shape == (600, 2) and np.isfinite(oob).all()
    assert abs((oob.argmax(axis=1) == y).mean() - 0.5) < 0.08
    assert (learner.predict(X).argmax(axis=1) == y).mean() > 0.9


@pytest.mark.parametrize("cls", LEARNERS)
def test_fold_missing_a_class_keeps_every_column(cls: Any) -> None:
    X, y = _data(n_classes=4)
    keep = y != 2
    learner = cls("multiclass", 4, {"n_estimators": 10}).fit(X[keep], y[keep])
    proba = learner.predict(X)
    assert proba.shape == (len(X), 4)
    np.testing.assert_array_equal(proba[:, 2], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y)[keep].mean() > 0.7


@pytest.mark.parametrize("cls", LEARNERS)
def test_save_load_is_data_only_and_predicts_the_same(cls: Any, tmp_path: Path) -> None:
    X, _ = _data()
    y = np.exp(np.nan_to_num(X[:, 0]))  # positive: the log1p transform applies
    params = {"n_estimators": 20, "target_transform": "log1p"}
    learner = cls("regression", 0, params, seed=1).fit(X, y)
    assert learner.log_target_
    learner.save(tmp_path)
    assert {p.suffix for p in tmp_path.iterdir()} == {".npy", ".json"}
    for path in tmp_path.glob("*.npy"):
        np.load(path, allow_pickle=False)
    loaded = cls.load(tmp_path, "regression", 0)
    np.testing.assert_array_equal(loaded.predict(X), learner.predict(X))
    assert loaded.predict(X).min() > 0
    assert np.corrcoef(loaded.predict(X), y)[0, 1] > 0.9


def test_load_rejects_a_replaced_array(tmp_path: Path) -> None:
    X, y = _data(n_classes=2)
    forest = ExtraTreesClassifier(n_estimators=3, random_state=0).fit(X, y)
    save_trees(export_trees(_trees(forest), 2, forest.classes_), tmp_path)
    np.save(tmp_path / "threshold.npy", np.zeros(3), allow_pickle=False)
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        load_trees(tmp_path)
    header = json.loads((tmp_path / "trees.json").read_text(encoding="utf-8"))
    (tmp_path / "trees.json").write_text(json.dumps({**header, "format": "x"}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="expected"):
        load_trees(tmp_path)


def test_deadline_stops_between_batches() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 10))
    y = (X[:, 0] + rng.normal(size=5000) > 0).astype(int)
    start = time.monotonic()
    learner = RandomForestLearner("binary", 2, {"n_estimators": 2000}).fit(
        X, y, deadline=start + 0.3
    )
    assert time.monotonic() - start < 1.5
    assert 1 <= learner.fitted_params()["n_estimators"] < 2000


@pytest.mark.parametrize("cls", LEARNERS)
def test_estimate_cost_grows_with_rows_and_trees(cls: Any) -> None:
    small = cls.estimate_cost("binary", 1000, 10, 2, {})
    big = cls.estimate_cost("binary", 100_000, 10, 2, {})
    more_trees = cls.estimate_cost("binary", 1000, 10, 2, {"n_estimators": 600})
    assert 0 < small[0] < big[0] and 0 < small[1] < big[1]
    assert 1.5 * small[0] < more_trees[0] <= 2 * small[0]  # per-tree work, plus a fixed part
