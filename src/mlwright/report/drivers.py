"""What drives the predictions: global importance (mean absolute Shapley value over a sample of
rows) and the direction of each main effect, in words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlwright.data.schema import Role
from mlwright.model import Model
from mlwright.report.charts import Chart, bar_chart
from mlwright.report.evidence import Rows, fmt

__all__ = ["Driver", "Drivers", "drivers"]

EXPLAIN_ROWS = 200  # rows explained: enough for stable averages, a second or two of work
BACKGROUND_ROWS = 32
PERMUTATIONS = 16
TOP = 10
_MIN_GROUP = 5  # rows a category needs before its average effect is named


@dataclass
class Driver:
    """One input column: its mean absolute effect and what its values do, in words."""

    column: str
    importance: float
    effect: str


@dataclass
class Drivers:
    """The columns by importance, the chart, and how the numbers were made."""

    items: list[Driver]
    chart: Chart
    method: str
    unit: str


def drivers(model: Model, rows: Rows, *, seed: int = 0) -> Drivers | None:
    """Importance and direction from ``model.explain_features`` on a sample of ``rows``."""
    frame = rows.frame
    if frame is None or len(frame) == 0:
        return None
    columns = model.schema_.feature_names
    frame = frame[[c for c in columns if c in frame.columns]]
    if list(frame.columns) != columns:
        return None
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(frame), min(len(frame), EXPLAIN_ROWS), replace=False))
    sample = frame.iloc[picked].reset_index(drop=True)
    background = frame.iloc[rng.choice(len(frame), min(len(frame), BACKGROUND_ROWS), False)]
    explanation = model.explain_features(
        sample, background=background.reset_index(drop=True), n_permutations=PERMUTATIONS, seed=seed
    )
    phi = explanation.contributions  # (rows, columns, outputs)
    importance = np.abs(phi).mean(axis=(0, 2))
    order = np.argsort(-importance, kind="stable")[:TOP]
    unit, scale = _unit(model)
    items = []
    for j in order.tolist():
        column = columns[j]
        k = int(np.argmax(np.abs(phi[:, j, :]).mean(axis=0)))
        what = _what(model, explanation.outputs[k])
        effect = _effect(model, column, sample[column], phi[:, j, k], what, scale, unit)
        items.append(Driver(column, float(importance[j]) * scale, effect))
    names = [d.column for d in items]
    alt = f"{names[0]} moves the predictions most"
    if len(names) > 2:
        alt += f", then {names[1]} and {names[2]}"
    alt += f" (average absolute effect on the prediction, in {unit})."
    chart = bar_chart(
        names,
        [d.importance for d in items],
        title="What drives the predictions",
        alt=alt,
        xlabel=f"average absolute effect ({unit})",
    )
    return Drivers(items, chart, explanation.method, unit)


def _unit(model: Model) -> tuple[str, float]:
    if model.task_ == "regression":
        return f"units of {model.info_['target']}", 1.0
    return "percentage points of probability", 100.0


def _what(model: Model, output: str) -> str:
    if model.task_ == "regression":
        return f"predicted {model.info_['target']}"
    return f"probability of {model.info_['target']} = '{output}'"


def _effect(
    model: Model,
    column: str,
    values: pd.Series,
    phi: np.ndarray,
    what: str,
    scale: float,
    unit: str,
) -> str:
    role = model.schema_[column].role
    if role is Role.NUMERIC:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(x)
        if keep.sum() < 10 or np.std(x[keep]) == 0 or np.std(phi[keep]) == 0:
            return f"no clear direction for {what}"
        r = float(pd.Series(x[keep]).corr(pd.Series(phi[keep]), method="spearman"))
        if not math.isfinite(r) or abs(r) < 0.3:
            return f"mixed: its effect on the {what} depends on the other inputs"
        arrow = "higher" if r > 0 else "lower"
        return f"higher {column} → {arrow} {what}"
    if role in (Role.CATEGORICAL, Role.BOOLEAN):
        labels = values.astype(object).where(values.notna(), "(missing)")
        if role is Role.BOOLEAN:
            labels = labels.map({1.0: "yes", 0.0: "no"}).fillna(labels)
        means = pd.Series(phi).groupby(labels.astype(str).to_numpy()).agg(["mean", "size"])
        means = means[means["size"] >= _MIN_GROUP].sort_values("mean")
        if len(means) < 2:
            return f"no clear direction for {what}"
        top, bottom = means.index[-1], means.index[0]
        up, down = means["mean"].iloc[-1] * scale, means["mean"].iloc[0] * scale
        small = 0.05 if scale == 100.0 else 0.0
        parts = []
        if up > small:
            parts.append(f"'{top}' raises the {what} most ({_signed(up, scale)} on average)")
        if down < -small:
            parts.append(f"'{bottom}' lowers it most ({_signed(down, scale)})")
        if not parts:
            return f"no clear direction for {what}"
        return f"{column} = " + "; ".join(parts)
    return f"effect varies; {role.value} column"


def _signed(value: float, scale: float) -> str:
    """``+5.2 points`` for probabilities (scaled to points), ``+1,230`` for values."""
    if scale == 100.0:
        return f"{value:+.1f} points"
    return ("+" if value > 0 else "-") + fmt(abs(value))
