"""LightGBM gradient-boosted trees, saved in LightGBM's own text format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Self

import numpy as np

from mlwright.models.base import Learner, Matrix, TaskName, hidden_sklearn, plateaued
from mlwright.search.space import Categorical, Float, Int, SearchSpace

with hidden_sklearn():
    import lightgbm as lgb  # noqa: E402

__all__ = ["LightGBMLearner"]

_MAX_ROUNDS = 10_000
_EARLY_STOP = 50


class LightGBMLearner(Learner):
    """Gradient-boosted trees with early stopping and native categorical splits."""

    name = "lightgbm"
    priority = 100
    input_kind = "tree"

    @classmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        space: SearchSpace = {
            "learning_rate": Float(0.01, 0.2, log=True),
            "num_leaves": Int(8, 256, log=True),
            "min_data_in_leaf": Int(2, 100, log=True),
            "feature_fraction": Float(0.4, 1.0),
            "bagging_fraction": Float(0.5, 1.0),
            "lambda_l2": Float(1e-3, 10.0, log=True),
            "extra_trees": Categorical((False, True)),
            "cat_smooth": Float(1.0, 50.0, log=True),
        }
        if task == "regression":
            space["target_transform"] = Categorical(("none", "log1p"))
        return space

    @classmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        configs = cls._portfolio()
        if task == "regression":
            # counts and prices: fitting log1p(y) often wins; ignored when y has negatives
            configs.insert(1, {**configs[0], "target_transform": "log1p"})
        return configs

    @classmethod
    def _portfolio(cls) -> list[dict[str, Any]]:
        return [
            {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20},
            {
                "learning_rate": 0.03,
                "num_leaves": 128,
                "min_data_in_leaf": 5,
                "feature_fraction": 0.7,
                "bagging_fraction": 0.8,
                "lambda_l2": 1.0,
            },
            {
                "learning_rate": 0.05,
                "num_leaves": 15,
                "min_data_in_leaf": 40,
                "feature_fraction": 0.6,
                "extra_trees": True,
                "lambda_l2": 3.0,
            },
        ]

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        # early stopping typically lands near 30 / learning_rate rounds; measured on 2 cores
        rounds = min(_MAX_ROUNDS, 30.0 / float(params.get("learning_rate", 0.1)))
        leaves = float(params.get("num_leaves", 31))
        trees = rounds * (n_classes if task == "multiclass" else 1)
        seconds = 0.05 + 1.5e-8 * n_rows * max(1, n_features) * trees * (leaves / 31) ** 0.5
        memory = 8.0 * n_rows * max(1, n_features) * 3 + 2_000.0 * trees * leaves
        return seconds, memory

    def _lgb_params(self) -> dict[str, Any]:
        p: dict[str, Any] = {
            "verbosity": -1,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "max_cat_to_onehot": 8,
            "min_data_per_group": 20,
        }
        if self.task == "binary":
            p["objective"] = "binary"
        elif self.task == "multiclass":
            p.update(objective="multiclass", num_class=self.n_classes)
        else:
            p["objective"] = "regression"
        params = dict(self.params)
        params.pop("num_boost_round", None)
        params.pop("target_transform", None)
        if params.get("bagging_fraction", 1.0) < 1.0:
            p["bagging_freq"] = 1
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
        cat = categorical or []
        y, y_val = self._transform_target(y, y_val)
        train = lgb.Dataset(
            X, label=y, weight=sample_weight, categorical_feature=cat, free_raw_data=True
        )
        callbacks: list[Any] = [_stop_at(deadline)]
        valid_sets = []
        if X_val is not None and y_val is not None and len(y_val) > 0:
            valid_sets = [lgb.Dataset(X_val, label=y_val, categorical_feature=cat, reference=train)]
            callbacks.append(lgb.early_stopping(_EARLY_STOP, verbose=False))
        rounds = int(self.params.get("num_boost_round", _MAX_ROUNDS if valid_sets else 200))
        self.booster_ = lgb.train(
            self._lgb_params(),
            train,
            num_boost_round=rounds,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        if valid_sets and self.booster_.best_iteration > 0:
            self.best_iteration_ = int(self.booster_.best_iteration)
        else:
            self.best_iteration_ = int(self.booster_.current_iteration())
        return self

    def predict(self, X: Matrix) -> np.ndarray:
        raw: np.ndarray = np.asarray(
            self.booster_.predict(
                X,
                num_iteration=self.best_iteration_,
                num_threads=self.predict_threads(X.shape[0]),
            )
        )
        if self.log_target_:
            return np.asarray(np.expm1(raw), dtype=np.float64)
        if self.task == "binary":
            return np.column_stack([1.0 - raw, raw])
        return raw

    def trees_per_row(self) -> int | None:
        return int(self.best_iteration_ * self.booster_.num_model_per_iteration())

    def fitted_params(self) -> dict[str, Any]:
        return {**self.params, "num_boost_round": self.best_iteration_}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(directory / "model.txt"), num_iteration=self.best_iteration_)
        (directory / "params.json").write_text(
            json.dumps({"params": self.params, "log_target": self.log_target_}), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        meta = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        learner = cls(task, n_classes, meta["params"])
        learner.log_target_ = bool(meta["log_target"])
        # from text: given a file name, LightGBM peaks ~13 MB higher while loading (measured on
        # a 0.7 MB model), which is a server's peak memory
        text = (directory / "model.txt").read_text(encoding="utf-8")
        learner.booster_ = lgb.Booster(model_str=text)
        learner.best_iteration_ = int(learner.booster_.current_iteration())
        return learner


def _stop_at(deadline: float | None) -> Any:
    """A LightGBM callback that ends training when the deadline passes or the validation loss
    has plateaued (see ``plateaued``)."""
    losses: list[float] = []

    def callback(env: Any) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)
        if env.evaluation_result_list:
            _, _, value, higher_is_better = env.evaluation_result_list[0][:4]
            losses.append(-value if higher_is_better else value)
            if plateaued(losses):
                best = int(np.argmin(losses))
                raise lgb.callback.EarlyStopException(best, env.evaluation_result_list)

    callback.order = 40  # type: ignore[attr-defined]
    return callback
