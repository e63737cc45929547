"""Bootstrap intervals: contain the estimate, shrink with rows, cover ~95%, fast and exact."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mlwright.errors import ConfigError
from mlwright.evaluation import METRICS, bootstrap_interval, get_metric
from mlwright.evaluation.bootstrap import bootstrap_values


def binary_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, np.column_stack([1 - p1, p1])


def regression_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 3, n)
    return y, y + rng.normal(0, 1, n)


def test_interval_contains_point_estimate_and_shrinks_with_rows() -> None:
    widths = []
    for n in (200, 5000):
        y, p = binary_data(n)
        metric = get_metric("roc_auc", "binary")
        low, high = bootstrap_interval(metric, y, p, n_boot=300)
        assert low < metric.score(y, p) < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3


def test_deterministic_per_seed() -> None:
    y, p = regression_data(300)
    rmse = get_metric("rmse", "regression")
    assert bootstrap_interval(rmse, y, p, seed=3) == bootstrap_interval(rmse, y, p, seed=3)
    assert bootstrap_interval(rmse, y, p, seed=3) != bootstrap_interval(rmse, y, p, seed=4)


@pytest.mark.parametrize(
    ("name", "task"), [("rmse", "regression"), ("accuracy", "binary")], ids=["rmse", "accuracy"]
)
def test_coverage_is_about_95_percent(name: str, task: str) -> None:
    metric = get_metric(name, task)
    rng = np.random.default_rng(0)
    n, hits, reps = 150, 0, 200
    for _ in range(reps):
        if task == "regression":  # rmse of N(0, 1) errors is 1
            y = rng.normal(size=n)
            pred, truth = y + rng.normal(size=n), 1.0
        else:  # predictions right with probability 0.8
            y = rng.integers(0, 2, n)
            right = rng.random(n) < 0.8
            p1 = np.where(right == (y == 1), 0.9, 0.1)
            pred, truth = np.column_stack([1 - p1, p1]), 0.8
        low, high = bootstrap_interval(metric, y, pred, n_boot=400, seed=int(rng.integers(1e9)))
        hits += low <= truth <= high
    assert 0.9 <= hits / reps <= 0.99


def _data_for(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 120
    tasks = METRICS[name].tasks
    if "regression" in tasks:
        y = rng.normal(size=n)
        return y, np.round(y + rng.normal(size=n), 1)  # ties for median_ae
    if "binary" in tasks and name not in ("accuracy", "balanced_accuracy", "f1_macro", "mcc"):
        y = np.r_[np.zeros(4, int), rng.integers(0, 2, n - 4)]
        p1 = np.round(rng.random(n), 1)  # ties for the rank metrics
        return y, np.column_stack([1 - p1, p1])
    y = rng.integers(0, 3, n)
    return y, rng.dirichlet(np.ones(3), n)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_fast_path_equals_loop(name: str) -> None:
    y, pred = _data_for(name)
    metric = METRICS[name]
    fast = bootstrap_values([metric], y, pred, n_boot=40, seed=5, threshold=0.4)[name]
    loop = bootstrap_values([metric], y, pred, n_boot=40, seed=5, threshold=0.4, _loop=True)
    np.testing.assert_allclose(fast, loop[name], rtol=1e-10, atol=1e-12)


def test_multiclass_roc_auc_fast_path_equals_loop_with_missing_classes() -> None:
    rng = np.random.default_rng(2)
    y = np.r_[rng.integers(0, 3, 30), [3]]  # class 3 is missing from most resamples
    pred = rng.dirichlet(np.ones(4), len(y))
    metric = get_metric("roc_auc", "multiclass")
    fast = bootstrap_values([metric], y, pred, n_boot=30, seed=0)["roc_auc"]
    loop = bootstrap_values([metric], y, pred, n_boot=30, seed=0, _loop=True)["roc_auc"]
    np.testing.assert_allclose(fast, loop, rtol=1e-10)


def test_undefined_resamples_are_skipped() -> None:
    y = np.r_[np.zeros(19, int), [1]]  # about a third of resamples have no positive
    p1 = np.linspace(0, 1, 20)
    pred = np.column_stack([1 - p1, p1])
    metric = get_metric("roc_auc", "binary")
    values = bootstrap_values([metric], y, pred, n_boot=200)["roc_auc"]
    assert np.isnan(values).any()
    low, high = bootstrap_interval(metric, y, pred, n_boot=200)
    assert np.isfinite(low) and np.isfinite(high)
    low, high = bootstrap_interval(metric, np.zeros(20, int), pred, n_boot=50)
    assert np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize(
    ("name", "task"), [("roc_auc", "binary"), ("log_loss", "binary"), ("rmse", "regression")]
)
def test_fast_on_20k_rows(name: str, task: str) -> None:
    y, pred = regression_data(20_000) if task == "regression" else binary_data(20_000)
    start = time.perf_counter()
    bootstrap_interval(get_metric(name, task), y, pred, n_boot=1000)
    assert time.perf_counter() - start < 2.0


def test_bad_arguments_are_config_errors() -> None:
    y, p = regression_data(10)
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_interval(get_metric("rmse", "regression"), y, p, confidence=95)
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_interval(get_metric("rmse", "regression"), y, p, n_boot=0)
