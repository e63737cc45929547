"""Percentile bootstrap confidence intervals for any metric, fast enough to run by default.

Resamples are drawn as rows of per-sample counts and every metric scores a whole block of them
at once (see ``Metric.batch_scores``), so 1000 resamples of 20,000 rows take a fraction of a
second. ``_loop=True`` scores each resample separately instead; the tests use it to check the
fast path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mlwright.errors import ConfigError
from mlwright.evaluation.metrics import Metric

__all__ = ["bootstrap_interval", "bootstrap_intervals"]

_BLOCK_CELLS = 1_000_000  # resamples x rows held in memory at once


def bootstrap_interval(
    metric: Metric,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    threshold: float = 0.5,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over rows; undefined resamples are skipped.

    Parameters
    ----------
    n_boot:
        Number of resamples.
    confidence:
        Coverage of the interval, between 0 and 1.
    seed:
        The same seed gives the same interval.

    Returns
    -------
    (low, high); ``(nan, nan)`` when no resample gives a defined value.

    Example
    -------
    >>> import numpy as np
    >>> from mlwright.evaluation.metrics import get_metric
    >>> y = np.arange(100.0)
    >>> low, high = bootstrap_interval(get_metric("rmse", "regression"), y, y + 1.0)
    >>> (low, high)
    (1.0, 1.0)
    """
    return bootstrap_intervals(
        [metric], y, pred, n_boot=n_boot, confidence=confidence, seed=seed, threshold=threshold
    )[metric.name]


def bootstrap_intervals(
    metrics: Sequence[Metric],
    y: np.ndarray,
    pred: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    threshold: float = 0.5,
    _loop: bool = False,
) -> dict[str, tuple[float, float]]:
    """Intervals for several metrics from the same resamples, keyed by metric name."""
    if not 0 < confidence < 1:
        raise ConfigError(
            f"confidence must be between 0 and 1, got {confidence}. Pass e.g. confidence=0.95."
        )
    values = bootstrap_values(
        metrics, y, pred, n_boot=n_boot, seed=seed, threshold=threshold, _loop=_loop
    )
    alpha = (1 - confidence) / 2
    out: dict[str, tuple[float, float]] = {}
    for name, samples in values.items():
        defined = samples[np.isfinite(samples)]
        if len(defined) == 0:
            out[name] = (float("nan"), float("nan"))
            continue
        low, high = np.quantile(defined, [alpha, 1 - alpha])
        out[name] = (float(low), float(high))
    return out


def bootstrap_values(
    metrics: Sequence[Metric],
    y: np.ndarray,
    pred: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float = 0.5,
    _loop: bool = False,
) -> dict[str, np.ndarray]:
    """The metric value on each of ``n_boot`` resamples (``nan`` where undefined)."""
    if n_boot < 1:
        raise ConfigError(f"n_boot must be at least 1, got {n_boot}. Pass e.g. n_boot=1000.")
    y, pred = np.asarray(y), np.asarray(pred)
    n = len(y)
    values: dict[str, list[np.ndarray]] = {m.name: [] for m in metrics}
    if n == 0:
        return {m.name: np.full(n_boot, np.nan) for m in metrics}
    for idx in _resamples(n, n_boot, seed):
        if _loop:
            for m in metrics:
                scores = [m.score(y[row], pred[row], threshold=threshold) for row in idx]
                values[m.name].append(np.asarray(scores, dtype=float))
            continue
        # counts laid out row-major by sample (column-major weights): gathering and summing
        # groups of samples then reads contiguous memory
        block = len(idx)
        flat = (idx * block + np.arange(block)[:, None]).ravel()
        weights = np.bincount(flat, minlength=n * block).reshape(n, block).astype(float).T
        for m in metrics:
            values[m.name].append(m.batch_scores(y, pred, weights, threshold=threshold))
    return {name: np.concatenate(parts) for name, parts in values.items()}


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of row indices, one resample per row; the same for the same seed."""
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_CELLS // n))
    for start in range(0, n_boot, block):
        yield rng.integers(0, n, size=(min(block, n_boot - start), n))
