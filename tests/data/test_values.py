"""Messy raw values: missing markers, numbers written as text, dates in many formats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlwright.data.values import (
    MISSING_MARKERS,
    detect_datetime_format,
    is_missing,
    parse_datetimes,
    parse_numbers,
)


def test_missing_markers_are_recognised_whatever_the_case_and_spacing() -> None:
    s = pd.Series(["", " NA ", "n/a", "NULL", "None", "?", "-", "#N/A", "unknown", None, "x", "0"])
    assert is_missing(s).tolist() == [True] * 10 + [False, False]
    assert "missing" in MISSING_MARKERS


def test_missing_in_native_columns_is_nan_only() -> None:
    assert is_missing(pd.Series([1.0, np.nan, 3.0])).tolist() == [False, True, False]


def test_messy_numbers_parse() -> None:
    s = pd.Series(["1,234", "1 234", "$12.50", "€3", "45%", "(12)", "-3.5e2", "abc", "", "NA"])
    values, failed = parse_numbers(s)
    np.testing.assert_allclose(values[:7], [1234, 1234, 12.5, 3, 0.45, -12, -350])
    assert np.isnan(values[7:]).all()
    assert failed.tolist() == [False] * 7 + [True, False, False]


def test_infinities_come_back_as_inf_not_as_failures() -> None:
    values, failed = parse_numbers(pd.Series(["inf", "-inf", "2"]))
    assert values.tolist() == [np.inf, -np.inf, 2.0]
    assert not failed.any()
    native, native_failed = parse_numbers(pd.Series([1.0, np.inf]))
    assert native.tolist() == [1.0, np.inf] and not native_failed.any()


def test_iso_dates() -> None:
    fmt, dayfirst, share = detect_datetime_format(pd.Series(["2011-01-01", "2012-03-04"]))
    assert (fmt, dayfirst, share) == ("%Y-%m-%d", False, 1.0)


def test_day_first_decided_from_values_over_12() -> None:
    fmt, dayfirst, _ = detect_datetime_format(pd.Series(["13/02/2020", "01/02/2020"]))
    assert fmt == "%d/%m/%Y" and dayfirst
    fmt, dayfirst, _ = detect_datetime_format(pd.Series(["01/13/2020", "01/02/2020"]))
    assert fmt == "%m/%d/%Y" and not dayfirst


def test_spreadsheet_mangled_datetimes() -> None:
    s = pd.Series(["24-02-2015 11.35", "22-02-2015 2.06", ""])
    fmt, dayfirst, share = detect_datetime_format(s)
    assert fmt == "%d-%m-%Y %H.%M" and dayfirst and share == 1.0
    values, failed = parse_datetimes(s, fmt, dayfirst)
    assert values.dtype == "datetime64[ns]"
    assert values.iloc[1] == pd.Timestamp("2015-02-22 02:06")
    assert pd.isna(values.iloc[2]) and not failed.any()


def test_mixed_formats_in_one_column() -> None:
    s = pd.Series(["2020-01-05", "05/01/2020", "Jan 3, 2020", "13/01/2020"])
    fmt, dayfirst, share = detect_datetime_format(s)
    assert fmt is None and dayfirst and share == 1.0
    values, failed = parse_datetimes(s, fmt, dayfirst)
    assert values.tolist()[:3] == [pd.Timestamp("2020-01-05")] * 2 + [pd.Timestamp("2020-01-03")]
    assert not failed.any()


def test_unparseable_dates_fail_and_text_is_not_dates() -> None:
    _, failed = parse_datetimes(pd.Series(["2020-01-01", "soon", "3000-01-01"]), "%Y-%m-%d", False)
    assert failed.tolist() == [False, True, True]
    assert detect_datetime_format(pd.Series(["hello", "world"]))[2] == 0.0


def test_zoned_datetimes_become_naive_utc() -> None:
    s = pd.Series(pd.to_datetime(["2020-01-01 10:00"]).tz_localize("Europe/Paris"))
    values, failed = parse_datetimes(s, None, False)
    assert values.iloc[0] == pd.Timestamp("2020-01-01 09:00") and not failed.any()
