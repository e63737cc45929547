"""XGBoost gradient-boosted trees, saved in XGBoost's own JSON format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Self

import numpy as np

from mlwright.models.base import Learner, Matrix, TaskName, hidden_sklearn, plateaued
from mlwright.search.space import Categorical, Float, Int, SearchSpace

with hidden_sklearn():
    import xgboost as xgb  # noqa: E402

__all__ = ["XGBoostLearner"]

_MAX_ROUNDS = 10_000
_EARLY_STOP = 50
_OBJECTIVES: dict[str, tuple[str, str]] = {
    "binary": ("binary:logistic", "logloss"),
    "multiclass": ("multi:softprob", "mlogloss"),
    "regression": ("reg:squarederror", "rmse"),
}


class XGBoostLearner(Learner):
    """Histogram gradient-boosted trees with early stopping and native categorical splits."""

    name = "xgboost"
    priority = 80
    input_kind = "tree"

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        space: SearchSpace = {
            "learning_rate": Float(0.01, 0.2, log=True),
            "max_depth": Int(3, 10),
            "min_child_weight": Float(0.5, 20.0, log=True),
            "subsample": Float(0.5, 1.0),
            "colsample_bytree": Float(0.4, 1.0),
            "reg_lambda": Float(1e-3, 10.0, log=True),
            "reg_alpha": Float(1e-3, 1.0, log=True),
        }
        if task == "regression":
            space["target_transform"] = Categorical(("none", "log1p"))
        return space

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        configs: list[dict[str, Any]] = [
            {"learning_rate": 0.05, "max_depth": 6, "subsample": 0.8, "colsample_bytree": 0.8},
            {
                "learning_rate": 0.05,
                "max_depth": 3,
                "min_child_weight": 3.0,
                "subsample": 0.9,
                "colsample_bytree": 0.6,
                "reg_lambda": 3.0,
            },
            {
                "learning_rate": 0.03,
                "max_depth": 8,
                "min_child_weight": 2.0,
                "subsample": 0.7,
                "colsample_bytree": 0.7,
                "reg_lambda": 1.0,
            },
        ]
        if task == "regression":
            # counts and prices: fitting log1p(y) often wins; ignored when y has negatives
            configs.insert(1, {**configs[0], "target_transform": "log1p"})
        return configs

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        # early stopping typically lands near 30 / learning_rate rounds; a depth-d tree costs
        # about d histogram passes over the rows; measured on 2 cores
        rounds = min(_MAX_ROUNDS, 30.0 / float(params.get("learning_rate", 0.3)))
        depth = float(params.get("max_depth", 6))
        trees = rounds * (n_classes if task == "multiclass" else 1)
        seconds = 0.1 + 4e-9 * n_rows * max(1, n_features) * trees * depth
        memory = 8.0 * n_rows * max(1, n_features) * 3 + 400.0 * trees * 2.0 ** min(depth, 12)
        return seconds, memory

    def _xgb_params(self) -> dict[str, Any]:
        objective, metric = _OBJECTIVES[self.task]
        p: dict[str, Any] = {
            "objective": objective,
            "eval_metric": metric,
            "tree_method": "hist",
            "nthread": self.n_jobs,
            "seed": self.seed,
            "verbosity": 0,
            "max_cat_to_onehot": 8,
        }
        if self.task == "multiclass":
            p["num_class"] = self.n_classes
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
        self.feature_types_ = _feature_types(X.shape[1], categorical or [])
        train = self._dmatrix(X, y, sample_weight)
        callbacks: list[xgb.callback.TrainingCallback] = [_StopAt(deadline)]
        evals: list[tuple[xgb.DMatrix, str]] = []
        if X_val is not None and y_val is not None and len(y_val) > 0:
            evals = [(self._dmatrix(X_val, y_val), "valid")]
            callbacks.append(xgb.callback.EarlyStopping(rounds=_EARLY_STOP, save_best=False))
        rounds = int(self.params.get("num_boost_round", _MAX_ROUNDS if evals else 200))
        booster = xgb.train(
            self._xgb_params(),
            train,
            num_boost_round=max(1, rounds),
            evals=evals,
            callbacks=callbacks,
            verbose_eval=False,
        )
        n_rounds = booster.num_boosted_rounds()
        if evals and booster.attr("best_iteration") is not None:
            n_rounds = booster.best_iteration + 1
        # keep only the rounds early stopping chose, so that predict and save need no range
        self.booster_ = booster[:n_rounds] if n_rounds < booster.num_boosted_rounds() else booster
        self.n_rounds_ = n_rounds
        self._threads = 0
        return self

    def _dmatrix(
        self, X: Matrix, y: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> xgb.DMatrix:
        """A DMatrix that marks the categorical columns (NaN stays missing)."""
        return xgb.DMatrix(
            X,
            label=y,
            weight=weight,
            missing=np.nan,
            feature_types=self.feature_types_,
            enable_categorical="c" in self.feature_types_,
            nthread=self.n_jobs,
        )

    def predict(self, X: Matrix) -> np.ndarray:
        threads = self.predict_threads(X.shape[0])
        if threads != getattr(self, "_threads", 0):
            self.booster_.set_param({"nthread": threads})
            self._threads = threads
        # in place: no DMatrix copy; the booster knows which columns are categorical
        raw = np.asarray(self.booster_.inplace_predict(X, missing=np.nan), dtype=np.float64)
        if self.task == "regression":
            return np.expm1(raw) if self.log_target_ else raw
        if self.task == "binary":
            return np.column_stack([1.0 - raw, raw])
        # softprob comes in float32: renormalise so that rows sum to 1 in float64
        proba = raw.reshape(len(raw), -1)
        normalised: np.ndarray = proba / proba.sum(axis=1, keepdims=True)
        return normalised

    def trees_per_row(self) -> int | None:
        return self.n_rounds_ * (self.n_classes if self.task == "multiclass" else 1)

    def fitted_params(self) -> dict[str, Any]:
        return {**self.params, "num_boost_round": self.n_rounds_}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(directory / "model.json"))
        meta = {
            "params": self.params,
            "log_target": self.log_target_,
            "feature_types": self.feature_types_,
            "n_rounds": self.n_rounds_,
        }
        (directory / "params.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        meta = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, meta["params"])
        learner.log_target_ = bool(meta["log_target"])
        learner.feature_types_ = list(meta["feature_types"])
        learner.n_rounds_ = int(meta["n_rounds"])
        learner.booster_ = xgb.Booster(model_file=str(directory / "model.json"))
        return learner


def _feature_types(n_features: int, categorical: list[int]) -> list[str]:
    """XGBoost's per-column types: ``"c"`` for categorical codes, ``"q"`` for numbers."""
    types = ["q"] * n_features
    for index in categorical:
        types[index] = "c"
    return types


class _StopAt(xgb.callback.TrainingCallback):
    """An XGBoost callback that ends training when the deadline passes or the validation loss
    has plateaued (see ``plateaued``)."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline

    def after_iteration(
        self, model: Any, epoch: int, evals_log: xgb.callback.TrainingCallback.EvalsLog
    ) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        for metrics in evals_log.values():
            for losses in metrics.values():  # logloss, mlogloss, rmse: lower is better
                return plateaued([float(v) for v in losses])  # type: ignore[arg-type]
        return False
