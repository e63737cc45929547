"""Metrics: one named, typed object per score, each computed on weighted rows.

Every metric is written once as a *batched* function of ``(y, pred, weights)``, where ``weights``
has one row of per-sample counts per replicate. A plain score uses a single row of ones; the
bootstrap uses one row of resampling counts per resample, which makes 1000 resamples a handful
of matrix operations instead of 1000 calls. The values equal ``sklearn.metrics`` (checked in the
tests); undefined cases (one class present for roc_auc) give ``nan`` and never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mlwright.errors import ConfigError, DataError

__all__ = [
    "METRICS",
    "TASKS",
    "Metric",
    "default_metric",
    "get_metric",
    "report_metrics",
]

TASKS = ("binary", "multiclass", "regression")
_EPS = float(np.finfo(np.float64).eps)

BatchFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A named score with its direction, what it reads and the tasks it applies to.

    Example
    -------
    >>> import numpy as np
    >>> get_metric("accuracy", "binary").score(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]))
    1.0
    """

    name: str
    greater_is_better: bool
    needs: Literal["proba", "label", "value"]
    tasks: frozenset[str]
    batch: BatchFn = field(repr=False, compare=False)

    def score(
        self,
        y: np.ndarray,
        pred: np.ndarray,
        *,
        threshold: float = 0.5,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """The metric on all rows (weighted by ``sample_weight`` when given); label metrics cut
        binary ``pred[:, 1]`` at ``threshold``."""
        y, pred = prepare(y, pred, self)
        if len(y) == 0:
            return float("nan")
        weights = np.ones((1, len(y)))
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=float).reshape(1, len(y))
        return float(self.batch(y, pred, weights, threshold)[0])

    def loss(
        self,
        y: np.ndarray,
        pred: np.ndarray,
        *,
        threshold: float = 0.5,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """A value to minimise: the score, negated when greater is better; ``inf`` if undefined."""
        value = self.score(y, pred, threshold=threshold, sample_weight=sample_weight)
        if np.isnan(value):
            return float("inf")
        return -value if self.greater_is_better else value

    def batch_scores(
        self, y: np.ndarray, pred: np.ndarray, weights: np.ndarray, *, threshold: float = 0.5
    ) -> np.ndarray:
        """One score per row of ``weights`` (per-sample counts), as the bootstrap needs."""
        y, pred = prepare(y, pred, self)
        return self.batch(y, pred, np.atleast_2d(np.asarray(weights, dtype=float)), threshold)


def prepare(y: np.ndarray, pred: np.ndarray, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and bring ``y``/``pred`` to the conventions the batched functions expect."""
    y = np.asarray(y)
    pred = np.asarray(pred, dtype=float)
    if metric.needs == "value":
        y = y.astype(float).ravel()
        pred = pred.ravel()
    else:
        y = y.astype(np.int64).ravel()
        if pred.ndim == 1:  # binary probabilities of the positive class only
            pred = np.column_stack([1.0 - pred, pred])
        if len(y) and (y.min() < 0 or y.max() >= pred.shape[1]):
            raise DataError(
                f"metric '{metric.name}' got class indices {int(y.min())}..{int(y.max())} but "
                f"predictions for {pred.shape[1]} classes; y must hold indices 0..k-1 matching "
                "the prediction columns. Encode the target with the training classes."
            )
    if len(pred) != len(y):
        raise DataError(
            f"metric '{metric.name}' got {len(y)} targets but {len(pred)} predictions; "
            "they must have one row each. Pass predictions for the same rows as y."
        )
    return y, pred


# -- building blocks -------------------------------------------------------------------------------
def _safe_div(num: np.ndarray, den: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``num / den`` with ``fill`` where the denominator is zero, without warnings."""
    out = np.full(np.broadcast(num, den).shape, fill, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def group_sums(weights: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-replicate sums of ``weights`` over rows sharing a group id: shape (B, n_groups)."""
    if len(groups) == 0:
        return np.zeros((weights.shape[0], n_groups))
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sums = weights[:, order]
    if len(starts) < len(groups):  # some rows share a group
        sums = np.add.reduceat(sums, starts, axis=1)
    if len(starts) == n_groups:  # every group present, already in order
        return np.asarray(sums)
    out = np.zeros((weights.shape[0], n_groups))
    out[:, sorted_groups[starts]] = sums
    return out


def _labels(pred: np.ndarray, threshold: float) -> np.ndarray:
    if pred.shape[1] == 2:
        return (pred[:, 1] >= threshold).astype(np.int64)
    return np.asarray(np.argmax(pred, axis=1), dtype=np.int64)


def confusion_counts(
    y: np.ndarray, pred: np.ndarray, w: np.ndarray, threshold: float
) -> np.ndarray:
    """Weighted confusion matrices, shape (B, k, k): rows actual, columns predicted."""
    k = pred.shape[1]
    codes = y * k + _labels(pred, threshold)
    return group_sums(w, codes, k * k).reshape(w.shape[0], k, k)


# -- label metrics, all from confusion matrices ----------------------------------------------------
def _binary_counts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return cm[:, 1, 1], cm[:, 0, 1], cm[:, 1, 0]  # tp, fp, fn


def _accuracy(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    cm = confusion_counts(y, pred, w, t)
    return _safe_div(np.trace(cm, axis1=1, axis2=2), cm.sum(axis=(1, 2)), np.nan)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    cm = confusion_counts(y, pred, w, t)
    support = cm.sum(axis=2)
    recall = _safe_div(np.diagonal(cm, axis1=1, axis2=2), support)
    present = (support > 0).sum(axis=1)
    return _safe_div((recall * (support > 0)).sum(axis=1), present, np.nan)


def _f1(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    tp, fp, fn = _binary_counts(confusion_counts(y, pred, w, t))
    return _safe_div(2 * tp, 2 * tp + fp + fn)


def _precision(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    tp, fp, _ = _binary_counts(confusion_counts(y, pred, w, t))
    return _safe_div(tp, tp + fp)


def _recall(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    tp, _, fn = _binary_counts(confusion_counts(y, pred, w, t))
    return _safe_div(tp, tp + fn)


def _f1_macro(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    cm = confusion_counts(y, pred, w, t)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    actual, predicted = cm.sum(axis=2), cm.sum(axis=1)
    f1 = _safe_div(2 * tp, actual + predicted)
    seen = (actual + predicted) > 0  # sklearn averages over labels seen in y or in predictions
    return _safe_div((f1 * seen).sum(axis=1), seen.sum(axis=1), np.nan)


def _mcc(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    cm = confusion_counts(y, pred, w, t)
    actual, predicted = cm.sum(axis=2), cm.sum(axis=1)
    correct = np.trace(cm, axis1=1, axis2=2)
    total = cm.sum(axis=(1, 2))
    cov_tp = correct * total - (actual * predicted).sum(axis=1)
    cov_pp = total**2 - (predicted**2).sum(axis=1)
    cov_tt = total**2 - (actual**2).sum(axis=1)
    return _safe_div(cov_tp, np.sqrt(cov_pp * cov_tt))


# -- probability metrics ---------------------------------------------------------------------------
def _log_loss(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    p = np.clip(pred[np.arange(len(y)), y], _EPS, 1 - _EPS)
    return _safe_div(w @ -np.log(p), w.sum(axis=1), np.nan)


def _ranked_pairs(
    positive: np.ndarray, score: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted negatives and positives per distinct score, ascending: two (B, G) arrays."""
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    ranked_w = w[:, order]
    pos = ranked_w * positive[order]
    neg = ranked_w - pos
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    if len(starts) < len(ranked):  # tied scores form one group
        pos = np.add.reduceat(pos, starts, axis=1)
        neg = np.add.reduceat(neg, starts, axis=1)
    return neg, pos


def binary_auc(positive: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC AUC per replicate from ranks (ties count half); ``nan`` where one class is absent."""
    if len(score) == 0:
        return np.full(w.shape[0], np.nan)
    neg, pos = _ranked_pairs(positive, score, w)
    below = np.cumsum(neg, axis=1) - 0.5 * neg
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    return _safe_div((pos * below).sum(axis=1), n_pos * n_neg, np.nan)


def _roc_auc(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    if pred.shape[1] == 2:
        return binary_auc(y == 1, pred[:, 1], w)
    # one-vs-rest macro average over the classes that are defined in each replicate
    per_class = np.stack([binary_auc(y == c, pred[:, c], w) for c in range(pred.shape[1])])
    defined = ~np.isnan(per_class)
    return _safe_div(np.where(defined, per_class, 0.0).sum(axis=0), defined.sum(axis=0), np.nan)


def _average_precision(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    if len(y) == 0:
        return np.full(w.shape[0], np.nan)
    neg, pos = _ranked_pairs(y == 1, pred[:, 1], w)
    neg, pos = neg[:, ::-1], pos[:, ::-1]  # highest score first
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = _safe_div(tp, tp + fp)
    return _safe_div((pos * precision).sum(axis=1), pos.sum(axis=1), np.nan)


# -- regression metrics ----------------------------------------------------------------------------
def _mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _safe_div(w @ values, w.sum(axis=1), np.nan)


def _rmse(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    return np.asarray(np.sqrt(_mean((y - pred) ** 2, w)))


def _mae(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    return _mean(np.abs(y - pred), w)


def _mape(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    return _mean(np.abs(y - pred) / np.maximum(np.abs(y), _EPS), w)


def _r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    centred = y - y.mean() if len(y) else y  # centring first keeps the sums of squares accurate
    total = w.sum(axis=1)
    mean = _safe_div(w @ centred, total, np.nan)
    ss_tot = w @ centred**2 - total * mean**2
    ss_res = w @ (y - pred) ** 2
    # a constant target leaves r2 undefined; rounding can leave a tiny positive ss_tot
    defined = ss_tot > 1e-12 * np.maximum(w @ centred**2, _EPS)
    return np.where(defined, 1 - _safe_div(ss_res, ss_tot, np.nan), np.nan)


def _median_ae(y: np.ndarray, pred: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    errors = np.abs(y - pred)
    order = np.argsort(errors, kind="stable")
    ranked = errors[order]
    cumulative = np.cumsum(w[:, order], axis=1)
    total = cumulative[:, -1:] if len(y) else np.zeros((w.shape[0], 1))
    # the median of the expanded sample averages the values at positions (n-1)//2 and n//2
    lo = np.argmax(cumulative > np.floor((total - 1) / 2), axis=1)
    hi = np.argmax(cumulative > np.floor(total / 2), axis=1)
    value = (ranked[lo] + ranked[hi]) / 2 if len(y) else np.zeros(w.shape[0])
    return np.where(total[:, 0] > 0, value, np.nan)


_CLASSIFICATION = frozenset({"binary", "multiclass"})
_BINARY = frozenset({"binary"})
_REGRESSION = frozenset({"regression"})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", True, "proba", _CLASSIFICATION, _roc_auc),
        Metric("log_loss", False, "proba", _CLASSIFICATION, _log_loss),
        Metric("accuracy", True, "label", _CLASSIFICATION, _accuracy),
        Metric("balanced_accuracy", True, "label", _CLASSIFICATION, _balanced_accuracy),
        Metric("f1", True, "label", _BINARY, _f1),
        Metric("f1_macro", True, "label", _CLASSIFICATION, _f1_macro),
        Metric("precision", True, "label", _BINARY, _precision),
        Metric("recall", True, "label", _BINARY, _recall),
        Metric("average_precision", True, "proba", _BINARY, _average_precision),
        Metric("mcc", True, "label", _CLASSIFICATION, _mcc),
        Metric("rmse", False, "value", _REGRESSION, _rmse),
        Metric("mae", False, "value", _REGRESSION, _mae),
        Metric("r2", True, "value", _REGRESSION, _r2),
        Metric("mape", False, "value", _REGRESSION, _mape),
        Metric("median_ae", False, "value", _REGRESSION, _median_ae),
    ]
}

_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
_REPORTED = {
    "binary": [
        "roc_auc",
        "log_loss",
        "accuracy",
        "f1",
        "precision",
        "recall",
        "average_precision",
    ],
    "multiclass": ["log_loss", "accuracy", "balanced_accuracy", "f1_macro"],
    "regression": ["rmse", "mae", "r2", "median_ae"],
}


def check_task(task: str) -> None:
    """Raise ConfigError unless ``task`` is binary, multiclass or regression."""
    if task not in TASKS:
        raise ConfigError(
            f"unknown task '{task}'; expected one of {', '.join(TASKS)}. "
            "Pass task= one of these or leave it empty to detect it from the target."
        )


def get_metric(name: str, task: str) -> Metric:
    """The metric called ``name``, checked to apply to ``task``.

    Example
    -------
    >>> get_metric("rmse", "regression").greater_is_better
    False
    """
    check_task(task)
    metric = METRICS.get(name)
    if metric is None or task not in metric.tasks:
        valid = sorted(n for n, m in METRICS.items() if task in m.tasks)
        problem = (
            f"unknown metric '{name}'"
            if metric is None
            else f"metric '{name}' does not apply to a {task} task"
        )
        raise ConfigError(
            f"{problem}; valid metrics for a {task} task are: {', '.join(valid)}. "
            "Pass metric= one of these."
        )
    return metric


def default_metric(task: str) -> str:
    """The metric optimised when none is given: roc_auc, log_loss or rmse."""
    check_task(task)
    return _DEFAULTS[task]


def report_metrics(task: str, primary: str) -> list[str]:
    """The metrics an evaluation reports: ``primary`` first, then the usual ones for ``task``."""
    get_metric(primary, task)
    return [primary] + [name for name in _REPORTED[task] if name != primary]
