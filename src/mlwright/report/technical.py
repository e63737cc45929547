"""The technical part of the report: the leaderboard, and the charts a data scientist checks —
calibration, ROC and precision-recall, confusion matrix, cumulative gain, residuals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mlwright.model import Model
from mlwright.report.charts import Chart, bar_chart, heatmap, line_chart, scatter_chart
from mlwright.report.evidence import Rows, fmt, pct

__all__ = ["leaderboard_rows", "technical_charts"]

_GRID = np.linspace(0, 1, 51)  # 2% steps: curves drawn from (and tabulated at) these points
_BINS = 10


def leaderboard_rows(model: Model, limit: int = 20) -> list[dict[str, Any]]:
    """The leaderboard, best first: validation score, fit and predict time, vs the best."""
    board = model.leaderboard
    out = []
    for rank, row in enumerate(board.sorted()[:limit], start=1):
        if rank == 1:
            versus = "best"
        elif row.vs_best_p is None:
            versus = "not compared"
        else:
            word = "significantly worse" if row.significant else "could be chance"
            versus = f"{word} (p = {row.vs_best_p:.2g})"
        out.append(
            {
                "rank": rank,
                "name": row.name,
                "score": fmt(row.score, 4),
                "fit_s": f"{row.fit_time:.1f}",
                "predict_ms": f"{row.predict_time_per_1k:.1f}",
                "versus": versus,
                "note": row.note,
            }
        )
    return out


def technical_charts(model: Model, rows: Rows) -> list[Chart]:
    """Every chart of the technical part that ``rows`` allow, in reading order."""
    charts: list[Chart] = []
    if model.task_ != "regression" and rows.evaluation.confusion is not None:
        charts.append(_confusion(model, rows))
    if not rows.available:
        return charts
    assert rows.y is not None and rows.scores is not None
    y, scores = rows.y, np.asarray(rows.scores, dtype=float)
    if model.task_ == "binary" and len(np.unique(y)) == 2:
        p1 = scores[:, 1]
        charts += [_roc(y, p1), _pr(y, p1), _gain(y, p1), _reliability(y == 1, p1, "positive")]
    elif model.task_ == "multiclass":
        charts.append(_per_class(model, y, scores))
        hit = scores.argmax(axis=1) == y
        charts.append(_reliability(hit, scores.max(axis=1), "top class"))
    elif model.task_ == "regression":
        charts += _regression(model, y.astype(float), scores.ravel())
    return charts


def _confusion(model: Model, rows: Rows) -> Chart:
    confusion = rows.evaluation.confusion
    assert confusion is not None
    matrix = confusion.to_numpy()
    labels = [str(c) for c in confusion.index]
    right = float(np.trace(matrix)) / max(1.0, float(matrix.sum()))
    off = matrix.astype(float).copy()
    np.fill_diagonal(off, -1)
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    alt = (
        f"{pct(right)} in 100 rows land on the diagonal (predicted right); the most common "
        f"mistake is predicting '{labels[j]}' for '{labels[i]}' ({int(matrix[i, j]):,} rows)."
    )
    where = "" if model.threshold_ is None else f", threshold {fmt(model.threshold_)}"
    return heatmap(
        matrix,
        labels,
        labels,
        title=f"Confusion matrix ({rows.evaluation.n_rows:,} rows{where})",
        alt=alt,
        xlabel="predicted",
        ylabel="actual",
    )


def _roc(y: np.ndarray, p1: np.ndarray) -> Chart:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, p1)
    curve = np.interp(_GRID, fpr, tpr)
    auc = float(roc_auc_score(y, p1))
    at10 = float(np.interp(0.1, fpr, tpr))
    return line_chart(
        _GRID,
        {"model": curve},
        title=f"ROC curve (AUC {fmt(auc)})",
        alt=(
            f"The curve bows well above the diagonal: AUC {fmt(auc)}; at a false-positive rate "
            f"of 10% the model finds {pct(at10)} in 100 positive cases."
        ),
        xlabel="false-positive rate",
        ylabel="true-positive rate",
        diagonal=True,
    )


def _pr(y: np.ndarray, p1: np.ndarray) -> Chart:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p1)
    order = np.argsort(recall, kind="stable")
    # the best precision reachable at each recall (the curve's upper envelope)
    envelope = np.maximum.accumulate(precision[order][::-1])[::-1]
    curve = np.interp(_GRID, recall[order], envelope)
    base = float(np.mean(y))
    ap = float(average_precision_score(y, p1))
    return line_chart(
        _GRID,
        {"model": curve},
        title=f"Precision-recall curve (average precision {fmt(ap)})",
        alt=(
            f"Average precision is {fmt(ap)} against {fmt(base)} for guessing; at recall 50% "
            f"precision is {pct(float(np.interp(0.5, _GRID, curve)))} in 100."
        ),
        xlabel="recall",
        ylabel="precision",
        hline=(base, "share of positives"),
    )


def _gain(y: np.ndarray, p1: np.ndarray) -> Chart:
    order = np.argsort(-p1, kind="stable")
    found = np.concatenate([[0.0], np.cumsum(y[order]) / max(1, int(y.sum()))])
    share = np.linspace(0, 1, len(found))
    curve = np.interp(_GRID, share, found)
    top = float(np.interp(0.2, share, found))
    lift = top / 0.2
    return line_chart(
        _GRID,
        {"model": curve},
        title="Cumulative gain",
        alt=(
            f"Acting on the 20% of rows with the highest scores reaches {pct(top)} in 100 "
            f"positive cases, {lift:.1f} times what random picks reach (lift)."
        ),
        xlabel="share of rows acted on, highest scores first",
        ylabel="share of positive cases reached",
        diagonal=True,
    )


def _reliability(hit: np.ndarray, confidence: np.ndarray, what: str) -> Chart:
    edges = np.unique(np.quantile(confidence, np.linspace(0, 1, _BINS + 1)))
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": which, "p": confidence, "hit": hit.astype(float)})
    table = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("hit", "mean"))
    gap = float(np.abs(table["predicted"] - table["observed"]).max())
    alt = (
        f"Predicted probabilities of the {what} are close to how often it happens: the "
        f"largest gap over {len(table)} bins is {pct(gap)} percentage points."
        if gap < 0.1
        else f"Predicted probabilities of the {what} are off by up to {pct(gap)} percentage "
        "points in some bins: read them as scores rather than exact chances."
    )
    return line_chart(
        table["predicted"].to_numpy(),
        {"observed share": table["observed"].to_numpy()},
        title=f"Calibration (reliability of the {what} probability)",
        alt=alt,
        xlabel="predicted probability (bin average)",
        ylabel="observed share",
        diagonal=True,
    )


def _per_class(model: Model, y: np.ndarray, scores: np.ndarray) -> Chart:
    from sklearn.metrics import precision_recall_fscore_support

    classes = [str(c) for c in (model.classes_ or [])]
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, scores.argmax(axis=1), labels=labels, zero_division=0
    )
    worst = int(np.argmin(np.where(support > 0, recall, np.inf)))
    chart = bar_chart(
        classes,
        recall,
        title="Recall per class",
        alt=(
            f"The model finds '{classes[worst]}' least often: {pct(recall[worst])} in 100 of "
            f"its {int(support[worst]):,} rows."
        ),
        xlabel="recall",
    )
    chart.table = pd.DataFrame(
        {"class": classes, "precision": precision, "recall": recall, "f1": f1, "rows": support}
    )
    return chart


def _regression(model: Model, y: np.ndarray, pred: np.ndarray) -> list[Chart]:
    target = str(model.info_["target"])
    residual = y - pred
    corr = float(np.corrcoef(y, pred)[0, 1]) if len(y) > 2 and np.std(pred) > 0 else math.nan
    spread = float(np.quantile(np.abs(residual), 0.9))
    big = pred > np.median(pred)
    wider = float(np.mean(np.abs(residual[big]))) > 1.5 * float(np.mean(np.abs(residual[~big])))
    return [
        scatter_chart(
            pred,
            y,
            title="Predicted against actual",
            alt=(
                f"Points follow the diagonal (correlation {fmt(corr)}); the closer, the better "
                "the prediction."
            ),
            xlabel=f"predicted {target}",
            ylabel=f"actual {target}",
            diagonal=True,
        ),
        scatter_chart(
            pred,
            residual,
            title="Residuals (actual - predicted)",
            alt=(
                f"90% of residuals are within ±{fmt(spread)}; "
                + (
                    "errors grow with the predicted value."
                    if wider
                    else "their spread is similar across predicted values."
                )
            ),
            xlabel=f"predicted {target}",
            ylabel="residual",
            hline=(0.0, "no error"),
        ),
    ]
