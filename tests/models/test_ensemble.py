"""Ensemble selection: greedy with replacement, and a new member must earn its predict time."""

import numpy as np
import pytest

from mlwright.models.ensemble import select_ensemble


def _squared(y: np.ndarray):
    return lambda p: float(np.mean((p - y) ** 2))


def test_two_complementary_members_are_blended_equally():
    y = np.zeros(4)
    a, b = np.array([1.0, -1, 1, -1]), np.array([-1.0, 1, -1, 1])
    assert select_ensemble([a, b], _squared(y)) == [0.5, 0.5]


def test_a_member_with_a_gain_below_min_gain_stays_out():
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    e, n = rng.normal(scale=0.5, size=2000), rng.normal(scale=0.5, size=2000)
    # scale the other member's errors so that the half-and-half blend is better by 1e-4 only:
    # mean((e + c*n)^2) / 4 = mean(e^2) * (1 - 1e-4), solved for c
    a, b, q = np.mean(n * n), 2 * np.mean(e * n), np.mean(e * e) * (1 - 4 * (1 - 1e-4))
    c = (-b + np.sqrt(b * b - 4 * a * q)) / (2 * a)
    best, other = y + e, y + c * n
    loss = _squared(y)
    gain = (loss(best) - loss((best + other) / 2)) / loss(best)
    assert gain == pytest.approx(1e-4, rel=1e-6)
    assert select_ensemble([best, other], loss, min_gain=0.0)[1] > 0
    assert select_ensemble([best, other], loss, min_gain=3e-4) == [1.0, 0.0]


def test_a_member_with_a_real_gain_joins_under_the_default_bar():
    rng = np.random.default_rng(1)
    y = rng.normal(size=2000)
    a = y + rng.normal(scale=0.5, size=2000)
    b = y + rng.normal(scale=0.5, size=2000)  # independent errors: blending halves the variance
    weights = select_ensemble([a, b], _squared(y))
    assert min(weights) > 0.3


def test_all_nan_losses_raise():
    with pytest.raises(ValueError, match="NaN loss"):
        select_ensemble([np.zeros(3)], lambda p: float("nan"))
