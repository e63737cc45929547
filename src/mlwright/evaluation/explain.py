"""Per-prediction explanations: Shapley values of the input columns, in the prediction's units.

The model is a black box here: ``predict`` maps a conformed feature frame to its outputs (class
probabilities after calibration, or values), so every learner and ensemble is explained the same
way, in the units it answers in. A column is "absent" when it takes a background row's value and
"present" when it takes the explained row's value; a column's attribution is its mean marginal
effect on the output over orderings of the columns (Shapley values of the interventional game).

- With ``d!`` at most ``n_permutations`` (few columns), every ordering is used with every
  background row: the values are exact.
- Otherwise ``n_permutations`` orderings are sampled in antithetic pairs (an ordering and its
  reverse, sharing one background row), which cancels much of the sampling noise; each value
  comes with its standard error over the pairs.

Either way each ordering's contributions telescope from the background row's output to the row's
output, so ``base + contributions.sum() == prediction`` holds to rounding, for every row.
Attributions are per input column: an encoder's one-hot or date-part columns are never separated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Explanation", "shapley_values"]

_CHUNK_ROWS = 50_000  # rows per call of ``predict`` while walking the orderings


@dataclass
class Explanation:
    """Feature attributions for rows: ``base + values.sum(axis=1) == prediction``.

    ``outputs`` names what is explained: for a binary classifier the probability of its positive
    class, for a multiclass one the probability of each class, for regression the value.
    ``contributions`` has shape ``(rows, columns, outputs)``; ``standard_errors`` the same shape
    (zeros when the values are exact). ``rejects`` holds the rows that could not be scored.

    Example:
        >>> explanation = model.explain(rows.head(5))
        >>> explanation.values.round(3)              # rows x input columns
        >>> explanation.base + explanation.values.sum(axis=1) - explanation.prediction  # ~0
    """

    contributions: np.ndarray
    base_values: np.ndarray
    predictions: np.ndarray
    standard_errors: np.ndarray
    columns: list[str]
    outputs: list[str]
    index: pd.Index
    method: str
    unit: str
    background_rows: int
    inputs: pd.DataFrame | None = None
    labels: list[Any] | None = None
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def frame(self, output: str | None = None) -> pd.DataFrame:
        """Attributions to one output (default: the only or first one), rows x input columns."""
        k = 0 if output is None else self.outputs.index(output)
        return pd.DataFrame(self.contributions[:, :, k], index=self.index, columns=self.columns)

    @property
    def values(self) -> pd.DataFrame:
        """Rows x input columns; with several outputs the columns are ``(output, column)``."""
        if len(self.outputs) == 1:
            return self.frame()
        frames = {name: self.frame(name) for name in self.outputs}
        return pd.concat(frames, axis=1)

    @property
    def base(self) -> float | pd.Series:
        """The expected output over the background (one per output when there are several)."""
        if len(self.outputs) == 1:
            return float(self.base_values[0])
        return pd.Series(self.base_values, index=self.outputs)

    @property
    def prediction(self) -> pd.Series | pd.DataFrame:
        """The model's output for each row (a column per output when there are several)."""
        if len(self.outputs) == 1:
            return pd.Series(self.predictions[:, 0], index=self.index, name=self.outputs[0])
        return pd.DataFrame(self.predictions, index=self.index, columns=self.outputs)

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready: per row and output the prediction, the base, the ``top`` contributions by
        absolute size and ``rest``, the sum of the others (so base + shown + rest = prediction).
        """
        rows = []
        for i, key in enumerate(self.index):
            row: dict[str, Any] = {"row": _plain(key)}
            if self.labels is not None:
                row["label"] = _plain(self.labels[i])
            row["explained"] = [self._output(i, k, top) for k in range(len(self.outputs))]
            rows.append(row)
        rejects = [
            {"row": _plain(r), "reason": str(why)}
            for r, why in zip(
                self.rejects.get("_row", []), self.rejects.get("_reason", []), strict=True
            )
        ]
        return {
            "method": self.method,
            "unit": self.unit,
            "outputs": self.outputs,
            "background_rows": self.background_rows,
            "rows": rows,
            "rejects": rejects,
        }

    def _output(self, i: int, k: int, top: int) -> dict[str, Any]:
        values = self.contributions[i, :, k]
        order = np.argsort(-np.abs(values), kind="stable")
        shown = order[: max(top, 0)]
        items = []
        for j in shown.tolist():
            item: dict[str, Any] = {"column": self.columns[j]}
            if self.inputs is not None:
                item["value"] = _plain(self.inputs.iloc[i, j])
            item["contribution"] = float(values[j])
            item["standard_error"] = float(self.standard_errors[i, j, k])
            items.append(item)
        return {
            "output": self.outputs[k],
            "prediction": float(self.predictions[i, k]),
            "base": float(self.base_values[k]),
            "contributions": items,
            "rest": float(values[order[len(shown) :]].sum()),
        }


def shapley_values(
    predict: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    n_permutations: int = 64,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Shapley values of ``rows``' columns for ``predict``, against ``background`` rows.

    Parameters
    ----------
    predict:
        Outputs ``(m, k)`` for a frame of ``m`` rows with the columns of ``rows``.
    rows:
        The rows to explain (conformed features).
    background:
        Rows whose values stand for "absent" columns (same columns and dtypes); one row gives
        baseline Shapley values, several give interventional ones averaged over them.
    n_permutations:
        Column orderings to sample (rounded up to an even number); when ``d!`` is at most this,
        every ordering is used and the values are exact.
    seed:
        Seeds the orderings, so the same call gives the same values.

    Returns
    -------
    ``(contributions (n, d, k), base (k,), predictions (n, k), standard_errors (n, d, k),
    method)``.

    Example:
        >>> phi, base, pred, se, method = shapley_values(f, rows, background.head(20))
        >>> np.allclose(base + phi.sum(axis=1), pred)
        True
    """
    d, n_bg = rows.shape[1], len(background)
    if n_bg == 0:
        raise ValueError("shapley_values needs at least one background row")
    orders, bg_index, exact = _orderings(d, n_bg, n_permutations, seed)
    f_bg = _as_2d(predict(background))
    f_rows = _as_2d(predict(rows)) if len(rows) else np.zeros((0, f_bg.shape[1]))
    k = f_bg.shape[1]
    chains = len(orders)
    rank = np.argsort(orders, axis=1)  # rank[c, col]: the step at which col becomes present
    steps = np.arange(1, d)[None, :, None]
    masks = (rank[:, None, :] < steps).reshape(chains * (d - 1), d)  # (chains * (d-1), d)
    start = f_bg[bg_index]  # (chains, k)
    per_chunk = max(1, _CHUNK_ROWS // max(1, chains * (d - 1)))
    contributions = np.zeros((len(rows), d, k))
    errors = np.zeros((len(rows), d, k))
    for lo in range(0, len(rows), per_chunk):
        chunk = rows.iloc[lo : lo + per_chunk]
        middle = _walk(predict, chunk, background, masks, np.repeat(bg_index, d - 1), k)
        middle = middle.reshape(len(chunk), chains, d - 1, k)
        path = np.concatenate(
            [
                np.broadcast_to(start[None, :, None, :], (len(chunk), chains, 1, k)),
                middle,
                np.broadcast_to(
                    f_rows[lo : lo + len(chunk), None, None, :], (len(chunk), chains, 1, k)
                ),
            ],
            axis=2,
        )
        step_gain = np.diff(path, axis=2)  # (n, chains, d, k): gain of the column added at step s
        phi = np.take_along_axis(step_gain, rank[None, :, :, None], axis=2)
        contributions[lo : lo + len(chunk)] = phi.mean(axis=1)
        if not exact and chains >= 4:
            pairs = (phi[:, 0::2] + phi[:, 1::2]) / 2
            errors[lo : lo + len(chunk)] = pairs.std(axis=1, ddof=1) / math.sqrt(chains // 2)
    base = start.mean(axis=0)
    kind = "baseline" if n_bg == 1 else f"interventional, {n_bg} background rows"
    if exact:
        method = f"exact Shapley values ({kind}; all {math.factorial(d)} column orderings)"
    else:
        method = f"permutation Shapley values ({kind}; {chains} antithetic column orderings)"
    return contributions, base, f_rows, errors, method


def _orderings(
    d: int, n_bg: int, n_permutations: int, seed: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Column orderings and the background row each one starts from; True when exhaustive."""
    if math.factorial(d) <= n_permutations:
        every = np.array(list(permutations(range(d))), dtype=np.int64).reshape(-1, d)
        orders = np.repeat(every, n_bg, axis=0)
        return orders, np.tile(np.arange(n_bg), len(every)), True
    rng = np.random.default_rng(seed)
    n_pairs = max(1, (n_permutations + 1) // 2)
    forward = np.stack([rng.permutation(d) for _ in range(n_pairs)])
    orders = np.empty((2 * n_pairs, d), dtype=np.int64)
    orders[0::2], orders[1::2] = forward, forward[:, ::-1]
    return orders, np.repeat(np.arange(n_pairs) % n_bg, 2), False


def _walk(
    predict: Callable[[pd.DataFrame], np.ndarray],
    chunk: pd.DataFrame,
    background: pd.DataFrame,
    masks: np.ndarray,
    bg_rows: np.ndarray,
    k: int,
) -> np.ndarray:
    """The outputs at every intermediate step of every ordering, for each row of ``chunk``."""
    if len(masks) == 0:
        return np.zeros((len(chunk) * 0, k))
    n, m = len(chunk), len(masks)
    data = {}
    for j, name in enumerate(chunk.columns):
        present = np.tile(masks[:, j], n)
        mine = np.repeat(chunk[name].to_numpy(), m)
        absent = np.tile(background[name].to_numpy()[bg_rows], n)
        data[name] = pd.Series(np.where(present, mine, absent)).astype(chunk[name].dtype)
    return _as_2d(predict(pd.DataFrame(data, columns=chunk.columns)))


def _as_2d(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float)
    return out[:, None] if out.ndim == 1 else out


def _plain(value: Any) -> Any:
    """A JSON scalar: numbers and text as they are, missing as None, dates as ISO text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value
