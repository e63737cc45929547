"""Leaderboard: every candidate tried, with its cross-validated score and its costs.

``Leaderboard.mark_significance`` adds whether each candidate is significantly worse than the
best one, by a paired bootstrap on their out-of-fold predictions (see ``compare``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from mlwright.errors import MlwrightError
from mlwright.evaluation.compare import bootstrap_p_value, bootstrap_scores, format_p
from mlwright.evaluation.evaluation import jsonable
from mlwright.evaluation.metrics import Metric

__all__ = ["Leaderboard", "LeaderboardRow"]

_ALPHA = 0.05  # significance level of the "vs best" column; its caption says so


@dataclass
class LeaderboardRow:
    """One candidate: its cross-validated score, fit time and prediction speed.

    ``vs_best_p`` and ``significant`` (is it significantly worse than the best row?) are set by
    ``Leaderboard.mark_significance``; ``None`` where no comparison was made.
    """

    name: str
    learner: str
    score: float
    fit_time: float
    predict_time_per_1k: float
    params: dict[str, Any]
    note: str = ""
    vs_best_p: float | None = None
    significant: bool | None = None


@dataclass
class Leaderboard:
    """Candidates scored on one metric; ``sorted()`` puts the best first.

    Example
    -------
    >>> board = Leaderboard("rmse", greater_is_better=False, rows=[])
    >>> board.add(LeaderboardRow("linear_1", "linear", 3.0, 0.1, 0.5, {}))
    >>> board.add(LeaderboardRow("lightgbm_1", "lightgbm", 2.0, 1.2, 1.5, {}))
    >>> board.best().name
    'lightgbm_1'
    """

    metric: str
    greater_is_better: bool
    rows: list[LeaderboardRow] = field(default_factory=list)

    def add(self, row: LeaderboardRow) -> None:
        """Append a candidate's row."""
        self.rows.append(row)

    def sorted(self) -> list[LeaderboardRow]:
        """Rows best first; undefined (nan) scores last, ties in the order added."""

        def key(row: LeaderboardRow) -> tuple[bool, float]:
            undefined = row.score is None or math.isnan(row.score)
            value = 0.0 if undefined else float(row.score)
            return undefined, -value if self.greater_is_better else value

        return sorted(self.rows, key=key)

    def best(self) -> LeaderboardRow:
        """The best-scoring row."""
        if not self.rows:
            raise MlwrightError(
                "the leaderboard is empty; expected at least one scored candidate. "
                "Train a model before asking for the best candidate."
            )
        return self.sorted()[0]

    def to_frame(self) -> pd.DataFrame:
        """The rows best first, ranked from 1, as a DataFrame."""
        records = [asdict(row) for row in self.sorted()]
        columns = list(LeaderboardRow.__dataclass_fields__)
        frame = pd.DataFrame.from_records(records, columns=columns)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the rows best first; ``None`` for nan scores."""
        document = {
            "metric": self.metric,
            "greater_is_better": self.greater_is_better,
            "rows": [asdict(row) for row in self.sorted()],
        }
        result: dict[str, Any] = jsonable(document)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Leaderboard:
        """Rebuild a Leaderboard written by ``to_dict``."""
        rows = [
            LeaderboardRow(
                name=row["name"],
                learner=row["learner"],
                score=float("nan") if row["score"] is None else float(row["score"]),
                fit_time=float(row["fit_time"]),
                predict_time_per_1k=float(row["predict_time_per_1k"]),
                params=dict(row.get("params") or {}),
                note=row.get("note", ""),
                vs_best_p=None if row.get("vs_best_p") is None else float(row["vs_best_p"]),
                significant=None if row.get("significant") is None else bool(row["significant"]),
            )
            for row in data["rows"]
        ]
        return cls(data["metric"], bool(data["greater_is_better"]), rows)

    def mark_significance(
        self,
        y: np.ndarray,
        oof_by_name: dict[str, np.ndarray],
        metric: Metric,
        *,
        seed: int = 0,
        n_boot: int = 1000,
        max_rows: int = 30,
        threshold: float = 0.5,
        max_sample_rows: int = 10_000,
    ) -> None:
        """Set ``vs_best_p`` and ``significant`` on the top rows by comparing each with the best.

        Each of the best ``max_rows`` rows is compared with the best row by a paired bootstrap
        on their out-of-fold predictions: the same resampled rows for every model, one
        ``batch_scores`` call per model and block of resamples. ``significant`` is True when
        the row is worse than the best at the 5% level. The best row itself, rows past
        ``max_rows`` and rows without predictions in ``oof_by_name`` get ``None``; so does every
        row when the best has no predictions. Above ``max_sample_rows`` rows, a random subset
        of that many rows is compared, which keeps the cost to seconds.

        Parameters
        ----------
        y:
            Targets of the out-of-fold rows (class indices for classification).
        oof_by_name:
            Out-of-fold predictions for ``y``'s rows, keyed by row name.
        metric:
            The metric to compare on, normally the leaderboard's own.

        Example
        -------
        >>> import numpy as np
        >>> from mlwright.evaluation.metrics import get_metric
        >>> rng = np.random.default_rng(0)
        >>> y = rng.normal(size=400)
        >>> oof = {"good": y + rng.normal(0, 0.5, 400), "poor": y + rng.normal(0, 1.0, 400)}
        >>> board = Leaderboard("rmse", greater_is_better=False)
        >>> board.add(LeaderboardRow("good", "lightgbm", 0.5, 1.0, 1.0, {}))
        >>> board.add(LeaderboardRow("poor", "linear", 1.0, 0.1, 0.5, {}))
        >>> board.mark_significance(y, oof, get_metric("rmse", "regression"))
        >>> board.rows[1].significant
        True
        """
        for row in self.rows:
            row.vs_best_p, row.significant = None, None
        top = self.sorted()[: max(0, max_rows)]
        if not top or top[0].name not in oof_by_name:
            return
        best = top[0]
        others = [row for row in top[1:] if row.name in oof_by_name]
        preds = [oof_by_name[best.name]] + [oof_by_name[row.name] for row in others]
        scores = bootstrap_scores(
            metric,
            y,
            preds,
            n_boot=n_boot,
            seed=seed,
            threshold=threshold,
            max_sample_rows=max_sample_rows,
        )
        sign = 1.0 if metric.greater_is_better else -1.0
        for row, row_scores in zip(others, scores[1:], strict=True):
            diffs = sign * (scores[0] - row_scores)  # positive: the best is better
            p_value = bootstrap_p_value(diffs)
            if math.isnan(p_value):  # no resample defined the metric for both
                continue
            row.vs_best_p = p_value
            row.significant = p_value < _ALPHA and float(np.nanmedian(diffs)) > 0

    def to_rich(self, limit: int | None = 15) -> Table:
        """A table: rank, model, cross-validated score, fit seconds, predict ms per 1k rows.

        Shows the best ``limit`` rows (all when None) and says how many more there are. After
        ``mark_significance``, a "vs best" column says which rows are significantly worse than
        the best.
        """
        direction = "higher" if self.greater_is_better else "lower"
        table = Table(title=f"leaderboard ({direction} {self.metric} is better)")
        for header in ("rank", "model", f"{self.metric} (cv)", "fit s", "predict ms/1k rows"):
            table.add_column(header, justify="left" if header == "model" else "right")
        rows = self.sorted()
        marked = any(row.vs_best_p is not None for row in rows)
        if marked:
            table.add_column("vs best", justify="left")
        table.add_column("note", overflow="fold")
        shown = rows if limit is None else rows[:limit]
        captions = []
        if len(shown) < len(rows):
            captions.append(
                f"{len(rows) - len(shown)} more candidate(s) not shown; --json lists all"
            )
        if marked:
            captions.append(
                f"vs best: each model against the best on the same out-of-fold rows (paired "
                f"bootstrap). 'worse' means reliably worse (p < {_ALPHA:g}); '≈' means the gap "
                "could be chance; blank means not compared."
            )
        table.caption = "\n".join(captions) or None
        for rank, row in enumerate(shown, start=1):
            score = "n/a" if math.isnan(row.score) else f"{row.score:.4f}"
            cells = [str(rank), row.name, score, f"{row.fit_time:.1f}"]
            cells.append(f"{row.predict_time_per_1k:.1f}")
            if marked:
                cells.append(_vs_best(row, rank))
            table.add_row(*cells, row.note, style="bold" if rank == 1 else None)
        return table


def _vs_best(row: LeaderboardRow, rank: int) -> str:
    """The "vs best" cell: best, worse (p=...), ≈ (p=...) or blank when not compared."""
    if rank == 1:
        return "best"
    if row.vs_best_p is None:
        return ""
    word = "worse" if row.significant else "≈"
    return f"{word} ({format_p(row.vs_best_p)})"
