"""Choosing how to serve: latencies within timing noise of each other count as a tie."""

from __future__ import annotations

from typing import Any

from mlwright.tasks.tabular.compact import CompactOption, _choose


def _option(name: str, score: float, latency_ms: float, worse: bool | None = False) -> Any:
    return CompactOption(name, "member", score, worse, latency_ms, 1.0, "", None)  # type: ignore[arg-type]


def test_near_ties_in_latency_go_to_the_better_score() -> None:
    # measured on a telco model: linear 1.14 ms, XGBoost 1.15 ms, neither under 1 ms
    options = [
        _option("ensemble", 0.8477, 4.48, None),
        _option("catboost", 0.8448, 2.73),
        _option("xgboost", 0.8431, 1.15),
        _option("linear", 0.8429, 1.14),
    ]
    chosen, reason = _choose(options, greater_is_better=True, max_latency_ms=1.0)
    assert chosen.name == "xgboost"
    assert "no option meets 1 ms" in reason
    # without a limit: the fastest not significantly worse, ties broken the same way
    chosen, _ = _choose(options, greater_is_better=True, max_latency_ms=None)
    assert chosen.name == "xgboost"


def test_a_clearly_faster_option_wins_and_losses_compare_the_right_way() -> None:
    options = [_option("slow", 0.40, 2.0), _option("fast", 0.45, 1.0)]
    # log loss: lower is better, so "slow" scores better, but it is twice as slow
    chosen, _ = _choose(options, greater_is_better=False, max_latency_ms=0.5)
    assert chosen.name == "fast"
    near = [_option("a", 0.40, 1.05), _option("b", 0.45, 1.0)]
    chosen, _ = _choose(near, greater_is_better=False, max_latency_ms=0.5)
    assert chosen.name == "a"
    # within the limit the best score wins whatever the latency
    chosen, _ = _choose(options, greater_is_better=False, max_latency_ms=5.0)
    assert chosen.name == "slow"
