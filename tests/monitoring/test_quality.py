"""Data-quality checks: a test, not a raw difference, and an effect worth acting on."""

from __future__ import annotations

import numpy as np

from mlwright.monitoring import monitor


def _issues(report) -> list[str]:
    return [c.kind for q in report.quality for c in q.checks if c.fired]


def test_missing_spike_is_a_warning(synthetic_reference, stream):
    rows = stream(1000, np.random.default_rng(10))
    rows.loc[rows.index[:200], "skewed"] = np.nan
    report = monitor(synthetic_reference, rows)
    assert report.status == "warning"
    assert _issues(report) == ["missing"]
    assert "missing values in 'skewed'" in report.reasons[0]


def test_a_single_missing_value_in_a_clean_column_is_not(synthetic_reference, stream):
    rows = stream(100, np.random.default_rng(11))
    rows.loc[rows.index[0], "normal"] = np.nan
    assert monitor(synthetic_reference, rows).status == "ok"


def test_unseen_categories_and_out_of_range_values(synthetic_reference, stream):
    rows = stream(1000, np.random.default_rng(12))
    rows.loc[rows.index[:50], "colour"] = "purple"
    rows.loc[rows.index[:40], "count"] = 99.0
    report = monitor(synthetic_reference, rows)
    assert sorted(_issues(report)) == ["out_of_range", "unseen"]
    assert report.status == "warning"


def test_rejected_rows_are_a_warning(synthetic_reference, stream):
    rows = stream(500, np.random.default_rng(13))
    report = monitor(synthetic_reference, rows, rows_rejected=60)
    assert _issues(report) == ["rejected"]
