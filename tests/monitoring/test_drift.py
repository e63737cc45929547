"""Drift alarms are trustworthy: quiet on identical data at any size, loud on real shifts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlwright.monitoring import drift, monitor

from .conftest import COLOUR_SHARES, true_proba


def _alarm_rate(reference, stream, n: int, windows: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    statuses = []
    for _ in range(windows):
        rows = stream(n, rng)
        statuses.append(monitor(reference, rows, true_proba(rows)).status)
    alerts = np.mean([s == "alert" for s in statuses])
    not_ok = np.mean([s != "ok" for s in statuses])
    return float(alerts), float(not_ok)


def test_identical_data_raises_at_most_one_percent_false_alarms(synthetic_reference, stream):
    for n, windows in ((100, 400), (1000, 300)):
        alerts, not_ok = _alarm_rate(synthetic_reference, stream, n, windows, seed=n)
        assert alerts <= 0.01, (n, alerts)
        assert not_ok <= 0.01, (n, not_ok)


def test_identical_data_in_a_huge_window_is_quiet(synthetic_reference, stream):
    rows = stream(50_000, np.random.default_rng(7))
    report = monitor(synthetic_reference, rows, true_proba(rows))
    assert report.status == "ok", report.reasons


def test_half_sd_shift_detected_at_1000_rows(synthetic_reference, stream):
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(40):
        report = drift(synthetic_reference, stream(1000, rng, shift=0.5))
        hits += [f.name for f in report.drifted] == ["normal"]
    assert hits >= 39


def test_category_share_doubling_detected(synthetic_reference, stream):
    shares = COLOUR_SHARES.copy()
    shares[1] *= 2  # green 25% -> 50%
    shares[[0, 2, 3]] *= (1 - shares[1]) / shares[[0, 2, 3]].sum()
    rng = np.random.default_rng(4)
    report = monitor(synthetic_reference, stream(1000, rng, colours=shares))
    assert report.status == "alert"
    colour = next(f for f in report.features if f.name == "colour")
    assert colour.drifted and colour.test == "chi_square"
    assert colour.change.startswith("'green' was 2")


def test_tiny_window_is_insufficient_data_never_an_alarm(synthetic_reference, stream):
    rows = stream(12, np.random.default_rng(5), shift=5.0)
    report = monitor(synthetic_reference, rows, true_proba(rows))
    assert report.status == "ok" and report.insufficient_data
    assert "Insufficient data" in report.reasons[0]
    assert all(not f.drifted and f.test == "none" for f in report.features)
    assert "insufficient data" in report.features[0].note


def test_prediction_drift_uses_the_same_machinery(synthetic_reference, stream):
    rows = stream(1000, np.random.default_rng(6))
    shifted = true_proba(rows)
    shifted[:, 1] = np.clip(shifted[:, 1] + 0.25, 0, 1)
    shifted[:, 0] = 1 - shifted[:, 1]
    report = monitor(synthetic_reference, rows, shifted)
    assert report.prediction is not None and report.prediction.drifted
    # the score reference is out-of-fold, not the deployed ensemble's: it warns, never alerts
    assert report.status == "warning"
    assert any("predictions drifted" in r for r in report.reasons)


def test_report_json_has_the_cli_shape(synthetic_reference, stream):
    rows = stream(500, np.random.default_rng(8), shift=1.0)
    out = monitor(synthetic_reference, rows, true_proba(rows)).to_dict()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["status"] == "alert"
    assert {"status", "reasons", "rows", "features", "performance", "quality"} <= out.keys()
    names = [f["name"] for f in out["features"]]
    assert names == ["normal", "skewed", "count", "gappy", "colour", "town", "member"]
    normal = out["features"][0]
    assert normal["drifted"] and {"statistic", "threshold", "psi", "psi_threshold"} <= normal.keys()
    assert out["reasons"][0].startswith("Feature 'normal' drifted")


def test_missing_window_column_is_a_clear_error(synthetic_reference, stream):
    rows = stream(100, np.random.default_rng(9)).drop(columns=["colour"])
    try:
        drift(synthetic_reference, rows)
    except ValueError as exc:
        assert "colour" in str(exc) and "conform" in str(exc)
    else:
        raise AssertionError("expected a DataError")


def test_dates_are_not_tested_for_drift():
    from mlwright.data.schema import ColumnSchema, Role, Schema
    from mlwright.monitoring import build_reference

    schema = Schema([ColumnSchema("when", Role.DATETIME, "datetime64[ns]")], target="y")
    train = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=200, freq="D")})
    reference = build_reference(train, schema, task="regression")
    later = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=200, freq="D")})
    report = monitor(reference, later)
    assert report.status == "ok"
    assert "dates move forward" in report.features[0].note
