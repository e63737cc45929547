"""Typing plain values (JSON) gives exactly what conform gives: values, kept rows, reasons."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlwright.data.conform import conform
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.data.typed import frame_of_arrays, typed_features

POOLS: dict[str, list[Any]] = {
    "amount": [1, 0, 2.5, -3, None, 1e300, 10**20, "12", "689.35", "-4.0", "007", "1,234", "$5"]
    + ["abc", " 7 ", "", "NA"],
    "flag": [True, False, 0, 1, 2, 1.0, 0.0, "Yes", "no", "YES", " yes", "maybe", "", "NA", "?",
             None, "1", "0", "t", "On", "1.0"],
    "plan": ["Basic", "Pro", " Pro", "", "NA", "none", None, "unknown", "x y", "Ünï"],
    "code": ["A1", 5, 5.0, None, "7", True],
    "when": ["2024-01-02", "02/01/2024", "not a date", "", None, "2024-13-45"],
}  # fmt: skip

SCHEMA = Schema(
    columns=[
        ColumnSchema("id", Role.IDENTIFIER, "str"),
        ColumnSchema("amount", Role.NUMERIC, "float64", parse="number"),
        ColumnSchema("flag", Role.BOOLEAN, "str", parse="bool", true_values=["Yes"]),
        ColumnSchema("plan", Role.CATEGORICAL, "str"),
        ColumnSchema("code", Role.CATEGORICAL, "int64"),
        ColumnSchema("when", Role.DATETIME, "str", parse="datetime"),
        ColumnSchema("y", Role.TARGET, "str"),
    ],
    target="y",
)


def _columns(rng: random.Random, n: int, pools: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {name: [rng.choice(pool) for _ in range(n)] for name, pool in pools.items()}


def _assert_same(columns: dict[str, list[Any]], schema: Schema, n: int) -> None:
    typed = typed_features(columns, schema, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = conform(pd.DataFrame(columns), schema)
    assert typed.keep.tolist() == expected.row_positions.tolist()
    pd.testing.assert_frame_equal(typed.features, expected.features, check_index_type=False)
    reasons = dict(zip(expected.rejects["_row"], expected.rejects["_reason"], strict=True))
    assert typed.reasons == reasons


@pytest.mark.parametrize("seed", range(40))
def test_mixed_values_match_conform(seed: int):
    rng = random.Random(seed)
    n = rng.choice([1, 2, 5, 17])
    _assert_same(_columns(rng, n, POOLS), SCHEMA, n)


NO_DATES = Schema(columns=[c for c in SCHEMA.columns if c.name != "when"], target="y")


@pytest.mark.parametrize("schema", [SCHEMA, NO_DATES], ids=["with-dates", "no-dates"])
@pytest.mark.parametrize("seed", range(20))
def test_clean_values_match_conform(seed: int, schema: Schema):
    """The values the fast path handles without falling back (without a date column, the
    frame itself is built by the fast path too)."""
    rng = random.Random(seed)
    clean = {
        "amount": [1, 0, 2.5, -3, None, 10**20],
        "flag": [True, False, 0, 1, "Yes", "no", "NA", None, "t"],
        "plan": ["Basic", "Pro", "", "NA", None, "x y"],
        "code": ["A1", None, "7"],
        "when": ["2024-01-02", None],
    }
    n = rng.choice([1, 3, 8])
    pools = {k: v for k, v in clean.items() if k in schema.feature_names}
    _assert_same(_columns(rng, n, pools), schema, n)


def test_frame_of_arrays_equals_the_public_constructor(monkeypatch):
    arrays = {
        "x": np.array([1.5, np.nan, 3.0]),
        "n": np.array([1, 2, 3], dtype=np.int64),
        "b": np.array([True, False, True]),
        "t": np.array(["a", None, np.nan], dtype=object),
        "d": np.array(["2024-01-02", "NaT", "2024-03-04"], dtype="datetime64[ns]"),
    }
    index = np.array([0, 2, 5])
    names = ["t", "x", "b", "n"]  # plain columns, in an order of their own: the fast path
    fast, with_dates = (
        frame_of_arrays(arrays, names, index),
        frame_of_arrays(arrays, [*names, "d"], index),
    )
    assert fast["t"].dtype == object  # not pandas' inferred string dtype, as conform keeps it
    monkeypatch.delattr(pd.DataFrame, "_from_arrays")
    pd.testing.assert_frame_equal(fast, frame_of_arrays(arrays, names, index), check_exact=True)
    pd.testing.assert_frame_equal(with_dates, frame_of_arrays(arrays, [*names, "d"], index))
    assert fast.index.tolist() == [0, 2, 5]
