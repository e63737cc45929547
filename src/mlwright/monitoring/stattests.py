"""The statistics behind every alarm: PSI, two-sample tests and the multiple-testing correction.

Each check in a monitoring window gives a p-value (is the change real, given the window size?)
and an effect size (is it big enough to matter?). A check fires only when both hold, and the
p-values of one window are judged together with Holm's step-down correction, so that a window
where nothing changed raises any alarm with probability at most ``alpha`` however many columns
are tested. Small windows therefore need larger changes to fire, and huge windows do not fire on
negligible ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "PSI_FLOOR",
    "chi_square_test",
    "holm_thresholds",
    "ks_test",
    "pool_buckets",
    "proportion_increase_test",
    "psi",
]

PSI_FLOOR = 1e-4  # share given to an empty bucket so that PSI stays finite
MIN_EXPECTED = 5.0  # expected window rows per bucket below which buckets are pooled
_EXACT_KS_CELLS = 2_000_000  # n * m up to which the KS p-value is computed exactly


def psi(reference: np.ndarray, window: np.ndarray) -> float:
    """Population stability index between two count (or share) vectors over the same buckets.

    ``sum((w - r) * ln(w / r))`` over bucket shares, each floored at ``PSI_FLOOR``. Conventional
    reading: below 0.1 little change, 0.1-0.25 moderate, above 0.25 large.

    Example:
        >>> round(psi(np.array([50.0, 50.0]), np.array([60.0, 40.0])), 4)
        0.0405
    """
    r = _shares(reference)
    w = _shares(window)
    return float(np.sum((w - r) * np.log(w / r)))


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(len(counts), 1.0 / max(len(counts), 1))
    floored: np.ndarray = np.maximum(shares, PSI_FLOOR)
    return floored


def pool_buckets(reference: np.ndarray, n_window: int) -> np.ndarray:
    """Bucket index after pooling, so that every pooled bucket expects >= 5 window rows.

    Buckets whose reference share predicts fewer than ``MIN_EXPECTED`` rows in a window of
    ``n_window`` rows are merged, smallest first, into one pool; a pool still too small joins the
    smallest remaining bucket. The chi-square approximation is poor below that count, and that
    is where tools that test raw categories raise false alarms on small windows.

    Returns
    -------
    An array mapping each original bucket to its pooled bucket (0..k-1).
    """
    reference = np.asarray(reference, dtype=float)
    total = reference.sum()
    expected = n_window * reference / total if total > 0 else np.zeros(len(reference))
    order = np.argsort(expected, kind="stable")
    small = [int(i) for i in order if expected[i] < MIN_EXPECTED]
    large = [int(i) for i in order if expected[i] >= MIN_EXPECTED]
    groups: list[list[int]] = [[i] for i in large]
    if small:
        pool_expected = float(expected[small].sum())
        if pool_expected < MIN_EXPECTED and groups:
            groups[0] = groups[0] + small  # the smallest large bucket absorbs the pool
        else:
            groups.append(small)
    mapping = np.zeros(len(reference), dtype=np.int64)
    for g, members in enumerate(groups):
        mapping[members] = g
    return mapping


def chi_square_test(reference: np.ndarray, window: np.ndarray) -> tuple[float, float, float]:
    """Chi-square test that the window's bucket counts come from the reference's distribution.

    A 2 x k test of homogeneity, so the reference's own sampling noise is accounted for; buckets
    are pooled first (``pool_buckets``). Returns ``(statistic, p_value, psi)``, PSI computed on
    the same pooled buckets; ``p_value`` is 1 when fewer than two buckets remain.
    """
    reference = np.asarray(reference, dtype=float)
    window = np.asarray(window, dtype=float)
    n, total = window.sum(), reference.sum()
    mapping = pool_buckets(reference, int(n))
    k = int(mapping.max()) + 1 if len(mapping) else 0
    ref = np.bincount(mapping, weights=reference, minlength=k)
    win = np.bincount(mapping, weights=window, minlength=k)
    effect = psi(ref, win)
    if k < 2 or n == 0 or total == 0:
        return 0.0, 1.0, effect
    both = ref + win
    keep = both > 0
    expected_w = n * both[keep] / (n + total)
    expected_r = total * both[keep] / (n + total)
    statistic = float(
        np.sum((win[keep] - expected_w) ** 2 / expected_w)
        + np.sum((ref[keep] - expected_r) ** 2 / expected_r)
    )
    dof = int(keep.sum()) - 1
    from scipy import stats  # monitoring only: serving never imports scipy.stats

    p_value = float(stats.chi2.sf(statistic, dof)) if dof > 0 else 1.0
    return statistic, p_value, effect


def ks_test(reference_sample: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test; returns ``(D, p_value)``.

    Exact p-values for small samples, the asymptotic distribution for large ones. With ties
    (discrete values) the test is conservative: it errs towards no alarm.
    """
    n, m = len(window), len(reference_sample)
    if n == 0 or m == 0:
        return 0.0, 1.0
    method = "exact" if n * m <= _EXACT_KS_CELLS else "asymp"
    from scipy import stats  # monitoring only: serving never imports scipy.stats

    result = stats.ks_2samp(window, reference_sample, method=method)
    return float(result.statistic), float(result.pvalue)


def proportion_increase_test(
    count: int, n: int, reference_count: float, reference_n: float
) -> float:
    """One-sided p-value that a window share ``count/n`` exceeds the reference share.

    Fisher's exact test on the 2 x 2 table, so that a share that was 0 in training is judged by
    how many rows the window has, not flagged on a single row. ``reference_count`` may be
    fractional (an expected count); it is rounded up.
    """
    if n == 0 or count == 0:
        return 1.0
    ref_count = int(np.ceil(reference_count))
    ref_n = max(int(round(reference_n)), ref_count)
    table = [[count, n - count], [ref_count, ref_n - ref_count]]
    from scipy import stats  # monitoring only: serving never imports scipy.stats

    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def holm_thresholds(p_values: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down procedure at family-wise level ``alpha``: thresholds and verdicts.

    The smallest p-value is compared with ``alpha/m``, the next with ``alpha/(m-1)``, and so on,
    stopping at the first that fails (every larger p-value then fails too). Holm keeps the chance
    of any false alarm at ``alpha`` whatever the dependence between tests, and is never less
    powerful than Bonferroni.

    Returns
    -------
    (thresholds, significant): each test's level ``alpha/(m-rank)`` and whether it is rejected.

    Example:
        >>> holm_thresholds([0.001, 0.5], 0.01)[1].tolist()
        [True, False]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    thresholds = np.zeros(m)
    significant = np.zeros(m, dtype=bool)
    going = True
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        thresholds[i] = alpha / (m - rank)
        going = going and bool(p[i] <= thresholds[i])
        significant[i] = going
    return thresholds, significant
