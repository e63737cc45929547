"""Leaderboard: every candidate tried, with its cross-validated score and its costs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from rich.table import Table

from mlwright.errors import MlwrightError
from mlwright.evaluation.evaluation import jsonable

__all__ = ["Leaderboard", "LeaderboardRow"]


@dataclass
class LeaderboardRow:
    """One candidate: its cross-validated score, fit time and prediction speed."""

    name: str
    learner: str
    score: float
    fit_time: float
    predict_time_per_1k: float
    params: dict[str, Any]
    note: str = ""


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
            )
            for row in data["rows"]
        ]
        return cls(data["metric"], bool(data["greater_is_better"]), rows)

    def to_rich(self, limit: int | None = 15) -> Table:
        """A table: rank, model, cross-validated score, fit seconds, predict ms per 1k rows.

        Shows the best ``limit`` rows (all when None) and says how many more there are.
        """
        direction = "higher" if self.greater_is_better else "lower"
        table = Table(title=f"leaderboard ({direction} {self.metric} is better)")
        for header in ("rank", "model", f"{self.metric} (cv)", "fit s", "predict ms/1k rows"):
            table.add_column(header, justify="left" if header == "model" else "right")
        table.add_column("note", overflow="fold")
        rows = self.sorted()
        shown = rows if limit is None else rows[:limit]
        if len(shown) < len(rows):
            table.caption = (
                f"{len(rows) - len(shown)} more candidate(s) not shown; --json lists all"
            )
        for rank, row in enumerate(shown, start=1):
            score = "n/a" if math.isnan(row.score) else f"{row.score:.4f}"
            table.add_row(
                str(rank),
                row.name,
                score,
                f"{row.fit_time:.1f}",
                f"{row.predict_time_per_1k:.1f}",
                row.note,
                style="bold" if rank == 1 else None,
            )
        return table
