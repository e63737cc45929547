"""Temperature scaling: fixes over- and under-confidence, keeps rankings, leaves good
probabilities alone."""

from __future__ import annotations

import numpy as np
import pytest

from mlwright.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)


def _truth(n: int = 5000, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from known probabilities: those probabilities are calibrated by design."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in proba])
    return y, proba


@pytest.mark.parametrize("power", [3.0, 0.4])
def test_distorted_probabilities_are_repaired(power: float):
    y, proba = _truth()
    distorted = proba**power / (proba**power).sum(axis=1, keepdims=True)
    cal = fit_temperature(y, distorted)
    assert cal.temperature == pytest.approx(power, rel=0.15)
    assert cal.log_loss_after < cal.log_loss_before
    assert cal.ece_after < cal.ece_before
    repaired = apply_temperature(distorted, cal.temperature)
    assert expected_calibration_error(y, repaired) < 0.03
    # each row's most likely class, and so accuracy, does not change
    np.testing.assert_array_equal(repaired.argmax(axis=1), distorted.argmax(axis=1))


def test_binary_ranking_and_so_roc_auc_unchanged():
    y, proba = _truth(k=2, seed=2)
    sharp = proba**2 / (proba**2).sum(axis=1, keepdims=True)
    repaired = apply_temperature(sharp, fit_temperature(y, sharp).temperature)
    np.testing.assert_array_equal(
        np.argsort(repaired[:, 1], kind="stable"), np.argsort(sharp[:, 1], kind="stable")
    )


def test_calibrated_probabilities_are_left_nearly_alone():
    y, proba = _truth(seed=1)
    cal = fit_temperature(y, proba)
    assert cal.temperature == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(apply_temperature(proba, 1.0), proba)


def test_binary_and_extreme_probabilities_stay_finite():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    cal = fit_temperature(y, p)
    out = apply_temperature(p, cal.temperature)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
