"""PortfolioSearch: portfolio first in priority order, then TPE within the declared spaces;
the plan depends on the seed and the reported losses only."""

from __future__ import annotations

from itertools import islice

from mlwright.search.space import Categorical, Float, Int
from mlwright.search.strategy import Family, PortfolioSearch

SPACE = {"lr": Float(0.01, 0.3, log=True), "leaves": Int(4, 64), "x": Categorical((True, False))}


def _families() -> list[Family]:
    return [
        Family("slow", 10, [{"lr": 0.1, "leaves": 8, "x": True}], SPACE),
        Family("good", 90, [{"lr": 0.05, "leaves": 31, "x": False}, {"lr": 0.2}], SPACE),
    ]


def _run(seed: int, n: int) -> list[tuple[str, dict[str, object], str]]:
    search = PortfolioSearch(_families(), seed=seed)
    seen = []
    for trial in islice(search.trials(), n):
        seen.append((trial.family, trial.params, trial.source))
        # "good" is better the closer lr is to 0.07; "slow" is always worse
        penalty = 1.0 if trial.family == "slow" else 0.0
        loss = abs(float(trial.params.get("lr", 0.1)) - 0.07) + penalty
        search.tell(trial, loss)
    return seen


def test_portfolio_first_in_priority_order():
    seen = _run(0, 3)
    assert [(f, s) for f, _, s in seen] == [
        ("good", "portfolio"),
        ("slow", "portfolio"),
        ("good", "portfolio"),
    ]


def test_tpe_stays_in_space_and_prefers_the_best_family():
    seen = _run(0, 40)
    tuned = [(f, p) for f, p, s in seen if s == "tpe"]
    assert len(tuned) == 37
    for _, params in tuned:
        assert 0.01 <= params["lr"] <= 0.3 and 4 <= params["leaves"] <= 64  # type: ignore[operator]
    assert sum(f == "good" for f, _ in tuned) > 0.6 * len(tuned)
    best_late = min(abs(float(p["lr"]) - 0.07) for f, p in tuned[-15:] if f == "good")  # type: ignore[arg-type]
    assert best_late < 0.02


def test_same_seed_same_plan_other_seed_other_plan():
    assert _run(3, 15) == _run(3, 15)
    assert _run(3, 15) != _run(4, 15)


def test_failed_trials_are_told_without_breaking():
    search = PortfolioSearch(_families(), seed=0, portfolio_depth=1)
    trials = list(islice(search.trials(), 6))
    for t in trials:
        search.tell(t, float("inf"))
    assert [t.source for t in trials[:2]] == ["portfolio", "portfolio"]


def test_retired_families_get_no_more_trials_and_the_search_ends_with_the_last():
    search = PortfolioSearch(_families(), seed=0)
    seen = []
    for trial in islice(search.trials(), 50):
        seen.append(trial.family)
        search.tell(trial, 0.5)
        if len(seen) == 4:
            search.retire("good")
        if len(seen) == 8:
            search.retire("slow")
    assert seen[:3] == ["good", "slow", "good"]
    assert "good" not in seen[4:] and len(seen) == 8  # the iterator ends: nothing left to try
