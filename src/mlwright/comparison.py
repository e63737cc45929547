"""Two models on the same labelled rows: each one's scores in the same class order, and a paired
bootstrap of the metric, each model judged at its own decision threshold.

Used wherever a version is set against another: the retraining decision (``mlwright.operate``)
and the report's comparison with the previous production version (``mlwright.report``).

Example:
    >>> comparison, unscored = compare_on_holdout(champion, challenger, rows, y,
    ...                                           names=("challenger", "champion"), alpha=0.05)
    >>> comparison.sentence()
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from mlwright.errors import MlwrightWarning
from mlwright.evaluation import Comparison, get_metric, paired_bootstrap
from mlwright.model import Model

__all__ = ["compare_on_holdout", "compare_scores", "label_key", "scores_in_order"]


def label_key(value: Any) -> str | None:
    """A label as comparable text: ``1``, ``1.0``, ``"1"`` and ``True``/``"True"`` meet; None for
    a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def scores_in_order(model: Model, rows: pd.DataFrame, classes: list[Any] | None) -> np.ndarray:
    """Class probabilities in ``classes`` order (or values); rows the model set aside are NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        if classes is None:
            return model.predict(rows).to_numpy(dtype=float)
        proba = model.predict_proba(rows)
    # a class the challenger never saw gets probability 0 from it
    keys = {label_key(c): c for c in proba.columns}
    out = np.zeros((len(rows), len(classes)))
    for i, label in enumerate(classes):
        key = label_key(label)
        if key in keys:
            out[:, i] = proba[keys[key]].to_numpy(dtype=float)
    out[proba.isna().all(axis=1).to_numpy()] = np.nan
    return out


def cut_at_threshold(p: np.ndarray, threshold: float | None) -> np.ndarray:
    """Positive-class probabilities moved monotonically so the model's own threshold sits at 0.5:
    label metrics then score each model at its own decision threshold."""
    t = 0.5 if threshold is None else min(max(threshold, 1e-9), 1 - 1e-9)
    moved: np.ndarray = np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))
    return moved


def compare_on_holdout(
    champion: Model,
    challenger: Model,
    rows: pd.DataFrame,
    y: np.ndarray,
    *,
    names: tuple[str, str],
    alpha: float,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[Comparison, int]:
    """The paired bootstrap of challenger against champion on the same held-out ``rows``.

    ``y`` holds class indices in the champion's class order (values for regression). Returns the
    comparison (positive ``difference``: the challenger is better) and the rows either model set
    aside, which are left out of it.
    """
    classes = champion.classes_
    ours = scores_in_order(challenger, rows, classes)
    theirs = scores_in_order(champion, rows, classes)
    return compare_scores(
        champion, challenger, ours, theirs, y, names=names, alpha=alpha, seed=seed, n_boot=n_boot
    )


def compare_scores(
    champion: Model,
    challenger: Model,
    ours: np.ndarray,
    theirs: np.ndarray,
    y: np.ndarray,
    *,
    names: tuple[str, str],
    alpha: float,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[Comparison, int]:
    """The paired bootstrap of the challenger's scores ``ours`` against the champion's
    ``theirs`` on the same rows: class probabilities in the champion's class order (values for
    regression), NaN where a model set the row aside. Returns the comparison and how many rows
    were left out for that."""
    metric = get_metric(champion.metric_, champion.task_)
    n = len(y)
    finite = np.isfinite(ours).reshape(n, -1).all(axis=1)
    finite &= np.isfinite(theirs).reshape(n, -1).all(axis=1)
    ours, theirs, y = ours[finite], theirs[finite], y[finite]
    if champion.task_ == "binary" and metric.needs == "label":
        ours = cut_at_threshold(ours[:, 1], challenger.threshold_)
        theirs = cut_at_threshold(theirs[:, 1], champion.threshold_)
    comparison = paired_bootstrap(
        metric, y, ours, theirs, n_boot=n_boot, seed=seed, alpha=alpha, names=names
    )
    return comparison, int((~finite).sum())
