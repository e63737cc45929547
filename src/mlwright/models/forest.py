"""Random forests and extra trees, grown by scikit-learn and saved as plain node arrays."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.models.tree_arrays import export_trees, load_trees, predict_trees, save_trees
from mlwright.search.space import Categorical, Int, SearchSpace

__all__ = ["ExtraTreesLearner", "RandomForestLearner"]

_BATCH = 50  # trees grown between deadline checks
# after growing: the out-of-bag pass (one tree at a time, single-threaded) and the export take
# about this share of a tree's growing time per tree (0.28 + 0.14 measured on 20,000 x 12)
_AFTER_GROW = 0.4
_N_ESTIMATORS = 300
# leaves per tree: bounds a 300-tree forest to ~60 MB saved whatever the number of rows
_MAX_LEAF_NODES = 4096
_SKLEARN_PARAMS = ("max_features", "min_samples_leaf", "max_leaf_nodes")
_NODE_BYTES = 17  # saved bytes per node besides leaf values (see tree_arrays)
_SKLEARN_NODE_BYTES = 64  # scikit-learn's in-memory node struct


class _ForestLearner(Learner):
    """Shared fit, predict, save and load of scikit-learn forests.

    Trees are grown ``_BATCH`` at a time with ``warm_start``, checking the deadline between
    batches; scikit-learn seeds the trees of a warm start as it would in one go, so the forest
    is the same for a seed however it was batched. After fitting, the trees are exported to
    arrays and scikit-learn's objects dropped: the arrays alone predict, before and after save.

    Every tree sees a bootstrap sample, so each row is out of the bag of about a third of the
    trees: their mean is an honest out-of-sample prediction for it (``oob_predictions``), and
    the trainer fits one forest on all rows instead of one per fold.
    """

    input_kind = "tree"
    out_of_bag = True
    # scikit-learn estimator names, imported when fitting: predicting needs only the node arrays
    _classifier: ClassVar[str]
    _regressor: ClassVar[str]
    # core-seconds per (sample x log2(samples) x features tried) to grow one tree
    _cost_per_unit: ClassVar[float]

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        space: SearchSpace = {
            "max_features": Categorical(("sqrt", 0.3, 0.5, 0.7, 1.0)),
            "min_samples_leaf": Int(1, 20, log=True),
            "max_leaf_nodes": Int(256, 8192, log=True),
        }
        if task == "regression":
            space["target_transform"] = Categorical(("none", "log1p"))
        return space

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        # regression wants more features per split than classification (scikit-learn's
        # defaults are 1.0 and sqrt); the second config trades variance for smoother leaves
        if task == "regression":
            return [
                {"max_features": 0.5, "min_samples_leaf": 1},
                {"max_features": 1.0, "min_samples_leaf": 3},
            ]
        return [
            {"max_features": "sqrt", "min_samples_leaf": 1},
            {"max_features": 0.5, "min_samples_leaf": 3},
        ]

    def fit(
        self,
        X: Matrix,
        y: np.ndarray,
        *,
        X_val: Matrix | None = None,
        y_val: np.ndarray | None = None,
        categorical: list[int] | None = None,
        deadline: float | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        # categorical codes are split on as ordered numbers: forests do well enough with them
        X32 = _dense_f32(X)
        y, _ = self._transform_target(y)
        forest = self._make_forest()
        self._grow(forest, X32, y, deadline, sample_weight)
        self.oob_ = self._out_of_bag(forest, X32, y, sample_weight)
        if self.task == "regression":
            self.trees_ = export_trees([e.tree_ for e in forest.estimators_], 1)
        else:
            classes = np.asarray(forest.classes_, dtype=np.int64)
            self.trees_ = export_trees(
                [e.tree_ for e in forest.estimators_], self.n_classes, classes
            )
        _ = self.trees_.compiled  # built now rather than in the first prediction
        return self

    def _out_of_bag(
        self, forest: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> np.ndarray:
        """Out-of-bag predictions of the grown forest, NaN for rows in every tree's bag."""
        # asking for the OOB score with no new trees computes it once, without refitting
        forest.set_params(oob_score=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no new trees", "some inputs have no OOB score"
            forest.fit(X, y, sample_weight=sample_weight)
        if self.task == "regression":
            raw = np.asarray(forest.oob_prediction_, dtype=np.float64).reshape(len(X))
            return np.expm1(raw) if self.log_target_ else raw
        raw = np.asarray(forest.oob_decision_function_, dtype=np.float64)
        out = np.zeros((len(X), self.n_classes))
        out[:, np.asarray(forest.classes_, dtype=np.int64)] = raw
        out[~np.isfinite(raw).all(axis=1) | (raw.sum(axis=1) == 0)] = np.nan
        return out

    def oob_predictions(self) -> np.ndarray:
        return self.oob_

    def _make_forest(self) -> Any:
        from sklearn import ensemble

        kwargs: dict[str, Any] = {
            "max_leaf_nodes": _MAX_LEAF_NODES,
            "bootstrap": True,
            "n_estimators": 0,
            "warm_start": True,
            "n_jobs": self.n_jobs,
            "random_state": self.seed,
        }
        kwargs.update({k: self.params[k] for k in _SKLEARN_PARAMS if k in self.params})
        if self.task == "regression":
            return getattr(ensemble, self._regressor)(**kwargs)
        return getattr(ensemble, self._classifier)(**kwargs)

    def _grow(
        self,
        forest: Any,
        X: np.ndarray,
        y: np.ndarray,
        deadline: float | None,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        """Add trees in batches until ``n_estimators`` or the deadline, at least one batch.

        The deadline is for the whole fit: every tree grown also costs its share of the
        out-of-bag pass and the export that follow (``_AFTER_GROW``), kept aside here.
        """
        target = max(1, int(self.params.get("n_estimators", _N_ESTIMATORS)))
        # with a deadline, time a first small batch to size the next ones
        batch = _BATCH if deadline is None else max(1, self.n_jobs)
        start = time.monotonic()
        grown = 0
        while grown < target:
            grown = min(target, grown + batch)
            forest.set_params(n_estimators=grown)
            forest.fit(X, y, sample_weight=sample_weight)
            left = self.time_left(deadline)
            if left <= 0:
                break
            if deadline is not None:
                per_tree = max((time.monotonic() - start) / grown, 1e-9)
                after = _AFTER_GROW * per_tree
                batch = min(_BATCH, int((0.9 * left - grown * after) / (per_tree + after)))
                if batch < 1:
                    break

    def predict(self, X: Matrix) -> np.ndarray:
        out = predict_trees(self.trees_, _dense_f32(X), self.predict_threads(X.shape[0]))
        if self.task != "regression":
            return out
        values: np.ndarray = out[:, 0]
        return np.expm1(values) if self.log_target_ else values

    def trees_per_row(self) -> int | None:
        return self.trees_.n_trees

    def fitted_params(self) -> dict[str, Any]:
        return {**self.params, "n_estimators": self.trees_.n_trees}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_trees(self.trees_, directory)
        (directory / "params.json").write_text(
            json.dumps({"params": self.params, "log_target": self.log_target_}), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        meta = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, meta["params"])
        learner.log_target_ = bool(meta["log_target"])
        # compiled on the first prediction of 16 rows or more: a server answering single rows
        # never needs the compiled copy, nor its memory
        learner.trees_ = load_trees(directory)
        return learner

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        """Rough (seconds, bytes) to fit one fold on 2 cores.

        Seconds: a fixed cost per tree, plus trees x samples x log2(samples) x features tried
        per split x a per-family constant. Bytes: the float32 matrix, scikit-learn's trees
        while growing and the exported arrays, with leaves bounded by ``max_leaf_nodes`` and
        ``min_samples_leaf``.
        """
        n = max(2, n_rows)
        f = max(1, n_features)
        trees = max(1, int(params.get("n_estimators", _N_ESTIMATORS)))
        tried = _features_tried(params.get("max_features", cls._default_max_features(task)), f)
        samples = 0.632 * n  # distinct rows in a bootstrap sample
        # plus a fixed cost per tree (building and exporting it), measured on small data
        seconds = 0.1 + trees * (8e-4 + cls._cost_per_unit * n * math.log2(n) * tried / 2)
        leaves = min(
            float(params.get("max_leaf_nodes", _MAX_LEAF_NODES)),
            samples / max(1, int(params.get("min_samples_leaf", 1))),
        )
        outputs = max(1, n_classes)
        per_tree = 2 * leaves * (_SKLEARN_NODE_BYTES + _NODE_BYTES + 8 * outputs)
        return seconds, 4.0 * n * f + trees * per_tree

    @classmethod
    def _default_max_features(cls, task: TaskName) -> str | float:
        return 1.0 if task == "regression" else "sqrt"


class RandomForestLearner(_ForestLearner):
    """Bootstrapped trees with the best split over a random subset of features."""

    name = "random_forest"
    priority = 40
    _classifier = "RandomForestClassifier"
    _regressor = "RandomForestRegressor"
    _cost_per_unit = 1.5e-7


class ExtraTreesLearner(_ForestLearner):
    """Trees with random split points, best of a random subset of features; each tree on a
    bootstrap sample (unlike scikit-learn's default) for out-of-bag estimates."""

    name = "extra_trees"
    priority = 45
    _classifier = "ExtraTreesClassifier"
    _regressor = "ExtraTreesRegressor"
    _cost_per_unit = 2e-8


def _dense_f32(X: Matrix) -> np.ndarray:
    """``X`` as a C-contiguous float32 array, the dtype scikit-learn's trees split on."""
    dense = X if isinstance(X, np.ndarray) else X.toarray()
    return np.ascontiguousarray(dense, dtype=np.float32)


def _features_tried(max_features: Any, n_features: int) -> float:
    """How many features a split examines for scikit-learn's ``max_features``."""
    if max_features == "sqrt":
        return max(1.0, math.sqrt(n_features))
    if max_features == "log2":
        return max(1.0, math.log2(n_features))
    if isinstance(max_features, float):
        return max(1.0, max_features * n_features)
    if isinstance(max_features, int):
        return float(min(max_features, n_features))
    return float(n_features)
