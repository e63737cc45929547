"""The binary decision threshold, chosen on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np

from mlwright.errors import ConfigError, DataError
from mlwright.evaluation.metrics import METRICS

__all__ = ["choose_threshold"]

_MAX_CANDIDATES = 1000


def choose_threshold(
    y: np.ndarray,
    p1: np.ndarray,
    *,
    metric: str = "f1",
    costs: tuple[float, float] | None = None,
) -> float:
    """The threshold on ``p1`` (predict positive when ``p1 >= t``) that scores best on ``y``.

    Parameters
    ----------
    y:
        Binary targets, 0 or 1.
    p1:
        Out-of-fold probabilities of the positive class.
    metric:
        "accuracy", "balanced_accuracy" or "mcc" maximise that metric; any other metric name
        (roc_auc, log_loss, f1, ...) maximises F1.
    costs:
        ``(fp_cost, fn_cost)``: minimise the total cost of errors instead.

    Returns
    -------
    The threshold; 0.5 when ``y`` holds a single class.

    Example
    -------
    >>> import numpy as np
    >>> round(choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.35, 0.8])), 3)
    0.325
    """
    if metric not in METRICS:
        raise ConfigError(
            f"unknown metric '{metric}' for the threshold; expected one of "
            f"{', '.join(sorted(METRICS))}. Pass metric='f1' to maximise F1."
        )
    y = np.asarray(y).astype(np.int64).ravel()
    p1 = np.asarray(p1, dtype=float).ravel()
    if len(y) != len(p1) or len(y) == 0:
        raise DataError(
            f"choose_threshold got {len(y)} targets and {len(p1)} probabilities; expected the "
            "same, non-zero number. Pass out-of-fold probabilities for every training row."
        )
    if costs is not None and (len(costs) != 2 or min(costs) < 0):
        raise ConfigError(
            f"costs must be (fp_cost, fn_cost), both >= 0; got {costs}. Pass e.g. costs=(1, 5)."
        )
    n_pos = int((y == 1).sum())
    if n_pos in (0, len(y)):
        return 0.5
    candidates = _candidates(p1)
    # for each candidate: positives and negatives with p1 >= t
    tp = n_pos - np.searchsorted(np.sort(p1[y == 1]), candidates, side="left")
    fp = (len(y) - n_pos) - np.searchsorted(np.sort(p1[y != 1]), candidates, side="left")
    value = _objective(tp.astype(float), fp.astype(float), n_pos, len(y) - n_pos, metric, costs)
    return float(candidates[int(np.argmax(value))])


def _candidates(p1: np.ndarray) -> np.ndarray:
    """Thresholds that separate each pair of neighbouring distinct probabilities, plus both ends."""
    distinct = np.unique(p1)
    if len(distinct) > _MAX_CANDIDATES:
        quantiles = np.linspace(0, 1, _MAX_CANDIDATES)
        distinct = np.unique(np.quantile(p1, quantiles, method="inverted_cdf"))
    # midpoints leave the training predictions unchanged and keep a margin on new data
    mids = (distinct[:-1] + distinct[1:]) / 2
    top = (distinct[-1] + 1.0) / 2 if distinct[-1] < 1.0 else np.nextafter(1.0, 2.0)
    return np.concatenate([[distinct[0]], mids, [top]])


def _objective(
    tp: np.ndarray,
    fp: np.ndarray,
    n_pos: int,
    n_neg: int,
    metric: str,
    costs: tuple[float, float] | None,
) -> np.ndarray:
    """A score to maximise for each candidate threshold."""
    fn, tn = n_pos - tp, n_neg - fp
    if costs is not None:
        value = -(costs[0] * fp + costs[1] * fn)
    elif metric == "accuracy":
        value = (tp + tn) / (n_pos + n_neg)
    elif metric == "balanced_accuracy":
        value = 0.5 * (tp / n_pos + tn / n_neg)
    elif metric == "mcc":
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        value = np.divide(tp * tn - fp * fn, den, out=np.zeros_like(den), where=den > 0)
    else:
        value = 2 * tp / (2 * tp + fp + fn)  # n_pos > 0, so the denominator is never zero
    return np.asarray(value, dtype=float)
