"""LoadedModel: a model ready to serve, and how it scores request rows."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlwright.data.conform import conform
from mlwright.data.typed import typed_features
from mlwright.errors import MlwrightWarning
from mlwright.model import Model
from mlwright.serving.guardrails import Guardrails
from mlwright.serving.rows import RowBatch, RowValidator
from mlwright.serving.sources import ResolvedModel
from mlwright.settings import GuardrailSettings

__all__ = ["LoadedModel", "Scored", "merge_batches"]


@dataclass
class Scored:
    """Per-row results: a prediction (None for a reject), class probabilities (classifiers;
    None for a reject), the reason for each rejected row position, and each row's guardrail
    entry (None where no rule fired; the whole list None when guardrails are off)."""

    predictions: list[Any]
    probabilities: list[list[float] | None] | None
    reasons: dict[int, str] = field(default_factory=dict)
    guardrails: list[dict[str, Any] | None] | None = None

    def split(self, sizes: list[int]) -> list[Scored]:
        """Cut into consecutive parts of ``sizes`` rows (undoing ``merge_batches``)."""
        parts, start = [], 0
        for size in sizes:
            stop = start + size
            reasons = {r - start: why for r, why in self.reasons.items() if start <= r < stop}
            proba = None if self.probabilities is None else self.probabilities[start:stop]
            rails = None if self.guardrails is None else self.guardrails[start:stop]
            parts.append(Scored(self.predictions[start:stop], proba, reasons, rails))
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
    """A loaded model, the version it is, the validator built from its schema and its
    guardrails (None when every rule is off)."""

    ref: ResolvedModel
    model: Model
    validator: RowValidator
    loaded_at: float = field(default_factory=time.time)
    guardrails: Guardrails | None = None

    @classmethod
    def load(cls, ref: ResolvedModel, guardrails: GuardrailSettings | None = None) -> LoadedModel:
        """Load and check the model folder of ``ref``, and build its guardrails."""
        model = Model.load(ref.path)
        rails = Guardrails.build(guardrails, model)
        return cls(ref, model, RowValidator(model.schema_), guardrails=rails)

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
        return self._predict(batch.n_rows, typed.features, typed.keep, typed.reasons, typed.columns)

    def _score_frame(self, frame: pd.DataFrame) -> Scored:
        """As ``Model.score``, keeping the typed features for the guardrails."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed = conform(frame, self.model.schema_)
        rejects = conformed.rejects
        reasons = {
            int(row): str(reason)
            for row, reason in zip(rejects["_row"], rejects["_reason"], strict=True)
        }
        keep = np.asarray(conformed.row_positions, dtype=np.int64)
        return self._predict(len(frame), conformed.features, keep, reasons)

    def _predict(
        self,
        n_rows: int,
        features: pd.DataFrame,
        keep: np.ndarray,
        reasons: dict[int, str],
        columns: dict[str, np.ndarray] | None = None,
    ) -> Scored:
        labels: np.ndarray = np.zeros(0, dtype=object)
        raw: np.ndarray = np.zeros((0, len(self.model.classes_ or [])))
        if len(keep):
            labels, raw = self.model.score_features(features)
        scored = self._assemble(n_rows, keep, labels, raw, reasons)
        if self.guardrails is not None:
            self._guard(scored, features if columns is None else columns, keep, raw)
        return scored

    def _guard(
        self,
        scored: Scored,
        features: pd.DataFrame | dict[str, np.ndarray],
        keep: np.ndarray,
        raw: np.ndarray,
    ) -> None:
        """Check the scored rows against the guardrails; apply the "default" action."""
        assert self.guardrails is not None
        entries: list[dict[str, Any] | None] = [None] * len(scored.predictions)
        proba = raw if self.class_keys is not None else None
        checked = self.guardrails.check(features, proba, len(keep)) if len(keep) else []
        for row, entry in zip(keep.tolist(), checked, strict=True):
            if entry is not None:
                scored.predictions[row] = self.guardrails.apply_default(
                    scored.predictions[row], entry
                )
                entries[row] = entry
        scored.guardrails = entries

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
