"""Where the model is weak: its metric on groups of rows (each category, each numeric quartile),
with 95% intervals, compared with the rest of the rows.

Groups are compared on a metric that averages over rows (:func:`segment_metric`): a ranking
metric such as roc_auc is lower inside any group of similar rows than over all rows, so it would
call most groups weak. Classifiers ranked by one are compared on accuracy at the decision
threshold; regression ranked by r2 on rmse.

A group is flagged "significantly worse" when the bootstrap difference with the other rows is
below zero after the Benjamini-Hochberg correction for the number of groups checked (false
discovery rate 5%): with dozens of groups, a few would look worse by chance alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlwright.data.schema import Role
from mlwright.evaluation import get_metric
from mlwright.evaluation.bootstrap import bootstrap_values
from mlwright.model import Model
from mlwright.report.charts import Chart, bar_chart
from mlwright.report.evidence import CONFIDENCE, Rows, fmt

__all__ = ["Segment", "group_masks", "measure_groups", "segment_metric", "weak_segments"]

MIN_ROWS = 30
N_BOOT = 150
_FDR = 0.05
_TOP_CATEGORIES = 12
# metrics that are means over rows: a group's value is comparable with the other rows' value
_PER_ROW = {"log_loss", "accuracy", "rmse", "mae", "mape", "median_ae"}


def segment_metric(model: Model) -> str:
    """The metric groups are compared on: the model's own when it averages over rows, else
    accuracy (classification) or rmse (regression)."""
    if model.metric_ in _PER_ROW:
        return model.metric_
    return "rmse" if model.task_ == "regression" else "accuracy"


@dataclass
class Segment:
    """The metric on one group of rows, with its interval, and against the other rows."""

    column: str
    group: str
    rows: int
    value: float
    low: float
    high: float
    rest: float
    p_value: float
    worse: bool = False
    metric: str = ""

    @property
    def label(self) -> str:
        """``column = group`` (or the quartile's range)."""
        return f"{self.column} = {self.group}"


def group_masks(
    values: pd.Series, role: Role | None, *, min_rows: int = MIN_ROWS
) -> list[tuple[str, np.ndarray]]:
    """Groups of ``values``: each frequent category (at least ``min_rows`` rows), or the
    quartiles of a numeric column; missing values form their own group."""
    out: list[tuple[str, np.ndarray]] = []
    missing = values.isna().to_numpy()
    numeric = role is Role.NUMERIC or (role is None and pd.api.types.is_numeric_dtype(values))
    if numeric and values.nunique() > 4:
        x = pd.to_numeric(values, errors="coerce")
        bins = pd.qcut(x, 4, duplicates="drop")
        for interval in bins.cat.categories:
            mask = (bins == interval).to_numpy()
            inside = x[mask]
            label = f"{fmt(inside.min())} to {fmt(inside.max())}" if mask.any() else str(interval)
            out.append((label, mask))
    else:
        labels = values.astype(object)
        if role is Role.BOOLEAN:
            labels = labels.map({1.0: "yes", 0.0: "no"}).fillna(labels)
        text = labels.astype(str).to_numpy()
        counts = pd.Series(text[~missing]).value_counts()
        for name in counts.index[:_TOP_CATEGORIES]:
            out.append((str(name), (text == name) & ~missing))
    if missing.any():
        out.append(("(missing)", missing))
    return [(label, mask) for label, mask in out if mask.sum() >= min_rows]


def measure_groups(
    model: Model,
    y: np.ndarray,
    scores: np.ndarray,
    groups: Sequence[tuple[str, str, np.ndarray]],
    *,
    seed: int = 0,
    metric_name: str | None = None,
) -> list[Segment]:
    """The metric (default: the model's) on each ``(column, group, mask)`` with interval, rest
    and p-value."""
    metric = get_metric(metric_name or model.metric_, model.task_)
    cut = model.threshold_ if model.threshold_ is not None else 0.5
    sign = 1.0 if metric.greater_is_better else -1.0
    alpha = (1 - CONFIDENCE) / 2
    out = []
    for i, (column, group, mask) in enumerate(groups):
        inside = bootstrap_values(
            [metric], y[mask], scores[mask], n_boot=N_BOOT, seed=seed + i, threshold=cut
        )
        rest_mask = ~mask
        value = metric.score(y[mask], scores[mask], threshold=cut)
        rest = (
            metric.score(y[rest_mask], scores[rest_mask], threshold=cut)
            if rest_mask.any()
            else math.nan
        )
        samples = inside[metric.name]
        low, high = _quantiles(samples, alpha)
        p_value = math.nan
        if rest_mask.any():
            other = bootstrap_values(
                [metric],
                y[rest_mask],
                scores[rest_mask],
                n_boot=N_BOOT,
                seed=seed + 10_000 + i,
                threshold=cut,
            )[metric.name]
            diff = sign * (samples - other)  # below zero: the group does worse
            diff = diff[np.isfinite(diff)]
            if len(diff) > 10 and np.std(diff) > 0:
                from scipy.stats import norm

                p_value = float(norm.cdf(float(np.mean(diff)) / float(np.std(diff, ddof=1))))
        out.append(
            Segment(
                column, group, int(mask.sum()), value, low, high, rest, p_value, metric=metric.name
            )
        )
    _flag(out)
    return out


def _quantiles(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    defined = samples[np.isfinite(samples)]
    if len(defined) == 0:
        return math.nan, math.nan
    low, high = np.quantile(defined, [alpha, 1 - alpha])
    return float(low), float(high)


def _flag(segments: list[Segment]) -> None:
    """Benjamini-Hochberg over the one-sided p-values "this group does worse than the rest"."""
    tested = sorted((s for s in segments if math.isfinite(s.p_value)), key=lambda s: s.p_value)
    m = len(tested)
    cutoff = 0
    for rank, seg in enumerate(tested, start=1):
        if seg.p_value <= _FDR * rank / m:
            cutoff = rank
    for seg in tested[:cutoff]:
        seg.worse = True


def weak_segments(model: Model, rows: Rows, *, seed: int = 0) -> list[Segment]:
    """Every group of every categorical column and numeric quartile of ``rows``, worst first."""
    if not rows.available or rows.frame is None:
        return []
    assert rows.y is not None and rows.scores is not None
    groups = []
    for col in model.schema_.features:
        if col.role not in (Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN):
            continue
        if col.name not in rows.frame.columns:
            continue
        for label, mask in group_masks(rows.frame[col.name], col.role):
            if mask.sum() < len(mask):
                groups.append((col.name, label, mask))
    name = segment_metric(model)
    segments = measure_groups(model, rows.y, rows.scores, groups, seed=seed, metric_name=name)
    segments = [s for s in segments if math.isfinite(s.value)]
    greater = get_metric(name, model.task_).greater_is_better
    segments.sort(key=lambda s: s.value if greater else -s.value)
    return segments


def segments_chart(model: Model, segments: list[Segment], overall: float) -> Chart:
    """The worst groups' metric with intervals, beside the overall value."""
    shown = segments[:8]
    name = shown[0].metric or model.metric_
    worse = [s for s in shown if s.worse]
    if worse:
        alt = (
            f"{len([s for s in segments if s.worse])} group(s) do significantly worse than the "
            f"rest; the worst is {worse[0].label} with {name} {fmt(worse[0].value)} "
            f"against {fmt(overall)} overall."
        )
    else:
        alt = (
            f"No group does significantly worse than the rest; the lowest is {shown[0].label} "
            f"with {name} {fmt(shown[0].value)} against {fmt(overall)} overall."
        )
    return bar_chart(
        [s.label for s in shown],
        [s.value for s in shown],
        title=f"Weakest groups of rows ({name}, 95% intervals)",
        alt=alt,
        xlabel=name,
        interval=([s.low for s in shown], [s.high for s in shown]),
        vline=(overall, "overall"),
        colours=["#D55E00" if s.worse else "#0072B2" for s in shown],
    )
