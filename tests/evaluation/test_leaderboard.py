"""Leaderboard: best first in either metric direction, serialised and rendered."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from mlwright.errors import MlwrightError
from mlwright.evaluation import Leaderboard, LeaderboardRow, get_metric


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


def graded_board() -> tuple[Leaderboard, np.ndarray, dict[str, np.ndarray]]:
    """Regressors from best to worst: one as good as the best, two clearly worse, one unpaired."""
    rng = np.random.default_rng(0)
    y = rng.normal(0, 3, 600)
    noise = {"best": 1.0, "tied": 1.0, "worse": 1.6, "much_worse": 3.0, "no_oof": 5.0}
    oof = {name: y + rng.normal(0, sd, len(y)) for name, sd in noise.items()}
    # the best's errors dealt to other rows: the same rmse, but not the same predictions
    oof["tied"] = y + rng.permutation(oof["best"] - y)
    metric = get_metric("rmse", "regression")
    lb = Leaderboard("rmse", False, [])
    for name in noise:
        lb.add(LeaderboardRow(name, "linear", metric.score(y, oof[name]), 1.0, 0.1, {}))
    lb.rows[1].score += 1e-9  # "best" leads "tied" by a hair
    del oof["no_oof"]
    return lb, y, oof


def test_mark_significance_flags_rows_worse_than_the_best() -> None:
    lb, y, oof = graded_board()
    lb.mark_significance(y, oof, get_metric("rmse", "regression"), n_boot=500)
    rows = {r.name: r for r in lb.rows}
    assert rows["best"].vs_best_p is None and rows["best"].significant is None
    assert rows["tied"].significant is False and (rows["tied"].vs_best_p or 0) > 0.05
    assert rows["worse"].significant is True and (rows["worse"].vs_best_p or 1) < 0.01
    assert rows["much_worse"].significant is True
    assert rows["no_oof"].vs_best_p is None and rows["no_oof"].significant is None
    again = graded_board()[0]
    again.mark_significance(y, oof, get_metric("rmse", "regression"), n_boot=500)
    assert [r.vs_best_p for r in again.rows] == [r.vs_best_p for r in lb.rows]


def test_mark_significance_limits_rows_and_needs_the_best() -> None:
    lb, y, oof = graded_board()
    rmse = get_metric("rmse", "regression")
    lb.mark_significance(y, oof, rmse, n_boot=200, max_rows=2)
    assert [r.vs_best_p is not None for r in lb.sorted()] == [False, True, False, False, False]
    lb.mark_significance(y, {k: v for k, v in oof.items() if k != "best"}, rmse, n_boot=200)
    assert all(r.vs_best_p is None and r.significant is None for r in lb.rows)


def test_mark_significance_on_a_random_subset_of_large_inputs() -> None:
    lb, y, oof = graded_board()
    lb.mark_significance(y, oof, get_metric("rmse", "regression"), n_boot=200, max_sample_rows=300)
    rows = {r.name: r for r in lb.rows}
    assert rows["much_worse"].significant is True and rows["tied"].significant is False


def test_significance_round_trips_and_old_dicts_load() -> None:
    lb, y, oof = graded_board()
    lb.mark_significance(y, oof, get_metric("rmse", "regression"), n_boot=200)
    document = json.loads(json.dumps(lb.to_dict(), allow_nan=False))
    back = Leaderboard.from_dict(document)
    assert [(r.vs_best_p, r.significant) for r in back.rows] == [
        (r.vs_best_p, r.significant) for r in lb.sorted()
    ]
    assert {"vs_best_p", "significant"} <= set(lb.to_frame().columns)
    for row in document["rows"]:
        del row["vs_best_p"], row["significant"]
    old = Leaderboard.from_dict(document)
    assert all(r.vs_best_p is None and r.significant is None for r in old.rows)


def test_rich_table_shows_vs_best_only_when_marked() -> None:
    lb, y, oof = graded_board()
    console = Console(width=200, record=True)
    console.print(lb.to_rich())
    assert "vs best" not in console.export_text()
    lb.mark_significance(y, oof, get_metric("rmse", "regression"), n_boot=2500)
    console.print(lb.to_rich(limit=4))
    text = console.export_text()
    assert "vs best" in text and "paired bootstrap" in text and "could be chance" in text
    assert "1 more candidate(s) not shown" in text
    body = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    cells = {parts[2].strip(): parts[6].strip() for parts in body[-4:]}  # the marked table
    assert cells == {
        "best": "best",
        "tied": cells["tied"],
        "worse": cells["worse"],
        "much_worse": "worse (p<0.001)",
    }
    assert cells["tied"].startswith("≈ (p=") and cells["worse"].startswith("worse (p")
