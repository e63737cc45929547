"""Evaluation: the reported metrics with bootstrap intervals, the confusion matrix, residuals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlwright.errors import DataError
from mlwright.evaluation.bootstrap import bootstrap_intervals
from mlwright.evaluation.metrics import (
    check_task,
    confusion_counts,
    get_metric,
    prepare,
    report_metrics,
)

__all__ = [
    "Evaluation",
    "MetricResult",
    "cost_sentence",
    "cost_summary",
    "evaluate_predictions",
    "jsonable",
]

_CONFIDENCE = 0.95
_QUANTILES = {"p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain, non-finite floats made ``None``."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass
class MetricResult:
    """One metric's value with its bootstrap confidence interval."""

    name: str
    value: float
    low: float
    high: float
    greater_is_better: bool


@dataclass
class Evaluation:
    """Metrics with 95% bootstrap intervals, plus a confusion matrix or a residual summary."""

    task: str
    n_rows: int
    primary: str
    metrics: list[MetricResult]
    classes: list[Any] | None
    threshold: float | None
    confusion: pd.DataFrame | None
    residuals: dict[str, float] | None
    cost: dict[str, float] | None = None

    def __getitem__(self, metric_name: str) -> MetricResult:
        """The result for ``metric_name``."""
        for result in self.metrics:
            if result.name == metric_name:
                return result
        raise KeyError(
            f"metric '{metric_name}' is not in this evaluation; it has "
            f"{', '.join(r.name for r in self.metrics)}. Use one of these names."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: plain Python values, ``None`` for nan."""
        confusion = None
        if self.confusion is not None:
            confusion = {
                "labels": list(self.confusion.index),
                "matrix": self.confusion.to_numpy().tolist(),
            }
        document = {
            "task": self.task,
            "n_rows": self.n_rows,
            "primary": self.primary,
            "metrics": [vars(m) for m in self.metrics],
            "classes": self.classes,
            "threshold": self.threshold,
            "confusion": confusion,
            "residuals": self.residuals,
            "cost": self.cost,
        }
        result: dict[str, Any] = jsonable(document)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """Rebuild an Evaluation written by ``to_dict``."""
        confusion = None
        if data.get("confusion") is not None:
            labels = data["confusion"]["labels"]
            confusion = _confusion_frame(np.asarray(data["confusion"]["matrix"]), labels)
        residuals = data.get("residuals")
        cost = data.get("cost")
        return cls(
            task=data["task"],
            n_rows=int(data["n_rows"]),
            primary=data["primary"],
            metrics=[
                MetricResult(
                    name=m["name"],
                    value=_float(m["value"]),
                    low=_float(m["low"]),
                    high=_float(m["high"]),
                    greater_is_better=bool(m["greater_is_better"]),
                )
                for m in data["metrics"]
            ],
            classes=data.get("classes"),
            threshold=data.get("threshold"),
            confusion=confusion,
            residuals=None if residuals is None else {k: _float(v) for k, v in residuals.items()},
            cost=None if cost is None else {k: _float(v) for k, v in cost.items()},
        )

    def to_rich(self) -> RenderableType:
        """The metrics table with 95% intervals, then the confusion matrix or the residuals."""
        title = f"{self.task} evaluation on {self.n_rows} rows"
        table = Table(title=title, title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column(f"{_CONFIDENCE:.0%} CI", justify="right")
        for m in self.metrics:
            name = f"{m.name} (primary)" if m.name == self.primary else m.name
            direction = "higher" if m.greater_is_better else "lower"
            table.add_row(
                f"{name}  [dim]{direction} is better[/dim]",
                _fmt(m.value),
                f"{_fmt(m.low)} .. {_fmt(m.high)}",
            )
        parts: list[RenderableType] = [table]
        if self.threshold is not None:
            parts.append(
                Text(f"decision threshold: {self.threshold:.4g} (positive when p >= threshold)")
            )
        if self.cost is not None:
            parts.append(Text(cost_sentence(self.cost)))
        if self.confusion is not None:
            parts.append(_confusion_table(self.confusion))
        if self.residuals is not None:
            residuals = Table(title="residuals (actual - predicted)", title_justify="left")
            residuals.add_column("statistic")
            residuals.add_column("value", justify="right")
            for key, value in self.residuals.items():
                shown = f"{value:.1%}" if key == "within_10pct" else _fmt(value)
                residuals.add_row(key, shown)
            parts.append(residuals)
        return Group(*parts)


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def _confusion_frame(matrix: np.ndarray, labels: list[Any]) -> pd.DataFrame:
    index = pd.Index(labels, name="actual", dtype=object)
    columns = pd.Index(labels, name="predicted", dtype=object)
    return pd.DataFrame(matrix.astype(np.int64), index=index, columns=columns)


def _confusion_table(confusion: pd.DataFrame) -> Table:
    table = Table(title="confusion matrix (rows actual, columns predicted)", title_justify="left")
    table.add_column("actual \\ predicted")
    for label in confusion.columns:
        table.add_column(str(label), justify="right")
    for label, row in zip(confusion.index, confusion.to_numpy(), strict=True):
        table.add_row(str(label), *(str(int(v)) for v in row))
    return table


def cost_sentence(cost: dict[str, float]) -> str:
    """The cost of errors in words, beside the two policies that need no model."""
    return (
        f"cost of errors at this threshold: {cost['total']:,.4g} in all, "
        f"{cost['per_row']:.4g} per row ({_CONFIDENCE:.0%} CI {cost['per_row_low']:.4g} .. "
        f"{cost['per_row_high']:.4g}), with a false positive costing {cost['fp']:g} and a missed "
        f"positive {cost['fn']:g}. Acting on nobody would cost {cost['act_on_none']:.4g} per row, "
        f"acting on everybody {cost['act_on_all']:.4g}."
    )


def cost_summary(
    y: np.ndarray, positive: np.ndarray, fp_cost: float, fn_cost: float
) -> dict[str, float]:
    """The money cost of binary decisions ``positive`` on outcomes ``y`` (0/1).

    The interval is the normal approximation for a mean of per-row costs, which the central
    limit theorem makes accurate at the row counts evaluations have.

    Example
    -------
    >>> import numpy as np
    >>> c = cost_summary(np.array([0, 1, 1, 0]), np.array([1, 1, 0, 0]), 1.0, 5.0)
    >>> c["total"], c["per_row"], c["act_on_none"]
    (6.0, 1.5, 2.5)
    """
    y = np.asarray(y).astype(bool)
    positive = np.asarray(positive).astype(bool)
    per_row = fp_cost * (positive & ~y) + fn_cost * (~positive & y)
    n = len(per_row)
    mean = float(per_row.mean())
    half = 1.96 * float(per_row.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return {
        "fp": float(fp_cost),
        "fn": float(fn_cost),
        "total": float(per_row.sum()),
        "per_row": mean,
        "per_row_low": mean - half,
        "per_row_high": mean + half,
        "act_on_none": float(fn_cost * y.mean()),
        "act_on_all": float(fp_cost * (~y).mean()),
    }


def residual_summary(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Residuals (actual - predicted): mean, spread, quantiles, and the share within ±10%."""
    y = np.asarray(y, dtype=float).ravel()
    residual = y - np.asarray(pred, dtype=float).ravel()
    quantiles = np.percentile(residual, list(_QUANTILES.values()))
    return {
        "mean": float(residual.mean()),
        "std": float(residual.std()),
        "mean_abs": float(np.abs(residual).mean()),
        **{key: float(q) for key, q in zip(_QUANTILES, quantiles, strict=True)},
        "max_abs": float(np.abs(residual).max()),
        "within_10pct": float(np.mean(np.abs(residual) <= 0.1 * np.abs(y))),
    }


def evaluate_predictions(
    task: str,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    primary: str,
    classes: list[Any] | None = None,
    threshold: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    costs: tuple[float, float] | None = None,
) -> Evaluation:
    """Score ``pred`` against ``y`` with the task's report metrics and bootstrap intervals.

    Parameters
    ----------
    y:
        Class indices 0..k-1 (classification) or values (regression).
    pred:
        Probabilities of shape (n, k) for classification, values for regression.
    primary:
        The optimised metric, reported first.
    classes:
        Class labels in column order, used to label the confusion matrix.
    threshold:
        Binary decision threshold for label metrics and the confusion matrix; 0.5 when None.
    costs:
        ``(fp_cost, fn_cost)`` for binary tasks: the evaluation then reports the cost of the
        decisions at ``threshold`` (see ``cost_summary``).

    Example
    -------
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0])
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    >>> evaluate_predictions("binary", y, p, primary="accuracy", n_boot=50)["accuracy"].value
    0.75
    """
    check_task(task)
    names = report_metrics(task, primary)
    metrics = [get_metric(name, task) for name in names]
    y, pred = prepare(y, pred, metrics[0])
    if len(y) == 0:
        raise DataError("no rows to evaluate; expected at least one labelled row. Pass more rows.")
    cut = (0.5 if threshold is None else float(threshold)) if task == "binary" else 0.5
    intervals = bootstrap_intervals(
        metrics, y, pred, n_boot=n_boot, confidence=_CONFIDENCE, seed=seed, threshold=cut
    )
    results = [
        MetricResult(
            name=m.name,
            value=m.score(y, pred, threshold=cut),
            low=intervals[m.name][0],
            high=intervals[m.name][1],
            greater_is_better=m.greater_is_better,
        )
        for m in metrics
    ]
    confusion = residuals = cost = None
    if task == "binary" and costs is not None:
        cost = cost_summary(y, pred[:, 1] >= cut, costs[0], costs[1])
    if task == "regression":
        residuals = residual_summary(y, pred)
    else:
        labels = list(range(pred.shape[1])) if classes is None else list(classes)
        if len(labels) != pred.shape[1]:
            raise DataError(
                f"{len(labels)} class labels given for predictions with {pred.shape[1]} columns; "
                "expected one label per column. Pass the training classes in column order."
            )
        matrix = confusion_counts(y, pred, np.ones((1, len(y))), cut)[0]
        confusion = _confusion_frame(matrix, labels)
    return Evaluation(
        task=task,
        n_rows=len(y),
        primary=primary,
        metrics=results,
        classes=None if classes is None else list(classes),
        threshold=cut if task == "binary" else None,
        confusion=confusion,
        residuals=residuals,
        cost=cost,
    )
