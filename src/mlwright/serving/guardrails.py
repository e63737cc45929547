"""Per-prediction guardrails: rules on single rows, each with an action.

Rules (``[guardrails]`` in mlwright.toml, or ``mlwright serve --out-of-range ACTION ...``):

- ``out_of_range``: an input far outside the training data. A number beyond the training
  min..max by more than ``out_of_range_k`` times the training range (the column's own scale;
  1 when training saw one value), or a category training never saw. Numeric and categorical
  inputs are checked; text, dates and yes/no columns are not, nor missing values. Both come
  from the reference profile saved with the model (``model.reference_``).
- ``low_confidence``: a classifier's top class probability below ``low_confidence_threshold``
  (regression models have no probabilities: the rule is skipped for them, with a warning).

Actions: ``flag`` reports the rule in the row's ``guardrails`` entry; ``default`` also replaces
the prediction by ``default_prediction`` (the model's own answer stays in the entry as
``model_prediction``); ``review`` reports it with ``"review": true``, and the prediction log's
``flags`` keep ``{"rule": "review"}`` so a reviewer finds the rows later.

Example:
    >>> rails = Guardrails.build(GuardrailSettings(low_confidence="flag"), model)
    >>> rails.check(typed_columns, probabilities, n_rows)  # one entry (or None) per row
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlwright.data.schema import Role
from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.monitoring.reference import CategoricalReference, NumericReference
from mlwright.settings import GuardrailSettings

__all__ = ["RULES", "Guardrails"]

log = logging.getLogger("mlwright.serving")

RULES = ("out_of_range", "low_confidence")
_MAX_REASONS = 5  # per row: the first few inputs out of range


@dataclass(frozen=True)
class _Bounds:
    """The accepted interval of a numeric column and the training range it comes from."""

    name: str
    low: float
    high: float
    minimum: float
    maximum: float


class Guardrails:
    """The guardrail rules of one loaded model, ready to check scored rows.

    Build with ``Guardrails.build(settings, model)``, which returns None when every rule is off,
    so the serving path does nothing at all then.
    """

    def __init__(
        self,
        settings: GuardrailSettings,
        bounds: list[_Bounds],
        seen: dict[str, frozenset[str]],
        default: Any,
        classifier: bool,
    ) -> None:
        self.settings = settings
        self.bounds = bounds
        self.seen = seen
        self._inputs = [b.name for b in bounds] + list(seen)
        self.default = default
        self.out_of_range = settings.out_of_range if settings.out_of_range != "off" else None
        low = settings.low_confidence
        self.low_confidence = low if low != "off" and classifier else None

    @classmethod
    def build(cls, settings: GuardrailSettings | None, model: Model) -> Guardrails | None:
        """The rules of ``settings`` for ``model``, or None when none is on.

        Raises ConfigError when a rule cannot work for this model (no reference profile, or a
        default prediction that is not one of its classes).
        """
        if settings is None or not settings.active:
            return None
        classifier = model.task_ != "regression"
        if settings.low_confidence != "off" and not classifier:
            log.warning(
                "the low_confidence guardrail is skipped: this model does regression and has no "
                "class probabilities"
            )
        bounds: list[_Bounds] = []
        seen: dict[str, frozenset[str]] = {}
        if settings.out_of_range != "off":
            bounds, seen = _training_ranges(model, settings.out_of_range_k)
        uses_default = "default" in (settings.out_of_range, settings.low_confidence)
        default = _default_for(model, settings.default_prediction) if uses_default else None
        rails = cls(settings, bounds, seen, default, classifier)
        return rails if rails.out_of_range or rails.low_confidence else None

    def check(
        self, columns: Mapping[str, np.ndarray] | pd.DataFrame, raw: np.ndarray | None, n: int
    ) -> list[dict[str, Any] | None]:
        """One entry per row of ``columns`` (the ``n`` rows' typed features as scored, by column
        name, or a frame of them): None when no rule fired, else
        ``{rule: action, ..., "reasons": [...]}`` plus ``"review": true`` when the row is routed
        to a human.

        ``raw`` is the model's output for the same rows (class probabilities of a classifier).
        """
        if isinstance(columns, pd.DataFrame):
            columns = {name: columns[name].to_numpy() for name in self._inputs}
        reasons: list[list[str]] = [[] for _ in range(n)]
        fired: list[dict[str, Any]] = [{} for _ in range(n)]
        if self.out_of_range is not None:
            self._out_of_range(columns, reasons, fired)
        if self.low_confidence is not None and raw is not None and n:
            top = np.max(np.asarray(raw, dtype=float), axis=1)
            threshold = self.settings.low_confidence_threshold
            for i in np.flatnonzero(top < threshold).tolist():
                fired[i]["low_confidence"] = self.low_confidence
                reasons[i].append(f"top class probability {top[i]:.3f} is below {threshold:g}")
        out: list[dict[str, Any] | None] = []
        for rules, why in zip(fired, reasons, strict=True):
            if not rules:
                out.append(None)
                continue
            entry: dict[str, Any] = dict(rules)
            if "review" in rules.values():
                entry["review"] = True
            entry["reasons"] = why
            out.append(entry)
        return out

    def _out_of_range(
        self,
        columns: Mapping[str, np.ndarray],
        reasons: list[list[str]],
        fired: list[dict[str, Any]],
    ) -> None:
        # NumPy and Python sets on the typed arrays: a pandas operation per column would cost
        # more than scoring a single row
        action = self.out_of_range
        for b in self.bounds:
            values = np.asarray(columns[b.name], dtype=float)
            with np.errstate(invalid="ignore"):
                outside = np.flatnonzero((values < b.low) | (values > b.high))
            for i in outside.tolist():
                fired[i]["out_of_range"] = action
                if len(reasons[i]) < _MAX_REASONS:
                    reasons[i].append(
                        f"'{b.name}' is {values[i]:g}, far outside the training range "
                        f"{b.minimum:g}..{b.maximum:g}"
                    )
        for name, known in self.seen.items():
            for i, value in enumerate(columns[name].tolist()):
                if value is None or value is pd.NA or value != value:  # missing
                    continue
                text = value if type(value) is str else str(value)
                if text in known:
                    continue
                fired[i]["out_of_range"] = action
                if len(reasons[i]) < _MAX_REASONS:
                    shown = text if len(text) <= 40 else text[:37] + "..."
                    reasons[i].append(f"'{name}' is '{shown}', a category never seen in training")

    def apply_default(self, prediction: Any, entry: dict[str, Any]) -> Any:
        """The answer for a row whose ``entry`` fired: the default when an action says so."""
        if "default" in (entry.get(rule) for rule in RULES):
            entry["model_prediction"] = prediction
            return self.default
        return prediction


def _training_ranges(model: Model, k: float) -> tuple[list[_Bounds], dict[str, frozenset[str]]]:
    reference = model.reference_
    if reference is None:
        raise ConfigError(
            "the out_of_range guardrail needs the model's reference profile, and this model was "
            "saved without one (an older mlwright). Retrain it with this version, or turn the "
            'rule off (out_of_range = "off").'
        )
    roles = {col.name: col.role for col in model.schema_.features}
    bounds: list[_Bounds] = []
    seen: dict[str, frozenset[str]] = {}
    for ref in reference.features:
        role = roles.get(ref.name)
        if isinstance(ref, NumericReference) and role is Role.NUMERIC:
            if not (math.isfinite(ref.minimum) and math.isfinite(ref.maximum)):
                continue
            span = ref.maximum - ref.minimum
            margin = k * (span if span > 0 else max(abs(ref.minimum), 1.0))
            bounds.append(
                _Bounds(ref.name, ref.minimum - margin, ref.maximum + margin, ref.minimum,
                        ref.maximum)
            )  # fmt: skip
        elif isinstance(ref, CategoricalReference) and role is Role.CATEGORICAL:
            if ref.seen is not None:  # None: too many categories to remember
                seen[ref.name] = frozenset(ref.seen)
    return bounds, seen


def _default_for(model: Model, value: str | int | float | None) -> Any:
    """``value`` as the model answers it: one of its classes, or a number for regression."""
    if value is None:
        raise ConfigError(
            "a guardrail has action 'default' but no default_prediction is set; set one (a "
            "class label or a number)."
        )
    if model.task_ == "regression":
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(
                f"default_prediction '{value}' is not a number, and this model does regression. "
                "Set a number."
            ) from None
        if not math.isfinite(number):
            raise ConfigError(f"default_prediction {value} must be a finite number.")
        return number
    classes = list(model.classes_ or [])
    for label in classes:
        if label == value or str(label) == str(value):
            return label.item() if hasattr(label, "item") else label
    raise ConfigError(
        f"default_prediction '{value}' is not one of the model's classes {classes[:20]}. "
        "Set default_prediction to one of them."
    )
