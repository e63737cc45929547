"""CatBoost oblivious gradient-boosted trees, saved in CatBoost's own ``.cbm`` format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from mlwright.models.base import Learner, Matrix, TaskName, hidden_sklearn, plateaued
from mlwright.search.space import Categorical, Float, Int, SearchSpace

with hidden_sklearn():
    import catboost as cb  # noqa: E402

__all__ = ["CatBoostLearner"]

_MAX_ROUNDS = 10_000
_EARLY_STOP = 50
_MISSING_CODE = -1  # CatBoost reads categories as int or str, never NaN
_LOSSES = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}


class CatBoostLearner(Learner):
    """Symmetric gradient-boosted trees with ordered target statistics for categories."""

    name = "catboost"
    priority = 90
    input_kind = "tree"

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        space: SearchSpace = {
            "learning_rate": Float(0.02, 0.2, log=True),
            "depth": Int(4, 10),
            "l2_leaf_reg": Float(1.0, 30.0, log=True),
            "random_strength": Float(0.1, 10.0, log=True),
            "bagging_temperature": Float(0.0, 1.0),
            "one_hot_max_size": Categorical((2, 10)),
        }
        if task == "regression":
            space["target_transform"] = Categorical(("none", "log1p"))
        return space

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        configs: list[dict[str, Any]] = [
            {"learning_rate": 0.08, "depth": 6},
            {"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0},
            {"learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 1.0, "random_strength": 2.0},
        ]
        if task == "regression":
            # counts and prices: fitting log1p(y) often wins; ignored when y has negatives
            configs.insert(1, {**configs[0], "target_transform": "log1p"})
        return configs

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        # early stopping typically lands below 40 / learning_rate rounds. One round costs a
        # fixed part, a part per leaf (2^depth of them, each touching the data) and d passes
        # over the rows; fitted to timings of 300-5,000 rows x 3-20 columns, depth 4-10, on
        # 2 cores (within ~30%), with a margin of 1.3
        rounds = min(_MAX_ROUNDS, 40.0 / float(params.get("learning_rate", 0.08)))
        depth = float(params.get("depth", 6))
        width = float(n_classes) ** 0.9 if task == "multiclass" else 1.0
        cells = float(n_rows) * max(1, n_features)
        per_round_ms = 0.2 + 2.0**depth * (2.4e-3 + 1.1e-7 * cells) * width + 1.5e-7 * cells * depth
        seconds = 0.2 + rounds * 1.3e-3 * per_round_ms
        memory = 8.0 * n_rows * max(1, n_features) * 3 + 16.0 * rounds * 2.0 ** min(depth, 12)
        return seconds, memory

    def _cb_params(self, with_eval: bool) -> dict[str, Any]:
        p: dict[str, Any] = {
            "loss_function": _LOSSES[self.task],
            "iterations": int(
                self.params.get("num_boost_round", _MAX_ROUNDS if with_eval else 300)
            ),
            "random_seed": self.seed,
            "thread_count": self.n_jobs,
            "allow_writing_files": False,
            "logging_level": "Silent",
        }
        if self.task == "multiclass":
            # a fold may miss a class: fix the output width anyway
            p["classes_count"] = self.n_classes
        if with_eval:
            p.update(od_type="Iter", od_wait=_EARLY_STOP, use_best_model=True)
        params = dict(self.params)
        params.pop("num_boost_round", None)
        params.pop("target_transform", None)
        p.update(params)
        return p

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
        y, y_val = self._transform_target(y, y_val)
        self.categorical_ = sorted(categorical or [])
        with_eval = X_val is not None and y_val is not None and len(y_val) > 0
        eval_set = self._pool(X_val, y_val) if with_eval else None
        self.model_ = cb.CatBoost(self._cb_params(with_eval))
        self.model_.fit(
            self._pool(X, y, sample_weight), eval_set=eval_set, callbacks=[_StopAt(deadline)]
        )
        self.n_rounds_ = int(self.model_.tree_count_)
        return self

    def _pool(
        self, X: Matrix, y: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> cb.Pool:
        """A Pool whose categorical columns hold integer codes (missing as -1)."""
        sparse = hasattr(X, "toarray")  # a SciPy matrix, without importing SciPy to ask
        dense = np.asarray(X.toarray() if sparse else X, dtype=np.float64)  # type: ignore[union-attr]
        if not self.categorical_:
            return cb.Pool(dense, label=y, weight=weight)
        # the frame is built from its columns in one go (setting them one by one after costs
        # 0.6 ms a call on 200 rows, paid by every served request)
        columns: dict[int, np.ndarray] = {i: dense[:, i] for i in range(dense.shape[1])}
        for index in self.categorical_:
            codes = dense[:, index]
            columns[index] = np.where(np.isnan(codes), _MISSING_CODE, codes).astype(np.int64)
        frame = pd.DataFrame(columns, copy=False)
        return cb.Pool(frame, label=y, cat_features=self.categorical_, weight=weight)

    def predict(self, X: Matrix) -> np.ndarray:
        pool = self._pool(X)
        threads = self.predict_threads(X.shape[0])
        if self.task == "regression":
            raw = np.asarray(
                self.model_.predict(pool, prediction_type="RawFormulaVal", thread_count=threads)
            )
            raw = raw.astype(np.float64)
            return np.expm1(raw) if self.log_target_ else raw
        proba = np.asarray(
            self.model_.predict(pool, prediction_type="Probability", thread_count=threads)
        )
        proba = proba.astype(np.float64).reshape(len(proba), -1)
        normalised: np.ndarray = proba / proba.sum(axis=1, keepdims=True)
        return normalised

    def fitted_params(self) -> dict[str, Any]:
        return {**self.params, "num_boost_round": self.n_rounds_}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save_model(str(directory / "model.cbm"), format="cbm")
        meta = {
            "params": self.params,
            "log_target": self.log_target_,
            "categorical": self.categorical_,
            "n_rounds": self.n_rounds_,
        }
        (directory / "params.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        meta = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, meta["params"])
        learner.log_target_ = bool(meta["log_target"])
        learner.categorical_ = [int(i) for i in meta["categorical"]]
        learner.n_rounds_ = int(meta["n_rounds"])
        learner.model_ = cb.CatBoost().load_model(str(directory / "model.cbm"), format="cbm")
        return learner


class _StopAt:
    """A CatBoost callback that ends training when the deadline passes or the validation loss
    has plateaued (see ``plateaued``)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        """Whether to go on."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        validation = info.metrics.get("validation", {})
        losses = next(iter(validation.values()), None) if validation else None
        return not (losses is not None and plateaued(list(losses)))
