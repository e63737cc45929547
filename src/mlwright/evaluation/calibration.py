"""Probability calibration: temperature scaling fitted on out-of-fold probabilities, and the
expected calibration error that says whether it helped.

Temperature scaling divides the log-probabilities by one number ``T`` and renormalises: it keeps
the ranking of the classes (so ROC AUC and accuracy are unchanged) and fixes over- or
under-confidence, which averaging bagged models and ensembles tends to introduce. One parameter
fitted on thousands of out-of-fold rows cannot overfit in any way that matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlwright.evaluation.metrics import get_metric

__all__ = ["Calibration", "apply_temperature", "expected_calibration_error", "fit_temperature"]

_EPS = 1e-12
_BINS = 10
_LOWEST, _HIGHEST = 0.2, 5.0


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it changed on the out-of-fold rows."""

    temperature: float
    log_loss_before: float
    log_loss_after: float
    ece_before: float
    ece_after: float


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``proba`` (n, k) with log-probabilities divided by ``temperature``, rows renormalised."""
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    out: np.ndarray = scaled / scaled.sum(axis=1, keepdims=True)
    return out


def _log_loss(y: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    task = "binary" if proba.shape[1] == 2 else "multiclass"
    return get_metric("log_loss", task).score(y, proba, sample_weight=weight)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = _BINS) -> float:
    """Mean gap between confidence and accuracy of the top class, over equal-width bins.

    Example
    -------
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 1])
    >>> p = np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9]])
    >>> round(expected_calibration_error(y, p), 3)
    0.1
    """
    y = np.asarray(y, dtype=np.int64)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            gap += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(gap)


def fit_temperature(
    y: np.ndarray, proba: np.ndarray, sample_weight: np.ndarray | None = None
) -> Calibration:
    """The temperature in [0.2, 5] that minimises log loss of ``proba`` on ``y``.

    The bounds keep a correction that out-of-fold rows support; beyond them a model is better
    fixed than rescaled.

    Parameters
    ----------
    y:
        Class indices 0..k-1.
    proba:
        Out-of-fold probabilities (n, k).
    sample_weight:
        Row weights for the log loss, when the training rows are weighted.

    Returns
    -------
    The fitted ``Calibration``; its temperature is 1 (no change) unless scaling lowers the log
    loss.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p1 = rng.uniform(0.05, 0.95, 2000)
    >>> y = (rng.uniform(size=2000) < p1).astype(int)
    >>> sharp = np.column_stack([1 - p1, p1]) ** 3
    >>> sharp /= sharp.sum(axis=1, keepdims=True)  # overconfident: T near 3 undoes it
    >>> round(fit_temperature(y, sharp).temperature)
    3
    """
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=float)
    before = _log_loss(y, proba, sample_weight)
    from scipy.optimize import minimize_scalar  # fitting only

    result = minimize_scalar(
        lambda log_t: _log_loss(y, apply_temperature(proba, float(np.exp(log_t))), sample_weight),
        bounds=(np.log(_LOWEST), np.log(_HIGHEST)),
        method="bounded",
        options={"xatol": 1e-3},
    )
    temperature = float(np.exp(result.x))
    after = float(result.fun)
    if not after < before - 1e-6:
        temperature, after = 1.0, before
    return Calibration(
        temperature=round(temperature, 6),
        log_loss_before=before,
        log_loss_after=after,
        ece_before=expected_calibration_error(y, proba),
        ece_after=expected_calibration_error(y, apply_temperature(proba, temperature)),
    )
