"""FeatureEncoder: fitted on training rows only, robust to unseen values, saved without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.features.encoder import FeatureEncoder


@pytest.fixture
def frame() -> tuple[pd.DataFrame, Schema]:
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "num": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(100, n)),
            "cat": rng.choice(["a", "b", "c", None], n),
            "flag": rng.choice([0.0, 1.0], n),
            "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "note": rng.choice(["late delivery again", "great service", "refund please"], n),
        }
    )
    schema = Schema(
        [
            ColumnSchema("num", Role.NUMERIC, "float64", "number"),
            ColumnSchema("cat", Role.CATEGORICAL, "object"),
            ColumnSchema("flag", Role.BOOLEAN, "float64", "bool"),
            ColumnSchema("when", Role.DATETIME, "datetime64[ns]", "datetime"),
            ColumnSchema("note", Role.TEXT, "object"),
            ColumnSchema("y", Role.TARGET, "object"),
        ],
        target="y",
    )
    return df, schema


@pytest.mark.parametrize("kind", ["tree", "linear", "dense"])
def test_shape_names_and_roundtrip(frame: tuple[pd.DataFrame, Schema], kind: str, tmp_path: Path):
    df, schema = frame
    enc = FeatureEncoder(kind).fit(df, schema)  # type: ignore[arg-type]
    X = enc.transform(df)
    assert X.shape == (len(df), len(enc.feature_names_))
    enc.save(tmp_path)
    again = FeatureEncoder.load(tmp_path)
    Y = again.transform(df)
    if sp.issparse(X):
        assert (X != Y).nnz == 0
    else:
        np.testing.assert_array_equal(np.nan_to_num(X, nan=-1), np.nan_to_num(Y, nan=-1))
    assert not list(tmp_path.glob("*.pkl"))


def test_tree_codes_unseen_and_missing(frame: tuple[pd.DataFrame, Schema]):
    df, schema = frame
    enc = FeatureEncoder("tree").fit(df, schema)
    new = df.head(3).copy()
    new["cat"] = ["zzz-never-seen", None, "a"]
    X = enc.transform(new)
    col = enc.feature_names_.index("cat")
    known = enc.columns[1]["categories"]
    assert X[0, col] == len(known)  # unseen -> shared "other" code
    assert np.isnan(X[1, col])  # missing stays missing
    assert X[2, col] == known.index("a")
    assert enc.categorical_indices_ == [col]


def test_linear_statistics_come_from_fit_rows_only(frame: tuple[pd.DataFrame, Schema]):
    df, schema = frame
    train, other = df.iloc[:100], df.iloc[100:].copy()
    other["num"] = 1e9  # a validation fold with wildly different values must not move the scaling
    a = FeatureEncoder("linear").fit(train, schema)
    b = FeatureEncoder("linear").fit(train, schema)
    b.transform(other)
    assert a.columns[0]["stats"] == b.columns[0]["stats"]
    X = a.transform(other)
    col = a.feature_names_.index("num")
    assert np.all(X[:, col].toarray() == 10.0)  # clipped, not refitted


def test_text_tfidf_rows_are_unit_length(frame: tuple[pd.DataFrame, Schema]):
    df, schema = frame
    enc = FeatureEncoder("linear").fit(df, schema)
    X = enc.transform(df)
    text_cols = [i for i, n in enumerate(enc.feature_names_) if n.startswith("note#")]
    block = X[:, text_cols[0] : text_cols[-1] + 1]
    norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0)


@pytest.mark.parametrize("n", [3, 600])  # a dict lookup for few rows, an index lookup for many
def test_numbers_in_a_categorical_column_match_their_text(n: int):
    df = pd.DataFrame({"code": ["1", "2", "x"] * 10, "y": [0, 1] * 15})
    schema = Schema(
        [ColumnSchema("code", Role.CATEGORICAL, "object"), ColumnSchema("y", Role.TARGET, "int")],
        target="y",
    )
    enc = FeatureEncoder("tree").fit(df, schema)
    known = enc.columns[0]["categories"]
    values = pd.Series([1, "2", "x", None, "zz", 2] * (n // 6 + 1), dtype=object).head(n)
    codes = enc.transform(pd.DataFrame({"code": values}))[:, 0]
    expected = [
        np.nan if v is None else known.index(str(v)) if str(v) in known else len(known)
        for v in values
    ]
    np.testing.assert_array_equal(codes, np.asarray(expected, dtype=float))
