"""Per-window drift of each feature and of the model's scores against the reference profile.

A feature *drifts* when its test is significant after Holm's correction across every check of the
window AND its PSI is at least 0.1 (the effect-size floor): the test guards small windows against
noise, the floor guards large windows against flagging negligible shifts. A significant change
with PSI between 0.05 and 0.1 is a *minor* drift (a warning, not an alert).

Tests: numeric columns (and text lengths, and binary/regression scores) get the two-sample
Kolmogorov-Smirnov test against the reference sample; numeric columns with at most 20 distinct
values and categorical/boolean columns get a chi-square test on their buckets (rare buckets pooled
so each expects >= 5 window rows). PSI uses deciles (numeric) or the top 20 categories + other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlwright.errors import DataError
from mlwright.monitoring.reference import (
    CategoricalReference,
    FeatureReference,
    NumericReference,
    ReferenceProfile,
    column_values,
    prediction_values,
)
from mlwright.monitoring.stattests import (
    chi_square_test,
    holm_thresholds,
    ks_test,
    pool_buckets,
    psi,
)

__all__ = [
    "ALPHA",
    "MIN_ROWS",
    "PSI_ALERT",
    "PSI_WARN",
    "DriftReport",
    "FeatureDrift",
    "drift",
    "judge",
]

ALPHA = 0.01  # family-wise false-alarm rate of one window, across all its checks
MIN_ROWS = 30  # fewer rows (or values of a column) than this: insufficient data, no test
PSI_ALERT = 0.1  # effect-size floor of a drift alert
PSI_WARN = 0.05  # effect-size floor of a minor-drift warning


class Check(Protocol):
    """A test in a window's family: it has a p-value and receives Holm's verdict."""

    p_value: float | None
    p_threshold: float | None
    significant: bool


def judge(checks: list[Any], alpha: float = ALPHA) -> None:
    """Holm-correct the p-values of ``checks`` (those not None) together, in place."""
    tested = [c for c in checks if c.p_value is not None]
    if not tested:
        return
    thresholds, significant = holm_thresholds([c.p_value for c in tested], alpha)
    for check, threshold, verdict in zip(tested, thresholds, significant, strict=True):
        check.p_threshold = float(threshold)
        check.significant = bool(verdict)


@dataclass
class FeatureDrift:
    """The drift verdict of one column (or of the prediction) in one window.

    ``test`` is "ks", "chi_square" or "none" (not tested: see ``note``). ``drifted`` needs a
    significant test (``p_value <= p_threshold``) and ``psi >= psi_threshold``; ``minor`` is a
    significant test with PSI between ``PSI_WARN`` and ``psi_threshold``. ``change`` describes
    what moved, in words.
    """

    name: str
    role: str
    test: str
    rows: int
    statistic: float | None = None
    p_value: float | None = None
    psi: float | None = None
    p_threshold: float | None = None
    psi_threshold: float = PSI_ALERT
    significant: bool = False
    change: str = ""
    note: str = ""

    @property
    def drifted(self) -> bool:
        """True when the change is both significant and large enough to act on."""
        return self.significant and self.psi is not None and self.psi >= self.psi_threshold

    @property
    def minor(self) -> bool:
        """True when the change is significant but small (PSI between 0.05 and 0.1)."""
        return (
            self.significant and self.psi is not None and PSI_WARN <= self.psi < self.psi_threshold
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``threshold`` is the p-value threshold after correction."""
        return {
            "name": self.name,
            "role": self.role,
            "drifted": self.drifted,
            "minor_drift": self.minor,
            "test": self.test,
            "statistic": _round(self.statistic),
            "p_value": _round(self.p_value),
            "threshold": _round(self.p_threshold),
            "psi": _round(self.psi),
            "psi_threshold": self.psi_threshold,
            "rows": self.rows,
            "change": self.change,
            "note": self.note,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


@dataclass
class DriftReport:
    """Drift of every feature, and of the prediction when scores were given, in one window."""

    rows: int
    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    alpha: float = ALPHA

    @property
    def insufficient(self) -> bool:
        """True when the window is too small to judge (fewer than 30 rows)."""
        return self.rows < MIN_ROWS

    @property
    def drifted(self) -> list[FeatureDrift]:
        """The features that drifted, largest PSI first."""
        found = [f for f in self.features if f.drifted]
        return sorted(found, key=lambda f: -(f.psi or 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rows": self.rows,
            "alpha": self.alpha,
            "features": [f.to_dict() for f in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }


def drift(
    reference: ReferenceProfile,
    features: pd.DataFrame,
    predictions: np.ndarray | None = None,
    *,
    alpha: float = ALPHA,
) -> DriftReport:
    """Test every feature (and the model's scores) of one window against the reference.

    Parameters
    ----------
    features:
        The window's conformed rows (``conform(df, model.schema_).features``).
    predictions:
        The model's output for the same rows: class probabilities ``(n, k)`` or values.
    alpha:
        Chance that a window where nothing changed shows any drift, across all columns.

    Example:
        >>> report = drift(model.reference_, conform(window, model.schema_).features)
        >>> [f.name for f in report.drifted]
    """
    report = measure_drift(reference, features, predictions)
    judge([*report.features, *([report.prediction] if report.prediction else [])], alpha)
    report.alpha = alpha
    return report


def measure_drift(
    reference: ReferenceProfile, features: pd.DataFrame, predictions: np.ndarray | None = None
) -> DriftReport:
    """The tests of ``drift`` without the multiple-testing verdict (``judge`` adds it)."""
    absent = [f.name for f in reference.features if f.name not in features.columns]
    if absent:
        raise DataError(
            f"the window is missing column(s) {absent[:10]} that the reference profiles; "
            "pass the conformed rows of the model's schema (conform(df, model.schema_).features)."
        )
    n = len(features)
    out = []
    for ref in reference.features:
        _, values, _ = column_values(features[ref.name], ref.role)
        out.append(feature_drift(ref, values, n))
    prediction = None
    if predictions is not None and reference.prediction is not None:
        if len(predictions) != n:
            raise DataError(
                f"got {len(predictions)} predictions for {n} rows; expected one per row. "
                "Pass the model's output for the same rows."
            )
        values = prediction_values(
            predictions,
            reference.task,
            reference.classes,
            reference.threshold,
            as_scores=reference.prediction.kind == "numeric",
        )
        prediction = feature_drift(reference.prediction, values, n)
    return DriftReport(n, out, prediction)


def feature_drift(ref: FeatureReference, values: Any, window_rows: int) -> FeatureDrift:
    """Test one column's non-missing window values against its reference (no verdict yet)."""
    if isinstance(ref, NumericReference):
        numbers = np.asarray(values, dtype=float)
        numbers = numbers[np.isfinite(numbers)]
        result = FeatureDrift(ref.name, ref.role, "none", len(numbers))
        if not _enough(result, window_rows):
            return result
        counts = ref.bucket(numbers)
        if ref.discrete:
            result.test = "chi_square"
            result.statistic, result.p_value, result.psi = chi_square_test(
                np.asarray(ref.counts), counts
            )
        else:
            result.test = "ks"
            result.statistic, result.p_value = ks_test(ref.sample, numbers)
            result.psi = _binned_psi(np.asarray(ref.counts), counts)
        result.change = _numeric_change(ref, numbers)
        return result
    if isinstance(ref, CategoricalReference):
        labels = pd.Series(values, dtype=object)
        result = FeatureDrift(ref.name, ref.role, "none", len(labels))
        if not _enough(result, window_rows):
            return result
        counts = ref.bucket(labels)
        result.test = "chi_square"
        result.statistic, result.p_value, result.psi = chi_square_test(
            np.asarray(ref.counts), counts
        )
        result.change = _categorical_change(ref, counts)
        return result
    return FeatureDrift(ref.name, ref.role, "none", 0, note=ref.reason)


def _enough(result: FeatureDrift, window_rows: int) -> bool:
    if result.rows >= MIN_ROWS:
        return True
    where = "rows" if window_rows < MIN_ROWS else "non-missing values"
    result.note = (
        f"insufficient data: {result.rows} {where}, at least {MIN_ROWS} are needed to test it"
    )
    return False


def _binned_psi(reference: np.ndarray, window: np.ndarray) -> float:
    mapping = pool_buckets(reference, int(window.sum()))
    k = int(mapping.max()) + 1
    return psi(
        np.bincount(mapping, weights=reference, minlength=k),
        np.bincount(mapping, weights=window, minlength=k),
    )


def _numeric_change(ref: NumericReference, values: np.ndarray) -> str:
    median = float(np.median(values))
    return f"median {ref.median:.4g} in training, {median:.4g} here"


def _categorical_change(ref: CategoricalReference, counts: np.ndarray) -> str:
    reference = np.asarray(ref.counts) / max(sum(ref.counts), 1.0)
    window = counts / max(counts.sum(), 1.0)
    i = int(np.argmax(np.abs(window - reference)))
    name = ref.categories[i] if i < len(ref.categories) else "other categories"
    return f"'{name}' was {reference[i]:.1%} of rows in training, {window[i]:.1%} here"
