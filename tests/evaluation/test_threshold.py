"""The decision threshold maximises the chosen metric, or minimises the cost of errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from mlwright.errors import ConfigError, DataError
from mlwright.evaluation import choose_threshold


def data(n: int, seed: int, decimals: int | None = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p1 = np.clip(0.25 * y + 0.75 * rng.random(n), 0, 1)
    return y, p1 if decimals is None else np.round(p1, decimals)


def brute_force(y: np.ndarray, p1: np.ndarray, score) -> float:  # type: ignore[no-untyped-def]
    cuts = np.r_[np.unique(p1), np.inf]
    return max(score(y, (p1 >= t).astype(int)) for t in cuts)


METRICS = {
    "f1": lambda y, lab: sk.f1_score(y, lab, zero_division=0),
    "accuracy": sk.accuracy_score,
    "balanced_accuracy": sk.balanced_accuracy_score,
    "mcc": sk.matthews_corrcoef,
}


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_threshold_is_optimal_versus_brute_force(metric: str, seed: int) -> None:
    y, p1 = data(300, seed)
    t = choose_threshold(y, p1, metric=metric)
    got = METRICS[metric](y, (p1 >= t).astype(int))
    assert got == pytest.approx(brute_force(y, p1, METRICS[metric]), abs=1e-12)


def test_threshold_free_metrics_maximise_f1() -> None:
    y, p1 = data(300, 4)
    assert choose_threshold(y, p1, metric="roc_auc") == choose_threshold(y, p1)
    assert choose_threshold(y, p1, metric="log_loss") == choose_threshold(y, p1, metric="f1")


def test_threshold_separates_distinct_probabilities() -> None:
    t = choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.35, 0.8]))
    assert 0.3 < t <= 0.35


def cost(y: np.ndarray, p1: np.ndarray, t: float, fp: float, fn: float) -> float:
    pred = p1 >= t
    return fp * float(np.sum(pred & (y == 0))) + fn * float(np.sum(~pred & (y == 1)))


@pytest.mark.parametrize("costs", [(1.0, 1.0), (1.0, 10.0), (10.0, 1.0), (0.0, 1.0)])
def test_costs_minimise_total_cost(costs: tuple[float, float]) -> None:
    y, p1 = data(400, 5)
    t = choose_threshold(y, p1, costs=costs)
    best = min(cost(y, p1, c, *costs) for c in np.r_[np.unique(p1), np.inf])
    assert cost(y, p1, t, *costs) == pytest.approx(best)


def test_expensive_misses_lower_the_threshold() -> None:
    y, p1 = data(400, 6)
    assert choose_threshold(y, p1, costs=(1, 20)) < choose_threshold(y, p1, costs=(20, 1))


def test_many_distinct_probabilities_use_quantile_candidates() -> None:
    y, p1 = data(20_000, 7, decimals=None)
    t = choose_threshold(y, p1)
    f1 = sk.f1_score(y, (p1 >= t).astype(int))
    cuts = np.quantile(p1, np.linspace(0, 1, 200))
    assert f1 >= max(sk.f1_score(y, (p1 >= c).astype(int)) for c in cuts) - 1e-3


def test_single_class_gives_half_and_bad_input_errors() -> None:
    assert choose_threshold(np.zeros(5, int), np.linspace(0, 1, 5)) == 0.5
    with pytest.raises(DataError, match="same"):
        choose_threshold(np.array([0, 1]), np.array([0.5]))
    with pytest.raises(ConfigError, match="unknown metric"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.5]), metric="f2")
    with pytest.raises(ConfigError, match="costs"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.5]), costs=(-1.0, 1.0))
