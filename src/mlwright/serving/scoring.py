"""LoadedModel: a model ready to serve, and how it scores request rows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlwright.model import Model
from mlwright.serving.features import typed_features
from mlwright.serving.rows import RowBatch, RowValidator
from mlwright.serving.sources import ResolvedModel

__all__ = ["LoadedModel", "Scored", "merge_batches"]


@dataclass
class Scored:
    """Per-row results: a prediction (None for a reject), class probabilities (classifiers;
    None for a reject), and the reason for each rejected row position."""

    predictions: list[Any]
    probabilities: list[list[float] | None] | None
    reasons: dict[int, str] = field(default_factory=dict)

    def split(self, sizes: list[int]) -> list[Scored]:
        """Cut into consecutive parts of ``sizes`` rows (undoing ``merge_batches``)."""
        parts, start = [], 0
        for size in sizes:
            stop = start + size
            reasons = {r - start: why for r, why in self.reasons.items() if start <= r < stop}
            proba = None if self.probabilities is None else self.probabilities[start:stop]
            parts.append(Scored(self.predictions[start:stop], proba, reasons))
            start = stop
        return parts


def merge_batches(batches: list[RowBatch]) -> RowBatch:
    """One batch of the JSON rows of several requests, in order."""
    if len(batches) == 1:
        return batches[0]
    columns: dict[str, list[Any]] = {}
    for batch in batches:
        assert batch.columns is not None
        for name, values in batch.columns.items():
            columns.setdefault(name, []).extend(values)
    return RowBatch(sum(b.n_rows for b in batches), columns)


@dataclass
class LoadedModel:
    """A loaded model, the version it is, and the validator built from its schema."""

    ref: ResolvedModel
    model: Model
    validator: RowValidator
    loaded_at: float = field(default_factory=time.time)

    @classmethod
    def load(cls, ref: ResolvedModel) -> LoadedModel:
        """Load and check the model folder of ``ref``."""
        model = Model.load(ref.path)
        return cls(ref, model, RowValidator(model.schema_))

    @property
    def class_keys(self) -> list[str] | None:
        """Class labels as JSON object keys (text), or None for regression."""
        classes = self.model.classes_
        if self.model.task_ == "regression" or classes is None:
            return None
        return [str(c) for c in classes]

    def score(self, batch: RowBatch) -> Scored:
        """Predictions for every row of ``batch``; rows that cannot be scored get a reason."""
        if batch.frame is not None:
            return self._score_frame(batch.frame)
        assert batch.columns is not None
        typed = typed_features(batch.columns, self.model.schema_, batch.n_rows)
        labels: np.ndarray = np.zeros(0, dtype=object)
        raw: np.ndarray = np.zeros((0, len(self.model.classes_ or [])))
        if len(typed.keep):
            labels, raw = self.model.score_features(typed.features)
        return self._assemble(batch.n_rows, typed.keep, labels, raw, typed.reasons)

    def _score_frame(self, frame: pd.DataFrame) -> Scored:
        result = self.model.score(frame)
        keep = np.asarray(frame.index.get_indexer(result.frame.index), dtype=np.int64)
        labels = result.frame["prediction"].to_numpy()
        keys = self.class_keys
        raw = (
            result.frame[[f"proba_{c}" for c in self.model.classes_ or []]].to_numpy()
            if keys
            else labels
        )
        reasons = {
            int(row): str(reason)
            for row, reason in zip(result.rejects["_row"], result.rejects["_reason"], strict=True)
        }
        return self._assemble(len(frame), keep, labels, raw, reasons)

    def _assemble(
        self,
        n_rows: int,
        keep: np.ndarray,
        labels: np.ndarray,
        raw: np.ndarray,
        reasons: dict[int, str],
    ) -> Scored:
        predictions: list[Any] = [None] * n_rows
        classifier = self.class_keys is not None
        probabilities: list[list[float] | None] | None = [None] * n_rows if classifier else None
        label_list = labels.tolist()
        proba_list = raw.tolist() if classifier else []
        for j, row in enumerate(keep.tolist()):
            predictions[row] = label_list[j]
            if probabilities is not None:
                probabilities[row] = proba_list[j]
        return Scored(predictions, probabilities, reasons)
