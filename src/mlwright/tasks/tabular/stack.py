"""One stacking layer: learners that read the original features plus the predictions of the
best first-level candidates.

Training uses the first-level out-of-fold predictions as features, on the same folds, as
AutoGluon does; prediction uses each base candidate's full (fold-averaged) prediction. The
second-level out-of-fold score is slightly optimistic — a base's fold models saw the labels of
rows whose second-level model reads them — so the stack is built only when the time allows, and
the ensemble selection decides whether it is worth its prediction cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.models.base import Matrix, TaskName
from mlwright.tasks.tabular.candidate import BaggedCandidate

__all__ = ["StackedCandidate", "stack_features", "stacked_schema"]

_PREFIX = "__level1_"


def _columns(base: BaggedCandidate, task: TaskName, n_classes: int) -> list[str]:
    if task == "regression":
        return [f"{_PREFIX}{base.name}"]
    if task == "binary":
        return [f"{_PREFIX}{base.name}_p1"]
    return [f"{_PREFIX}{base.name}_p{k}" for k in range(n_classes)]


def _as_columns(pred: np.ndarray, task: TaskName) -> np.ndarray:
    if task == "regression":
        return pred.reshape(-1, 1)
    if task == "binary":
        return pred[:, 1:2]
    return pred


def stack_features(
    X: pd.DataFrame,
    bases: list[BaggedCandidate],
    predictions: list[np.ndarray],
    task: TaskName,
    n_classes: int,
) -> pd.DataFrame:
    """``X`` with one numeric column per base prediction (per class for multiclass)."""
    extra = {}
    for base, pred in zip(bases, predictions, strict=True):
        values = _as_columns(pred, task)
        for j, name in enumerate(_columns(base, task, n_classes)):
            extra[name] = values[:, j]
    return pd.concat([X, pd.DataFrame(extra, index=X.index)], axis=1)


def stacked_schema(
    schema: Schema, bases: list[BaggedCandidate], task: TaskName, n_classes: int
) -> Schema:
    """``schema`` extended by the numeric columns ``stack_features`` adds."""
    added = [
        ColumnSchema(name, Role.NUMERIC, "float64", "number")
        for base in bases
        for name in _columns(base, task, n_classes)
    ]
    return Schema(columns=[*schema.columns, *added], target=schema.target)


@dataclass
class StackedCandidate:
    """A second-level bagged candidate with the base candidates whose predictions it reads."""

    level2: BaggedCandidate
    bases: list[BaggedCandidate]
    task: TaskName
    n_classes: int

    @property
    def name(self) -> str:
        """The second-level candidate's name."""
        return self.level2.name

    @property
    def learner(self) -> str:
        """The second-level learner's name."""
        return self.level2.learner

    @property
    def oof_(self) -> np.ndarray | None:
        """Out-of-fold predictions of the second level."""
        return self.level2.oof_

    @property
    def params(self) -> dict[str, object]:
        """The second-level configuration."""
        return self.level2.params

    @property
    def score_(self) -> float:
        """Out-of-fold score of the second level."""
        return self.level2.score_

    @property
    def fit_time_(self) -> float:
        """Seconds to fit the second level (the bases are counted on their own rows)."""
        return self.level2.fit_time_

    @property
    def predict_time_per_1k_(self) -> float:
        """Milliseconds per 1,000 rows: the bases' predictions, then the second level's."""
        return self.level2.predict_time_per_1k_ + sum(b.predict_time_per_1k_ for b in self.bases)

    def bagged(self) -> list[BaggedCandidate]:
        """Every bagged candidate this one runs."""
        return [*self.bases, self.level2]

    def predict(self, X: pd.DataFrame, encoded: dict[int, Matrix] | None = None) -> np.ndarray:
        """Base predictions, appended to ``X``, read by the second level."""
        encoded = {} if encoded is None else encoded
        preds = [base.predict(X, encoded) for base in self.bases]
        augmented = stack_features(X, self.bases, preds, self.task, self.n_classes)
        # the second level's encoders read other columns: they must not share the cache
        return self.level2.predict(augmented, {})

    def save(self, directory: Path) -> None:
        """The second level under ``level2/``, each base under ``bases/<name>/``."""
        self.level2.save(directory / "level2")
        for base in self.bases:
            base.save(directory / "bases" / base.name)
        meta = {"bases": [b.name for b in self.bases]}
        (directory / "stack.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> StackedCandidate:
        """Inverse of ``save``."""
        meta = json.loads((directory / "stack.json").read_text(encoding="utf-8"))
        bases = [
            BaggedCandidate.load(directory / "bases" / name, task, n_classes)
            for name in meta["bases"]
        ]
        level2 = BaggedCandidate.load(directory / "level2", task, n_classes)
        return cls(level2, bases, task, n_classes)
