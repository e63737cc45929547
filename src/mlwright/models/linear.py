"""Regularised linear models: logistic regression and ridge, saved as NumPy coefficient arrays."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy.special import expit, softmax

from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.search.space import Float, SearchSpace

__all__ = ["LinearLearner"]

_CHUNK = 50  # L-BFGS iterations between deadline checks
_MAX_ITER = 500
_WIDE = 20_000  # columns above which the solver switches to SAGA


class LinearLearner(Learner):
    """L2-regularised logistic regression (classification) or ridge regression.

    ``C`` is the inverse regularisation strength for both (ridge uses ``alpha = 1 / C``).
    """

    name = "linear"
    priority = 50
    input_kind = "linear"

    @classmethod
    def priority_for(cls, has_text: bool) -> int:
        # on word counts a regularised linear model is strong and takes seconds, while boosted
        # trees on thousands of sparse columns can take most of a short budget: try it second
        return 95 if has_text else cls.priority

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        return {"C": Float(1e-3, 1e2, log=True)}

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        return [{"C": 1.0}, {"C": 0.1}, {"C": 10.0}]

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        # one-hot widens the input about fivefold; ~100 solver passes
        width = 5 * max(1, n_features)
        seconds = 0.02 + 5e-9 * n_rows * width * max(1, n_classes) * 100
        return seconds, 8.0 * n_rows * width * 2

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
        # training only: a loaded model predicts from its coefficients with NumPy
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        C = float(self.params.get("C", 1.0))
        if self.task == "regression":
            self.y_mean_ = float(np.average(y, weights=sample_weight))
            self.y_scale_ = float(np.std(y)) or 1.0
            ridge = Ridge(alpha=1.0 / C, random_state=self.seed)
            ridge.fit(X, (y - self.y_mean_) / self.y_scale_, sample_weight=sample_weight)
            self.coef_ = np.asarray(ridge.coef_, dtype=np.float64).reshape(1, -1) * self.y_scale_
            self.intercept_ = np.array([ridge.intercept_ * self.y_scale_ + self.y_mean_])
            return self
        # L-BFGS in chunks of iterations, warm-started, so that the deadline is checked between
        # them; without a deadline the result is the same for the same data and seed
        # SAGA is ~10x faster than L-BFGS on wide sparse matrices (hashed text n-grams)
        # (its default tolerance buys 0.005 log loss for twice the time on such data)
        wide = X.shape[1] > _WIDE
        clf = LogisticRegression(
            C=C,
            solver="saga" if wide else "lbfgs",
            tol=1e-3 if wide else 1e-4,
            max_iter=_CHUNK,
            warm_start=True,
            random_state=self.seed,
        )
        done = 0
        with warnings.catch_warnings():
            # a capped iteration count is deliberate: the time limit matters more than the 4th digit
            warnings.simplefilter("ignore", ConvergenceWarning)
            while True:
                clf.fit(X, y, sample_weight=sample_weight)
                step = int(np.max(clf.n_iter_))
                done += step
                if step < _CHUNK or done >= _MAX_ITER or self.time_left(deadline) <= 0:
                    break
        coef = np.asarray(clf.coef_, dtype=np.float64)
        intercept = np.asarray(clf.intercept_, dtype=np.float64)
        present = [int(c) for c in clf.classes_]
        if self.task == "multiclass" and len(present) < self.n_classes:
            # a fold without some class: those classes get a very low score
            full = np.zeros((self.n_classes, coef.shape[1]))
            full_b = np.full(self.n_classes, -30.0)
            full[present] = coef
            full_b[present] = intercept
            coef, intercept = full, full_b
        self.coef_, self.intercept_ = coef, intercept
        return self

    def predict(self, X: Matrix) -> np.ndarray:
        scores: np.ndarray = np.asarray(X @ self.coef_.T) + self.intercept_
        if self.task == "regression":
            return scores.ravel()
        if self.task == "binary":
            p1 = expit(scores.ravel())
            return np.column_stack([1.0 - p1, p1])
        out: np.ndarray = softmax(scores, axis=1)
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "coef.npy", self.coef_, allow_pickle=False)
        np.save(directory / "intercept.npy", self.intercept_, allow_pickle=False)
        (directory / "params.json").write_text(json.dumps(self.params), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        params = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, params)
        learner.coef_ = np.load(directory / "coef.npy", allow_pickle=False)
        learner.intercept_ = np.load(directory / "intercept.npy", allow_pickle=False)
        return learner
