"""k-nearest neighbours, saved as the (subsampled) training matrix and its targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.search.space import Categorical, Int, SearchSpace

__all__ = ["KNNLearner"]

_MAX_ROWS = 50_000  # stored training rows: bounds memory and the cost of each prediction
_KD_TREE_MAX_FEATURES = 4  # above this a k-d tree is slower than brute force (7x at 12)
_COST_PER_PAIR = 3.5e-9  # brute force on 2 cores: seconds per (query row x stored row) ...
_COST_PER_CELL = 4e-11  # ... plus this per feature (measured: 4e-9 at 12 features, 1.4e-8 at 300)


class KNNLearner(Learner):
    """Neighbours vote (classification) or average (regression), uniform or by 1 / distance.

    Fitting stores the training rows, subsampled to at most 50,000 with the seed; loading
    rebuilds scikit-learn's index from the saved arrays, which is only indexing. The search is
    brute force beyond 4 features: scikit-learn's "auto" picks a k-d tree up to 15, which was
    7x slower on 12 random features (and 1.4x on 6) and far less predictable for the budget.
    """

    name = "knn"
    priority = 10
    input_kind = "dense"
    supports_weights = False  # a neighbour vote has no place for row weights

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        return {
            "n_neighbors": Int(3, 100, log=True),
            "weights": Categorical(("uniform", "distance")),
        }

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        return [
            {"n_neighbors": 15, "weights": "distance"},
            {"n_neighbors": 50, "weights": "uniform"},
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
        X32 = _dense_f32(X)
        y = np.asarray(y)
        if len(y) > _MAX_ROWS:
            rng = np.random.default_rng(self.seed)
            keep = np.sort(rng.choice(len(y), size=_MAX_ROWS, replace=False))
            X32, y = X32[keep], y[keep]
        self.X_train_ = np.ascontiguousarray(X32)
        if self.task == "regression":
            self.y_train_ = np.asarray(y, dtype=np.float64)
        else:
            self.y_train_ = np.asarray(y, dtype=np.int64)
        self.index_ = self._build_index()
        return self

    def _build_index(self) -> KNeighborsClassifier | KNeighborsRegressor:
        """scikit-learn's neighbour search over the stored rows."""
        n_neighbors = min(int(self.params.get("n_neighbors", 15)), len(self.y_train_))
        low_dimensional = self.X_train_.shape[1] <= _KD_TREE_MAX_FEATURES
        kwargs: dict[str, Any] = {
            "n_neighbors": n_neighbors,
            "algorithm": "kd_tree" if low_dimensional else "brute",
            "weights": str(self.params.get("weights", "distance")),
            "n_jobs": self.n_jobs,
        }
        if self.task == "regression":
            return KNeighborsRegressor(**kwargs).fit(self.X_train_, self.y_train_)
        return KNeighborsClassifier(**kwargs).fit(self.X_train_, self.y_train_)

    def predict(self, X: Matrix) -> np.ndarray:
        X32 = _dense_f32(X)
        if isinstance(self.index_, KNeighborsRegressor):
            return np.asarray(self.index_.predict(X32), dtype=np.float64).ravel()
        present = np.asarray(self.index_.classes_, dtype=np.int64)
        proba = np.zeros((X32.shape[0], self.n_classes))
        # a fold may lack a class: it keeps probability 0, in its own column
        proba[:, present] = self.index_.predict_proba(X32)
        return proba

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "X_train.npy", self.X_train_, allow_pickle=False)
        np.save(directory / "y_train.npy", self.y_train_, allow_pickle=False)
        (directory / "params.json").write_text(json.dumps(self.params), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        params = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, params)
        learner.X_train_ = np.load(directory / "X_train.npy", allow_pickle=False)
        learner.y_train_ = np.load(directory / "y_train.npy", allow_pickle=False)
        learner.index_ = learner._build_index()
        return learner

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        """Rough (seconds, bytes) to fit one fold and score its validation rows on 2 cores.

        Fitting is storing; the time goes to the brute-force search from each validation row
        (about a quarter as many as training rows) to every stored row: a cost per pair for
        choosing the neighbours plus one per feature for the distance. Bytes: the stored float32
        matrix plus scikit-learn's chunked distance buffers (capped at 500 MB).
        """
        stored = min(max(1, n_rows), _MAX_ROWS)
        queries = max(1, n_rows) / 4
        f = max(1, n_features)
        seconds = (_COST_PER_PAIR + _COST_PER_CELL * f) * queries * stored
        return seconds, 4.0 * stored * f + min(8.0 * queries * stored, 5e8)


def _dense_f32(X: Matrix) -> np.ndarray:
    """``X`` as a C-contiguous float32 array (the stored rows' dtype)."""
    dense = X if isinstance(X, np.ndarray) else X.toarray()
    return np.ascontiguousarray(dense, dtype=np.float32)
