"""MonitorReport: one window judged against the reference, with a status and its reasons.

Every check of the window (feature drift, prediction drift, data quality, performance) gives a
p-value; all are Holm-corrected together at ``alpha`` (1%), so a window where nothing changed
ends up anything but "ok" with probability at most 1%, however many columns the model has.

Status rules:

- **alert**: a feature drifted (significant and PSI >= 0.1), or a realized metric dropped
  (significant, and by >= 2 points, or RMSE >= 10% higher);
- **warning**: the predictions drifted (same rule as features, on the share of each predicted
  class, or on the predicted values for regression: its reference comes from the out-of-fold
  predictions of the fold models, which approximate but are not the deployed ensemble's, so on
  its own it warns), a minor drift (significant, PSI 0.05-0.1), a data-quality check fired (missing
  share +5 points, >= 1% unseen categories, >= 1% out-of-range values, >= 1% unusable rows),
  or, without enough labels, the estimated accuracy dropped by >= 5 points;
- **ok** otherwise, and always for a window of fewer than 30 rows (insufficient data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlwright.monitoring.drift import ALPHA, MIN_ROWS, DriftReport, FeatureDrift, judge
from mlwright.monitoring.drift import measure_drift as _measure_drift
from mlwright.monitoring.performance import PerformanceReport, estimate_performance
from mlwright.monitoring.quality import ColumnQuality, quality_checks
from mlwright.monitoring.reference import ReferenceProfile

__all__ = ["MonitorReport", "encode_labels", "monitor"]


@dataclass
class MonitorReport:
    """The verdict on one window: ``status`` ("ok" | "warning" | "alert") and why."""

    status: str
    reasons: list[str]
    rows: int
    rows_rejected: int
    drift: DriftReport
    quality: list[ColumnQuality]
    performance: PerformanceReport | None
    alpha: float = ALPHA

    @property
    def features(self) -> list[FeatureDrift]:
        """Drift of each input column."""
        return self.drift.features

    @property
    def prediction(self) -> FeatureDrift | None:
        """Drift of the model's scores, when predictions were given."""
        return self.drift.prediction

    @property
    def insufficient_data(self) -> bool:
        """True when the window is too small to judge."""
        return self.rows < MIN_ROWS

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``mlwright monitor --json``."""
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "rows": self.rows,
            "rows_rejected": self.rows_rejected,
            "insufficient_data": self.insufficient_data,
            "alpha": self.alpha,
            "features": [f.to_dict() for f in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "quality": [c.to_dict() for c in self.quality],
            "performance": None if self.performance is None else self.performance.to_dict(),
        }


def encode_labels(reference: ReferenceProfile, labels: Any) -> np.ndarray:
    """Targets as class indices (classifiers) or floats, NaN where missing or unknown."""
    values = pd.Series(labels, dtype=object).reset_index(drop=True)
    if reference.task == "regression" or reference.classes is None:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    lookup: dict[Any, float] = {str(c): float(i) for i, c in enumerate(reference.classes)}
    lookup.update({c: float(i) for i, c in enumerate(reference.classes)})

    def code(v: Any) -> float:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return float("nan")
        found = lookup.get(v, lookup.get(str(v)))
        return float("nan") if found is None else found

    return np.asarray([code(v) for v in values], dtype=float)


def monitor(
    reference: ReferenceProfile,
    features: pd.DataFrame,
    predictions: np.ndarray | None = None,
    labels: Any = None,
    *,
    rows_rejected: int = 0,
    alpha: float = ALPHA,
    seed: int = 0,
) -> MonitorReport:
    """Judge one window of production rows against the reference profile.

    Parameters
    ----------
    features:
        The window's conformed rows (``conform(df, model.schema_).features``).
    predictions:
        The model's output for those rows (probabilities ``(n, k)`` or values); enables
        prediction drift and performance.
    labels:
        The true targets of those rows as labels (missing where not known yet).
    rows_rejected:
        Rows of the window that could not be conformed (unusable values).
    alpha:
        Chance that a window where nothing changed is reported as anything but "ok".

    Example:
        >>> report = monitor(model.reference_, conform(window, model.schema_).features, proba)
        >>> report.status, report.reasons
    """
    n = len(features)
    drift_report = _measure_drift(reference, features, predictions)
    drift_report.alpha = alpha
    encoded = None if labels is None else encode_labels(reference, labels)
    performance = None
    if predictions is not None:
        performance = estimate_performance(reference, predictions, encoded, seed=seed)
    if n < MIN_ROWS:
        reason = (
            f"Insufficient data: {n} row(s) in this window, at least {MIN_ROWS} are needed to "
            "judge drift, so no alarm is raised. Use a longer window."
        )
        return MonitorReport("ok", [reason], n, rows_rejected, drift_report, [], performance, alpha)
    quality = quality_checks(reference, features, rows_rejected)
    checks: list[Any] = [*drift_report.features]
    if drift_report.prediction is not None:
        checks.append(drift_report.prediction)
    checks += [c for q in quality for c in q.checks]
    if performance is not None:
        checks += performance.checks
    judge(checks, alpha)
    status, reasons = _verdict(drift_report, quality, performance, alpha)
    return MonitorReport(
        status, reasons, n, rows_rejected, drift_report, quality, performance, alpha
    )


def _verdict(
    drift_report: DriftReport,
    quality: list[ColumnQuality],
    performance: PerformanceReport | None,
    alpha: float,
) -> tuple[str, list[str]]:
    alerts = [_drift_sentence(f) for f in drift_report.drifted]
    prediction = drift_report.prediction
    warnings = [_drift_sentence(f) for f in drift_report.features if f.minor]
    if prediction is not None and (prediction.drifted or prediction.minor):
        warnings.append(_drift_sentence(prediction))
    warnings += [c.sentence() for q in quality for c in q.checks if c.fired]
    if performance is not None:
        alerts += [m.sentence() for m in performance.realized if m.dropped]
        warnings += [m.sentence() for m in performance.estimated if m.dropped]
    if alerts:
        return "alert", alerts + warnings
    if warnings:
        return "warning", warnings
    sentence = (
        f"No drift, data-quality or performance change found in {drift_report.rows} rows "
        f"(each window has at most a {alpha:.0%} chance of a false alarm)."
    )
    return "ok", [sentence]


def _drift_sentence(f: FeatureDrift) -> str:
    what = "The model's predictions" if f.role == "prediction" else f"Feature '{f.name}'"
    size = "drifted" if f.drifted else "shifted slightly"
    test = "Kolmogorov-Smirnov" if f.test == "ks" else "chi-square"
    action = (
        "check the data source, and retrain if the new distribution is here to stay"
        if f.drifted
        else "keep an eye on it"
    )
    return (
        f"{what} {size}: {f.change}; PSI {f.psi:.3f} (alert at {f.psi_threshold:g}), "
        f"{test} p = {f.p_value:.2g} over {f.rows} values. Action: {action}."
    )
