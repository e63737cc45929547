"""How good the model is, in plain words: sentences a manager can read, with 95% intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlwright.model import Model
from mlwright.report.evidence import Rows, bootstrap, fmt, pct, wilson

__all__ = ["Headline", "headline", "subject"]


@dataclass
class Headline:
    """Sentences about the model's performance, and the numbers in them (for tests, JSON)."""

    sentences: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    cost: list[str] = field(default_factory=list)


def subject(model: Model) -> str:
    """What the model predicts, in words: ``"Churn = 'Yes'"`` or ``"price"``."""
    target = str(model.info_["target"])
    if model.task_ == "binary" and model.classes_:
        return f"{target} = '{model.classes_[1]}'"
    return target


def headline(model: Model, rows: Rows) -> Headline:
    """Performance sentences for ``model``'s task, measured on ``rows``."""
    if model.task_ == "binary":
        out = _binary(model, rows)
    elif model.task_ == "multiclass":
        out = _multiclass(model, rows)
    else:
        out = _regression(model, rows)
    if rows.evaluation.cost is not None:
        out.cost = _cost(rows.evaluation.cost)
    return out


def _binary(model: Model, rows: Rows) -> Headline:
    ev = rows.evaluation
    assert ev.confusion is not None
    matrix = ev.confusion.to_numpy()
    tp, fp, fn = float(matrix[1, 1]), float(matrix[0, 1]), float(matrix[1, 0])
    n = float(matrix.sum())
    flagged = tp + fp
    recall, precision = ev["recall"], ev["precision"]
    flag_low, flag_high = wilson(flagged, n)
    every = round(n / flagged) if flagged else math.inf
    cases = f"{subject(model)} cases"
    sentences = [
        f"At the chosen threshold the model finds {pct(recall.value)} of every 100 {cases}, "
        f"while flagging 1 in {every if math.isfinite(every) else 'no'} rows; between "
        f"{pct(recall.low)} and {pct(recall.high)} with 95% confidence.",
        f"Of the rows it flags, {pct(precision.value)} in 100 are right (between "
        f"{pct(precision.low)} and {pct(precision.high)}); it flags {pct(flagged / n)} in 100 "
        f"rows ({pct(flag_low)} to {pct(flag_high)}), while {pct((tp + fn) / n)} in 100 rows "
        f"are {cases}.",
    ]
    if "roc_auc" in [m.name for m in ev.metrics]:
        auc = ev["roc_auc"]
        sentences.append(
            f"Ranking: given one {subject(model)} case and one other, it scores the first higher "
            f"{pct(auc.value)} times in 100 (ROC AUC {fmt(auc.value)}, 95% interval "
            f"{fmt(auc.low)} to {fmt(auc.high)})."
        )
    numbers = {
        "recall": recall.value,
        "recall_low": recall.low,
        "recall_high": recall.high,
        "precision": precision.value,
        "flag_every": every,
        "threshold": ev.threshold,
    }
    return Headline(sentences, numbers)


def _multiclass(model: Model, rows: Rows) -> Headline:
    ev = rows.evaluation
    accuracy = ev["accuracy"]
    assert ev.confusion is not None
    matrix = ev.confusion.to_numpy().astype(float)
    support = matrix.sum(axis=1)
    sentences = [
        f"The model is right for {pct(accuracy.value)} of every 100 rows (between "
        f"{pct(accuracy.low)} and {pct(accuracy.high)} with 95% confidence); always answering "
        f"the most common class would be right for {pct(support.max() / support.sum())}."
    ]
    recalls = np.divide(
        np.diag(matrix), support, out=np.full(len(support), np.nan), where=support > 0
    )
    order = [i for i in np.argsort(recalls) if support[i] > 0 and recalls[i] < accuracy.value][:3]
    weak = []
    for i in order:
        low, high = wilson(matrix[i, i], support[i])
        weak.append(
            f"'{ev.confusion.index[i]}' (finds {pct(recalls[i])} in 100, {pct(low)} to "
            f"{pct(high)}, {int(support[i]):,} rows)"
        )
    if weak:
        sentences.append("It is weakest on " + "; ".join(weak) + ".")
    numbers = {"accuracy": accuracy.value, "accuracy_low": accuracy.low}
    return Headline(sentences, numbers)


def _regression(model: Model, rows: Rows) -> Headline:
    ev = rows.evaluation
    target = str(model.info_["target"])
    mae = ev["mae"]
    sentences = [
        f"A typical prediction of {target} is off by {fmt(mae.value)} (the mean absolute error; "
        f"between {fmt(mae.low)} and {fmt(mae.high)} with 95% confidence), in {target}'s units."
    ]
    numbers: dict[str, Any] = {"mae": mae.value, "mae_low": mae.low, "mae_high": mae.high}
    if rows.available:
        assert rows.y is not None and rows.scores is not None
        y = rows.y.astype(float)
        error = np.abs(y - np.asarray(rows.scores, dtype=float).ravel())
        within = float(np.quantile(error, 0.9))
        low, high = bootstrap(lambda i: float(np.quantile(error[i], 0.9)), len(error))
        baseline = float(np.mean(np.abs(y - y.mean())))
        sentences.append(
            f"90% of predictions are within ±{fmt(within)} of the truth (95% interval "
            f"±{fmt(low)} to ±{fmt(high)}); predicting the average for every row would be off "
            f"by {fmt(baseline)} on average."
        )
        numbers.update({"within_90": within, "baseline_mae": baseline})
    if "r2" in [m.name for m in ev.metrics]:
        r2 = ev["r2"]
        sentences.append(
            f"It explains {pct(r2.value)}% of the variation in {target} (R² {fmt(r2.value)}, "
            f"{fmt(r2.low)} to {fmt(r2.high)})."
        )
    return Headline(sentences, numbers)


def _cost(cost: dict[str, float]) -> list[str]:
    best_rule = min(cost["act_on_none"], cost["act_on_all"])
    rule = "acting on nobody" if cost["act_on_none"] <= cost["act_on_all"] else "acting on all"
    saving = best_rule - cost["per_row"]
    return [
        f"With a false alarm costing {fmt(cost['fp'])} and a missed case {fmt(cost['fn'])}, "
        f"the model's mistakes cost {fmt(cost['per_row'])} per row (between "
        f"{fmt(cost['per_row_low'])} and {fmt(cost['per_row_high'])}), {fmt(cost['total'])} "
        "over the rows measured.",
        f"Without a model, acting on nobody would cost {fmt(cost['act_on_none'])} per row and "
        f"acting on everybody {fmt(cost['act_on_all'])}; against the cheaper ({rule}), the "
        + (
            f"model saves {fmt(saving)} per row."
            if saving > 0
            else f"model costs {fmt(-saving)} more per row: check the costs and the threshold."
        ),
    ]
