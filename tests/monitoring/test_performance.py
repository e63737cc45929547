"""Realized and estimated performance; estimation tracks reality under covariate shift."""

from __future__ import annotations

import numpy as np

from mlwright.evaluation import get_metric
from mlwright.monitoring import estimate_performance, expected_roc_auc, monitor

from .conftest import draw_labels, true_proba


def test_estimated_accuracy_within_two_points_under_covariate_shift(synthetic_reference, stream):
    rng = np.random.default_rng(20)
    for shift in (0.5, 1.0, -1.0):
        rows = stream(8000, rng, shift=shift)
        proba = true_proba(rows)
        y = draw_labels(proba, rng)
        report = estimate_performance(synthetic_reference, proba, y)
        realized = {m.name: m.value for m in report.realized}
        estimated = {m.name: m.value for m in report.estimated}
        assert abs(estimated["accuracy"] - realized["accuracy"]) < 0.02, shift
        assert abs(estimated["roc_auc"] - realized["roc_auc"]) < 0.02, shift


def test_expected_auc_matches_the_auc_of_calibrated_draws():
    rng = np.random.default_rng(21)
    p = rng.beta(2, 3, size=20_000)
    y = (rng.random(len(p)) < p).astype(np.int64)
    realized = get_metric("roc_auc", "binary").score(y, np.column_stack([1 - p, p]))
    assert abs(expected_roc_auc(p) - realized) < 0.01


def test_concept_change_shows_in_realized_performance(synthetic_reference, stream):
    rng = np.random.default_rng(22)
    rows = stream(2000, rng)
    proba = true_proba(rows)
    y = 1 - draw_labels(proba, rng)  # the world flipped; the inputs did not
    report = monitor(synthetic_reference, rows, proba, y)
    assert report.status == "alert"
    assert report.performance is not None and report.performance.labelled_rows == 2000
    accuracy = report.performance.realized[0]
    assert accuracy.dropped and accuracy.interval is not None
    assert any(r.startswith("accuracy is") for r in report.reasons)


def test_unlabelled_rows_get_estimates_and_no_realized_metrics(synthetic_reference, stream):
    rows = stream(500, np.random.default_rng(23))
    labels = np.full(500, np.nan)
    labels[:10] = 1  # too few labels to judge
    report = monitor(synthetic_reference, rows, true_proba(rows), labels)
    out = report.to_dict()["performance"]
    assert out["labelled_rows"] == 10 and out["realized"] == {}
    assert out["estimated"]["accuracy"]["p_value"] is not None
    assert report.status == "ok"


def test_low_confidence_without_labels_warns_from_the_estimate(synthetic_reference, stream):
    rng = np.random.default_rng(24)
    rows = stream(1000, rng)
    unsure = np.full((1000, 2), 0.5)  # the model hesitates on every row of this window
    report = monitor(synthetic_reference, rows, unsure)
    estimated = report.performance.estimated[0] if report.performance else None
    assert estimated is not None and estimated.dropped
    assert any("estimated from the model's confidence" in r for r in report.reasons)
