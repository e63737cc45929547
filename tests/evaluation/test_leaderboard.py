"""Leaderboard: best first in either metric direction, serialised and rendered."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from mlwright.errors import MlwrightError
from mlwright.evaluation import Leaderboard, LeaderboardRow


def board(metric: str, greater_is_better: bool) -> Leaderboard:
    lb = Leaderboard(metric, greater_is_better, [])
    for name, score in [("a", 0.7), ("b", float("nan")), ("c", 0.9), ("d", 0.8), ("e", 0.7)]:
        lb.add(LeaderboardRow(name, "linear", score, 1.5, 0.2, {"alpha": np.float64(0.1)}))
    return lb


def test_sorted_when_greater_is_better() -> None:
    lb = board("roc_auc", True)
    assert [r.name for r in lb.sorted()] == ["c", "d", "a", "e", "b"]
    assert lb.best().name == "c"


def test_sorted_when_lower_is_better() -> None:
    lb = board("rmse", False)
    assert [r.name for r in lb.sorted()] == ["a", "e", "d", "c", "b"]
    assert lb.best().name == "a"


def test_frame_dict_round_trip() -> None:
    lb = board("rmse", False)
    frame = lb.to_frame()
    assert list(frame["name"]) == ["a", "e", "d", "c", "b"] and frame.index[0] == 1
    assert {"score", "fit_time", "predict_time_per_1k", "params", "note"} <= set(frame.columns)
    document = lb.to_dict()
    text = json.dumps(document, allow_nan=False)
    assert document["rows"][0]["params"] == {"alpha": 0.1} and document["rows"][-1]["score"] is None
    back = Leaderboard.from_dict(json.loads(text))
    assert back.metric == "rmse" and back.greater_is_better is False
    assert [r.name for r in back.sorted()] == ["a", "e", "d", "c", "b"]
    assert np.isnan(back.rows[-1].score)


def test_rich_table_lists_ranked_rows() -> None:
    lb = board("roc_auc", True)
    lb.add(LeaderboardRow("ensemble", "ensemble", 0.95, 3.0, 0.4, {}, note="weighted mean"))
    console = Console(width=150, record=True)
    console.print(lb.to_rich())
    text = console.export_text()
    assert "roc_auc (cv)" in text and "predict ms/1k rows" in text and "weighted mean" in text
    assert text.index("ensemble") < text.index("0.9000")


def test_best_of_empty_board_errors() -> None:
    with pytest.raises(MlwrightError, match="empty"):
        Leaderboard("rmse", False, []).best()
