"""Performance in a window: realized where labels exist, estimated from confidence where not.

Estimation follows confidence-based performance estimation (CBPE, as in NannyML): with calibrated
probabilities, the chance that a prediction is right is its probability, so the expected accuracy
of a window is the mean of ``p`` for rows predicted positive and ``1 - p`` for the rest (the top
class's probability for multiclass), and the expected ROC AUC counts each (row, row) pair by the
chance that the first is positive and the second negative. This holds under covariate shift
(``P(y | x)`` unchanged) and fails under concept change, which only labels reveal.

The model's own calibration (one temperature) can leave a bias (e.g. a too-low base rate), so, as
NannyML does, the scores are first recalibrated with an isotonic map fitted on the reference's
out-of-fold scores and labels: P(y = 1 | p) for binary, P(correct | top probability) for
multiclass.

A metric *drops* when it is significantly below the reference (one-sided z-test, in the window's
Holm family) by at least 2 points (accuracy, ROC AUC) or RMSE is at least 10% higher. An
*estimated* accuracy must be 5 points lower: the estimate inherits the model's calibration, and a
bagged ensemble's probabilities on new rows can be a few points less (or more) confident than the
out-of-fold ones the recalibration learns from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlwright.evaluation.bootstrap import bootstrap_interval
from mlwright.evaluation.metrics import get_metric
from mlwright.monitoring.reference import ReferenceProfile

__all__ = [
    "MIN_DROP",
    "MetricCheck",
    "PerformanceReport",
    "estimate_performance",
    "expected_accuracy",
    "expected_roc_auc",
    "recalibration",
]

MIN_DROP = {"accuracy": 0.02, "roc_auc": 0.02, "rmse": 0.10}  # rmse: relative rise
MIN_ESTIMATED_DROP = 0.05  # of estimated accuracy, which carries the model's calibration error
_MIN_LABELS = 30
_BOOT = 200


@dataclass
class MetricCheck:
    """One metric in the window against the reference, realized or estimated."""

    name: str
    value: float
    reference: float | None
    estimated: bool
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    p_threshold: float | None = None
    significant: bool = False

    @property
    def dropped(self) -> bool:
        """Significantly worse than the reference, by at least ``MIN_DROP``."""
        if not self.significant or self.reference is None:
            return False
        if self.name == "rmse":
            return self.value >= self.reference * (1 + MIN_DROP["rmse"])
        floor = MIN_ESTIMATED_DROP if self.estimated else MIN_DROP[self.name]
        return self.reference - self.value >= floor

    def sentence(self) -> str:
        """What happened and what to do, for a person."""
        how = "estimated from the model's confidence" if self.estimated else "measured on labels"
        advice = (
            "compare with labelled rows as they arrive, and retrain if it holds"
            if self.estimated
            else "investigate recent changes and retrain on recent data"
        )
        return (
            f"{self.name} is {self.value:.4g} ({how}), against {self.reference:.4g} in "
            f"cross-validation; {advice}."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "value": _num(self.value),
            "reference": _num(self.reference),
            "interval": None if self.interval is None else [_num(v) for v in self.interval],
            "p_value": _num(self.p_value),
            "threshold": _num(self.p_threshold),
            "dropped": self.dropped,
        }


def _num(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(f"{value:.6g}")


@dataclass
class PerformanceReport:
    """Realized metrics on the labelled rows, estimated metrics on all rows (classifiers)."""

    task: str
    rows: int
    labelled_rows: int
    realized: list[MetricCheck] = field(default_factory=list)
    estimated: list[MetricCheck] = field(default_factory=list)

    @property
    def checks(self) -> list[MetricCheck]:
        """Every metric, realized first."""
        return [*self.realized, *self.estimated]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "labelled_rows": self.labelled_rows,
            "realized": {m.name: m.to_dict() for m in self.realized},
            "estimated": {m.name: m.to_dict() for m in self.estimated},
        }


def _confidence(proba: np.ndarray) -> np.ndarray:
    """What the recalibration maps: P(positive) for binary, the top probability otherwise."""
    out: np.ndarray = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    return out


def recalibration(reference: ReferenceProfile) -> tuple[np.ndarray, np.ndarray] | None:
    """Knots ``(x, y)`` of the isotonic map from confidence to probability, fitted on the
    reference's out-of-fold scores and labels (None without them, or for regression)."""
    scores, labels = reference.scores, reference.labels
    if reference.task == "regression" or scores is None or labels is None or len(labels) < 100:
        return None
    y = labels.astype(np.int64)
    x = _confidence(scores)
    hit = (y == 1) if scores.shape[1] == 2 else (np.argmax(scores, axis=1) == y)
    order = np.argsort(x, kind="stable")
    from scipy import optimize

    fitted = optimize.isotonic_regression(hit[order].astype(float)).x
    knots, group = np.unique(x[order], return_inverse=True)
    level = np.bincount(group, weights=fitted) / np.bincount(group)
    return knots, level


def expected_accuracy(
    proba: np.ndarray,
    threshold: float | None = None,
    knots: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per row, the chance that the prediction is right, given probabilities ``proba`` (n, k).

    Binary rows are predicted positive when ``p >= threshold`` (0.5 when None). ``knots``
    (from ``recalibration``) maps the model's confidence to a calibrated probability first.
    """
    proba = np.asarray(proba, dtype=float)
    confidence = _confidence(proba)
    calibrated = confidence if knots is None else np.interp(confidence, *knots)
    if proba.shape[1] == 2:
        cut = 0.5 if threshold is None else threshold
        correct: np.ndarray = np.where(confidence >= cut, calibrated, 1.0 - calibrated)
        return correct
    return calibrated


def expected_roc_auc(score: np.ndarray, p: np.ndarray | None = None) -> float:
    """ROC AUC expected from scores and calibrated positive-class probabilities ``p``.

    Each ordered pair (i, j) with ``score_i > score_j`` counts ``p_i (1 - p_j)`` (i positive,
    j negative), ties half, divided by the expected number of (positive, negative) pairs.
    ``p`` defaults to ``score`` (already calibrated).
    """
    score = np.asarray(score, dtype=float)
    p = score if p is None else np.asarray(p, dtype=float)
    q = 1.0 - p
    values, group = np.unique(score, return_inverse=True)
    group_q = np.bincount(group, weights=q, minlength=len(values))
    below = np.cumsum(group_q) - group_q  # negatives' mass strictly below each value
    numerator = np.sum(p * (below[group] + 0.5 * (group_q[group] - q)))
    denominator = p.sum() * q.sum() - np.sum(p * q)
    return float(numerator / denominator) if denominator > 0 else float("nan")


def _drop_p(value: float, reference: float, variance: float) -> float:
    """One-sided p-value that the window's metric is below the reference."""
    if not np.isfinite(variance) or variance <= 0:
        return 1.0 if value >= reference else 0.0
    from scipy import stats

    return float(stats.norm.sf((reference - value) / np.sqrt(variance)))


def _auc_variance(auc: float, positives: float, negatives: float) -> float:
    """Hanley & McNeil (1982) variance of an ROC AUC."""
    if positives < 1 or negatives < 1 or not np.isfinite(auc):
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    num = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return float(num / (positives * negatives))


def estimate_performance(
    reference: ReferenceProfile,
    predictions: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    seed: int = 0,
) -> PerformanceReport:
    """Realized metrics on rows with a label, estimated metrics on every row (classifiers).

    Parameters
    ----------
    predictions:
        The model's output for the window: probabilities ``(n, k)`` or values ``(n,)``.
    labels:
        Encoded targets for the same rows (class indices, or values); NaN where unknown.

    Example:
        >>> report = estimate_performance(model.reference_, proba)
        >>> report.to_dict()["estimated"]["accuracy"]["value"]
    """
    task = reference.task
    predictions = np.asarray(predictions, dtype=float)
    n = len(predictions)
    known = np.zeros(n, dtype=bool)
    if labels is not None:
        known = np.isfinite(np.asarray(labels, dtype=float))
    report = PerformanceReport(task, n, int(known.sum()))
    if report.labelled_rows >= _MIN_LABELS and labels is not None:
        y = np.asarray(labels, dtype=float)[known]
        report.realized = _realized(reference, predictions[known], y, seed)
    if task != "regression" and n:
        report.estimated = _estimated(
            reference, predictions, test=report.labelled_rows < _MIN_LABELS
        )
    return report


def _realized(
    reference: ReferenceProfile, pred: np.ndarray, y: np.ndarray, seed: int
) -> list[MetricCheck]:
    task, perf, n = reference.task, reference.performance, len(y)
    ref_rows = perf.get("rows", 0.0)
    out = []
    if task == "regression":
        errors = (pred.ravel() - y) ** 2
        rmse = float(np.sqrt(errors.mean()))
        check = MetricCheck("rmse", rmse, perf.get("rmse"), estimated=False)
        check.interval = bootstrap_interval(
            get_metric("rmse", task), y, pred.ravel(), n_boot=_BOOT, seed=seed
        )
        if check.reference is not None:
            variance = errors.var() / n + perf.get("mse_var", 0.0) / max(ref_rows, 1.0)
            # the MSE rising is the metric "dropping": flip the signs for the one-sided test
            check.p_value = _drop_p(-float(errors.mean()), -(check.reference**2), variance)
        return [check]
    cut = 0.5 if reference.threshold is None else reference.threshold
    classes = y.astype(np.int64)
    names = ["accuracy", "roc_auc"] if task == "binary" else ["accuracy"]
    for name in names:
        metric = get_metric(name, task)
        value = metric.score(classes, pred, threshold=cut)
        check = MetricCheck(name, value, perf.get(name), estimated=False)
        check.interval = bootstrap_interval(
            metric, classes, pred, n_boot=_BOOT, seed=seed, threshold=cut
        )
        if check.reference is not None and np.isfinite(value):
            if name == "accuracy":
                variance = value * (1 - value) / n + check.reference * (1 - check.reference) / max(
                    ref_rows, 1.0
                )
            else:
                pos = float(classes.sum())
                ref_pos = perf.get("positives", ref_rows / 2)
                variance = _auc_variance(value, pos, n - pos) + _auc_variance(
                    check.reference, ref_pos, ref_rows - ref_pos
                )
            check.p_value = _drop_p(value, check.reference, variance)
        out.append(check)
    return out


def _estimated(reference: ReferenceProfile, proba: np.ndarray, *, test: bool) -> list[MetricCheck]:
    perf, n = reference.performance, len(proba)
    knots = recalibration(reference)
    correct = expected_accuracy(proba, reference.threshold, knots)
    check = MetricCheck("accuracy", float(correct.mean()), perf.get("accuracy"), estimated=True)
    if test and check.reference is not None and n >= _MIN_LABELS:
        ref_rows = max(perf.get("rows", 0.0), 1.0)
        variance = correct.var() / n + check.reference * (1 - check.reference) / ref_rows
        check.p_value = _drop_p(check.value, check.reference, variance)
    out = [check]
    if reference.task == "binary":
        p = proba[:, 1] if knots is None else np.interp(proba[:, 1], *knots)
        auc = expected_roc_auc(proba[:, 1], p)
        out.append(MetricCheck("roc_auc", auc, perf.get("roc_auc"), estimated=True))
    return out
