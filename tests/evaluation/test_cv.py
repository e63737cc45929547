"""Folds: disjoint, covering, stratified, deterministic; reduced with a warning when needed."""

from __future__ import annotations

import numpy as np
import pytest

from mlwright.errors import DataError, MlwrightWarning
from mlwright.evaluation import holdout_split, make_folds


def check_partition(folds: list[tuple[np.ndarray, np.ndarray]], n: int) -> None:
    vals = np.concatenate([val for _, val in folds])
    assert np.array_equal(np.sort(vals), np.arange(n))  # every row validated exactly once
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0
        assert len(train) + len(val) == n


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_folds_are_disjoint_and_cover_all_rows(task: str) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=103) if task == "regression" else rng.integers(0, 3, 103)
    folds = make_folds(y, task, 5, seed=0)
    assert len(folds) == 5
    check_partition(folds, 103)


def test_folds_are_stratified() -> None:
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    for _, val in make_folds(y, "binary", 5, seed=1):
        assert (y[val] == 1).sum() == 2 and len(val) == 20


def test_folds_are_deterministic_per_seed_and_shuffled() -> None:
    y = np.random.default_rng(0).integers(0, 2, 60)
    a, b, c = (make_folds(y, "binary", 3, seed=s) for s in (7, 7, 8))
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c, strict=True))
    assert not np.array_equal(a[0][1], np.arange(20))


def test_small_class_reduces_folds_with_warning() -> None:
    y = np.r_[np.zeros(30, int), np.ones(3, int)]
    with pytest.warns(MlwrightWarning, match="smallest class.*3 rows.*using 3 folds"):
        folds = make_folds(y, "binary", 5, seed=0)
    assert len(folds) == 3
    check_partition(folds, 33)


def test_regression_with_few_rows_reduces_folds() -> None:
    with pytest.warns(MlwrightWarning, match="only 3 rows"):
        assert len(make_folds(np.arange(3.0), "regression", 5, seed=0)) == 3


def test_singleton_class_is_a_data_error() -> None:
    y = np.r_[np.zeros(10, int), np.ones(10, int), [2]]
    with pytest.raises(DataError, match="class 2 has a single row.*at least 2 rows"):
        make_folds(y, "multiclass", 5, seed=0)


def test_holdout_is_a_stratified_partition_of_idx() -> None:
    idx = np.arange(100, 200)
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    fit, held = holdout_split(idx, y, "binary", 0.2, seed=0)
    assert len(held) == 20 and len(fit) == 80
    assert np.array_equal(np.sort(np.r_[fit, held]), idx)
    assert (y[held - 100] == 1).sum() == 4
    again = holdout_split(idx, y, "binary", 0.2, seed=0)
    assert np.array_equal(again[1], held)


def test_holdout_falls_back_when_stratifying_is_impossible() -> None:
    y = np.array([0, 0, 0, 0, 1, 2])
    fit, held = holdout_split(np.arange(6), y, "multiclass", 0.1, seed=0)
    assert len(held) == 1 and len(fit) == 5
    fit, held = holdout_split(np.arange(1), np.array([0.0]), "regression", 0.1, seed=0)
    assert len(fit) == 1 and len(held) == 0
