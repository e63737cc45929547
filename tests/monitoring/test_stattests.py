"""The building blocks: PSI, pooling, the chi-square and KS tests and Holm's procedure."""

from __future__ import annotations

import numpy as np
import pytest

from mlwright.monitoring.stattests import (
    chi_square_test,
    holm_thresholds,
    ks_test,
    pool_buckets,
    proportion_increase_test,
    psi,
)


def test_psi_is_zero_for_identical_shares_and_finite_for_empty_buckets():
    assert psi(np.array([10.0, 20.0]), np.array([1.0, 2.0])) == pytest.approx(0.0)
    assert np.isfinite(psi(np.array([10.0, 20.0]), np.array([0.0, 5.0])))


def test_psi_of_half_sd_shift_is_moderate():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=200_000)
    edges = np.quantile(ref, np.linspace(0, 1, 11)[1:-1])
    counts = np.bincount(np.searchsorted(edges, ref), minlength=10)
    shifted = np.bincount(np.searchsorted(edges, ref + 0.5), minlength=10)
    assert 0.15 < psi(counts, shifted) < 0.3


def test_pooling_gives_every_bucket_five_expected_rows():
    reference = np.array([500.0, 300.0, 100.0, 50.0, 30.0, 10.0, 5.0, 5.0])
    mapping = pool_buckets(reference, 100)
    pooled = np.bincount(mapping, weights=reference)
    assert (pooled / reference.sum() * 100 >= 5).all()
    assert len(pooled) < len(reference)


def test_chi_square_calibrated_on_small_windows_with_rare_categories():
    rng = np.random.default_rng(1)
    shares = 1 / np.arange(1, 61)
    shares /= shares.sum()
    reference = rng.multinomial(50_000, shares).astype(float)
    p = [
        chi_square_test(reference, rng.multinomial(100, shares).astype(float))[1]
        for _ in range(2000)
    ]
    assert np.mean(np.array(p) < 0.01) <= 0.02


def test_ks_detects_shift_and_not_identical_draws():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=5000)
    assert ks_test(ref, rng.normal(size=1000) + 0.5)[1] < 1e-10
    assert ks_test(ref, rng.normal(size=1000))[1] > 1e-4


def test_proportion_test_needs_more_than_one_row_when_training_had_none():
    assert proportion_increase_test(1, 100, 0, 10_000) > 0.001
    assert proportion_increase_test(20, 100, 0, 10_000) < 1e-10


def test_holm_steps_down():
    thresholds, significant = holm_thresholds([0.004, 0.001, 0.9, 0.006], 0.01)
    assert thresholds.tolist() == pytest.approx([0.01 / 3, 0.01 / 4, 0.01 / 1, 0.01 / 2])
    assert significant.tolist() == [False, True, False, False]  # 0.004 > 0.0033 stops it
