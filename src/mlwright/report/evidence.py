"""The labelled rows a report measures on: given evaluation rows, or the model's out-of-fold
predictions on its training rows; plus small statistics shared by the report's sections."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlwright.data.schema import Role
from mlwright.errors import DataError, MlwrightWarning
from mlwright.evaluation import Evaluation
from mlwright.model import Model

__all__ = ["Rows", "bootstrap", "collect_rows", "fmt", "pct", "time_range", "wilson"]

N_BOOT = 300  # resamples for the intervals the report computes itself: enough for 95% bounds
CONFIDENCE = 0.95


@dataclass
class Rows:
    """Labelled rows with the model's predictions.

    ``evaluation`` covers every row measured on; ``y``/``scores``/``frame`` are the rows the
    detailed sections (segments, charts, effects) use: all of them for given data, a random
    sample of at most 5,000 for out-of-fold predictions. ``raw`` holds the given data's original
    columns (None for out-of-fold rows), aligned with ``frame``.
    """

    kind: str  # "data" | "oof"
    description: str
    evaluation: Evaluation
    y: np.ndarray | None
    scores: np.ndarray | None
    frame: pd.DataFrame | None
    raw: pd.DataFrame | None = None

    @property
    def available(self) -> bool:
        """True when row-level predictions are there (not for models saved without them)."""
        return self.y is not None and self.scores is not None and len(self.y) > 0


def collect_rows(model: Model, data: pd.DataFrame | None) -> Rows:
    """The rows to measure ``model`` on: ``data`` when given, else its out-of-fold predictions."""
    if data is not None:
        return _data_rows(model, data)
    total = int(model.cv_evaluation_.n_rows)
    ref = model.reference_
    y = scores = frame = None
    description = (
        f"out-of-fold predictions on the {total:,} training rows: each row was predicted by a "
        "model trained without it, as on new data"
    )
    if ref is not None and ref.scores is not None and ref.labels is not None:
        y = ref.labels if model.task_ == "regression" else ref.labels.astype(np.int64)
        scores = ref.scores
        frame = ref.sample_rows()
        if len(y) < total:
            description += f"; the detailed sections use a random sample of {len(y):,} of them"
    else:
        description += "; this model was saved without row-level predictions, so the detailed "
        description += "sections are left out (retrain it, or pass labelled rows with --data)"
    return Rows("oof", description, model.cv_evaluation_, y, scores, frame)


def _data_rows(model: Model, data: pd.DataFrame) -> Rows:
    target = str(model.info_["target"])
    if target not in data.columns:
        raise DataError(
            f"the evaluation data has no target column '{target}'; its columns are "
            f"{list(data.columns)[:20]}. Pass labelled rows that hold '{target}'."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        scored = model.evaluate_scored(data, n_boot=500)
    y, scores, conformed = scored.y, scored.scores, scored.conformed
    evaluation = scored.evaluation
    dropped = len(data) - len(y)
    description = f"{len(y):,} labelled rows given for evaluation, which the model never saw"
    if dropped:
        description += f" ({dropped:,} more were set aside: unusable values or no target)"
    raw = data.iloc[conformed.row_positions].reset_index(drop=True)
    features = conformed.features.reset_index(drop=True)
    return Rows("data", description, evaluation, y, scores, features, raw)


def time_range(model: Model, rows: Rows) -> str | None:
    """The span of the training rows' first date column in words, or None without one."""
    frame = model.reference_.sample_rows() if model.reference_ is not None else None
    dates = [c.name for c in model.schema_.features if c.role is Role.DATETIME]
    if frame is None or not dates or dates[0] not in frame.columns:
        return None
    values = pd.to_datetime(frame[dates[0]], errors="coerce").dropna()
    if values.empty:
        return None
    sampled = len(frame) < int(model.info_.get("rows_used", len(frame)))
    span = f"from {values.min():%Y-%m-%d} to {values.max():%Y-%m-%d} (column '{dates[0]}'"
    return span + (", from a sample of the rows)" if sampled else ")")


def bootstrap(
    statistic: Callable[[np.ndarray], float], n: int, *, seed: int = 0, n_boot: int = N_BOOT
) -> tuple[float, float]:
    """Percentile interval of ``statistic(index)`` over ``n_boot`` resamples of ``n`` rows."""
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_boot)], dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def wilson(successes: float, trials: float) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion (exact enough at any count, never outside 0..1)."""
    if trials <= 0:
        return math.nan, math.nan
    z = 1.959964
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def pct(value: float) -> str:
    """A share as a whole number out of 100 (``0.781`` -> ``"78"``)."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f}"


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits and thousands separators."""
    if value is None:
        return "n/a"
    number = float(value)
    if not math.isfinite(number):
        return "n/a"
    if number != 0 and abs(number) >= 10 ** (digits - 1):
        return f"{number:,.0f}"
    return f"{number:,.{digits}g}"
