"""Paired comparisons of two models: is one really better, or could the gap be chance?

Two tests, for the two kinds of evidence a run leaves behind:

- ``paired_bootstrap`` resamples the rows of one set of predictions (a test set, or out-of-fold
  predictions) and scores *both* models on the same resampled rows, so the difference keeps the
  pairing. One matrix of resampling counts goes through ``Metric.batch_scores`` per model, which
  makes thousands of resamples cheap.
- ``corrected_resampled_t`` takes per-fold score differences from cross-validation and applies
  the Nadeau & Bengio (2003) correction for the overlap between training sets, without which the
  plain t-test on folds finds differences far too often.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from mlwright.errors import ConfigError, DataError
from mlwright.evaluation.bootstrap import _resamples
from mlwright.evaluation.evaluation import jsonable
from mlwright.evaluation.metrics import Metric

__all__ = [
    "Comparison",
    "bootstrap_p_value",
    "bootstrap_scores",
    "compare_folds",
    "corrected_resampled_t",
    "fold_scores",
    "format_p",
    "paired_bootstrap",
]


@dataclass
class Comparison:
    """The outcome of comparing model ``a`` with model ``b`` on one metric.

    ``difference``, ``low`` and ``high`` are oriented so that a positive value means ``a`` is
    better, whichever direction the metric runs in; ``low``/``high`` bound the
    ``1 - alpha`` confidence interval of the difference.

    Example
    -------
    >>> c = Comparison("rmse", "big", "small", 1.0, 1.5, 0.5, 0.2, 0.8, 0.001, "corrected_t", True)
    >>> c.sentence()
    'big is better than small by 0.50 rmse (95% CI 0.20 to 0.80, p = 0.001)'
    """

    metric: str
    a: str
    b: str
    score_a: float
    score_b: float
    difference: float
    low: float
    high: float
    p_value: float
    method: Literal["paired_bootstrap", "corrected_t"]
    significant: bool
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields; ``None`` for undefined (nan) values."""
        result: dict[str, Any] = jsonable(asdict(self))
        return result

    def sentence(self) -> str:
        """The result in plain words, naming the better model when the gap is significant."""
        p = format_p(self.p_value, spaced=True)
        if not self.significant:
            return f"no significant difference between {self.a} and {self.b} in {self.metric} ({p})"
        better, worse, diff, low, high = self.a, self.b, self.difference, self.low, self.high
        if diff < 0:  # b is the better one: say so, with the interval seen from its side
            better, worse, diff, low, high = self.b, self.a, -diff, -high, -low
        decimals = _decimals(max(abs(diff), abs(low), abs(high)))
        level = f"{100 * (1 - self.alpha):g}%"
        return (
            f"{better} is better than {worse} by {diff:.{decimals}f} {self.metric} "
            f"({level} CI {low:.{decimals}f} to {high:.{decimals}f}, {p})"
        )


def format_p(p_value: float, *, spaced: bool = False) -> str:
    """``p = 0.041`` style text (``p=0.041`` unless ``spaced``); ``p < 0.001`` for tiny values."""
    eq, lt = (" = ", " < ") if spaced else ("=", "<")
    if math.isnan(p_value):
        return f"p{eq}n/a"
    if p_value < 0.001:
        return f"p{lt}0.001"
    return f"p{eq}{p_value:.2g}"


def _decimals(largest: float) -> int:
    """Decimals that show two significant digits of ``largest`` (3 when it is zero)."""
    if not math.isfinite(largest) or largest == 0:
        return 3
    return max(0, 1 - math.floor(math.log10(largest)))


def bootstrap_scores(
    metric: Metric,
    y: np.ndarray,
    preds: Sequence[np.ndarray],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    threshold: float = 0.5,
    max_sample_rows: int | None = None,
) -> np.ndarray:
    """Scores of every prediction set on the same ``n_boot`` row resamples: shape (models, n_boot).

    The resamples are those ``bootstrap_interval`` draws for the same seed; undefined scores are
    ``nan``. With ``max_sample_rows``, larger inputs are first cut to that many rows drawn at
    random (by ``seed``): the cost grows with rows x resamples x models, and a comparison on a
    random subset is still a fair test, only a little less sensitive.
    """
    if n_boot < 1:
        raise ConfigError(f"n_boot must be at least 1, got {n_boot}. Pass e.g. n_boot=2000.")
    y = np.asarray(y)
    n = len(y)
    if max_sample_rows is not None and n > max_sample_rows:
        keep = np.sort(np.random.default_rng(seed).choice(n, max(1, max_sample_rows), False))
        y, preds, n = y[keep], [np.asarray(pred)[keep] for pred in preds], len(keep)
    if n == 0:
        return np.full((len(preds), n_boot), np.nan)
    out = np.empty((len(preds), n_boot))
    start = 0
    for weights in _weight_blocks(n, n_boot, seed):
        stop = start + len(weights)
        for i, pred in enumerate(preds):
            out[i, start:stop] = metric.batch_scores(y, pred, weights, threshold=threshold)
        start = stop
    return out


def _weight_blocks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of resampling counts, one row per resample, one column per sample."""
    for idx in _resamples(n, n_boot, seed):
        block = len(idx)
        # built sample-major (as in bootstrap_values): gathering groups of samples then reads
        # contiguous memory
        flat = (idx * block + np.arange(block)[:, None]).ravel()
        yield np.bincount(flat, minlength=n * block).reshape(n, block).astype(float).T


def bootstrap_p_value(diffs: np.ndarray) -> float:
    """Two-sided p-value of "no difference" from resampled differences: twice the far side's share.

    Counted with one added to each side, as for a permutation test, so it is never zero.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return float("nan")
    far_side = min(int(np.sum(d <= 0)), int(np.sum(d >= 0)))
    return min(1.0, 2 * (far_side + 1) / (len(d) + 1))


def paired_bootstrap(
    metric: Metric,
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    threshold: float = 0.5,
    alpha: float = 0.05,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """Compare two models' predictions for the same rows with a paired bootstrap.

    Both models are scored on the same resampled rows, so row-to-row difficulty cancels out. The
    two-sided p-value is twice the share of resampled differences on the far side of zero
    (at least ``2 / (n_boot + 1)``), so it agrees with the percentile interval: ``p < alpha``
    exactly when the interval leaves out zero, up to ties.

    Parameters
    ----------
    pred_a, pred_b:
        Predictions for the rows of ``y`` (probabilities for classification, values for
        regression), from the two models.
    n_boot:
        Number of resamples; the smallest p-value reachable is about ``2 / n_boot``.
    alpha:
        Significance level; the interval covers ``1 - alpha``.
    names:
        Names for ``a`` and ``b`` in the result and its sentence.

    Returns
    -------
    A Comparison whose ``difference`` is positive when ``a`` is better.

    Example
    -------
    >>> import numpy as np
    >>> from mlwright.evaluation.metrics import get_metric
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=500)
    >>> good, poor = y + rng.normal(0, 0.5, 500), y + rng.normal(0, 1.0, 500)
    >>> rmse = get_metric("rmse", "regression")
    >>> paired_bootstrap(rmse, y, good, poor, names=("good", "poor")).significant
    True
    """
    _check_alpha(alpha)
    scores = bootstrap_scores(
        metric, y, [pred_a, pred_b], n_boot=n_boot, seed=seed, threshold=threshold
    )
    sign = 1.0 if metric.greater_is_better else -1.0
    diffs = sign * (scores[0] - scores[1])
    diffs = diffs[np.isfinite(diffs)]
    score_a = metric.score(y, pred_a, threshold=threshold)
    score_b = metric.score(y, pred_b, threshold=threshold)
    if len(diffs) == 0:
        low = high = p_value = float("nan")
    else:
        low, high = (float(v) for v in np.quantile(diffs, [alpha / 2, 1 - alpha / 2]))
        p_value = bootstrap_p_value(diffs)
    return Comparison(
        metric=metric.name,
        a=names[0],
        b=names[1],
        score_a=score_a,
        score_b=score_b,
        difference=sign * (score_a - score_b),
        low=low,
        high=high,
        p_value=p_value,
        method="paired_bootstrap",
        significant=bool(p_value < alpha),
        alpha=alpha,
    )


def corrected_resampled_t(
    diffs: np.ndarray,
    n_train: int,
    n_test: int,
    *,
    metric: str,
    names: tuple[str, str] = ("a", "b"),
    alpha: float = 0.05,
    scores: tuple[float, float] | None = None,
) -> Comparison:
    """Nadeau & Bengio's corrected resampled t-test over per-fold score differences.

    The variance of the mean difference is ``(1/J + n_test/n_train) * s^2`` over ``J`` folds
    rather than the naive ``s^2 / J``, which accounts for folds sharing training rows.

    Parameters
    ----------
    diffs:
        One score difference per fold, oriented so that positive means ``a`` is better
        (``fold_scores`` of a minus those of b when greater is better, b minus a otherwise).
    n_train, n_test:
        Rows used to train and to score in each fold (the averages when folds differ).
    metric:
        The metric's name, for the result.
    scores:
        The two models' overall scores to report; ``nan`` when not given.

    Example
    -------
    >>> import numpy as np
    >>> diffs = np.array([0.02, 0.03, 0.01, 0.02, 0.03])
    >>> c = corrected_resampled_t(diffs, 800, 200, metric="roc_auc")
    >>> round(c.p_value, 4), c.significant
    (0.0173, True)
    """
    _check_alpha(alpha)
    d = np.asarray(diffs, dtype=float).ravel()
    if len(d) < 2 or not np.all(np.isfinite(d)):
        raise DataError(
            f"the corrected t-test needs at least 2 finite per-fold differences, got {d.tolist()}. "
            "Pass one score difference per cross-validation fold."
        )
    if n_train < 1 or n_test < 1:
        raise ConfigError(
            f"n_train and n_test must be positive row counts, got {n_train} and {n_test}. "
            "Pass the rows each fold trained and scored on."
        )
    folds = len(d)
    mean = float(d.mean())
    se = math.sqrt((1 / folds + n_test / n_train) * float(d.var(ddof=1)))
    if se > 0:
        t_stat = mean / se
        from scipy import stats

        p_value = float(2 * stats.t.sf(abs(t_stat), folds - 1))
        margin = float(stats.t.ppf(1 - alpha / 2, folds - 1)) * se
    else:  # every fold gave the same difference: certain if nonzero, nothing if zero
        p_value = 1.0 if mean == 0 else 0.0
        margin = 0.0
    score_a, score_b = scores if scores is not None else (float("nan"), float("nan"))
    return Comparison(
        metric=metric,
        a=names[0],
        b=names[1],
        score_a=float(score_a),
        score_b=float(score_b),
        difference=mean,
        low=mean - margin,
        high=mean + margin,
        p_value=p_value,
        method="corrected_t",
        significant=bool(p_value < alpha),
        alpha=alpha,
    )


def fold_scores(
    metric: Metric,
    y: np.ndarray,
    pred: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    threshold: float = 0.5,
) -> np.ndarray:
    """The metric on each fold's validation rows of out-of-fold predictions, in one batch.

    Example
    -------
    >>> import numpy as np
    >>> from mlwright.evaluation.metrics import get_metric
    >>> folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> fold_scores(get_metric("mae", "regression"), y, y + [1, 1, 2, 2], folds).tolist()
    [1.0, 2.0]
    """
    n = len(np.asarray(y))
    weights = np.zeros((len(folds), n))
    for i, (_, val) in enumerate(folds):
        weights[i, np.asarray(val, dtype=np.int64)] = 1.0
    return metric.batch_scores(y, pred, weights, threshold=threshold)


def compare_folds(
    metric: Metric,
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    threshold: float = 0.5,
    alpha: float = 0.05,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """The corrected t-test on two models' out-of-fold predictions over the same ``folds``."""
    scores_a = fold_scores(metric, y, pred_a, folds, threshold)
    scores_b = fold_scores(metric, y, pred_b, folds, threshold)
    sign = 1.0 if metric.greater_is_better else -1.0
    n_train = round(float(np.mean([len(train) for train, _ in folds])))
    n_test = round(float(np.mean([len(val) for _, val in folds])))
    return corrected_resampled_t(
        sign * (scores_a - scores_b),
        n_train,
        n_test,
        metric=metric.name,
        names=names,
        alpha=alpha,
        scores=(float(np.mean(scores_a)), float(np.mean(scores_b))),
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(
            f"alpha must be between 0 and 1, got {alpha}. Pass e.g. alpha=0.05 for a 95% interval."
        )
