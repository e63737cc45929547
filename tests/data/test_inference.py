"""Schema and task inference."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlwright.data.conform import conform
from mlwright.data.inference import detect_task, infer_schema
from mlwright.data.schema import Role, Schema
from mlwright.errors import DataError

DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"


def _frame(n: int = 40, **columns: object) -> pd.DataFrame:
    data = {"y": ["a", "b"] * (n // 2), **columns}
    return pd.DataFrame(data)


def test_numbers_as_text_are_numeric() -> None:
    schema = infer_schema(_frame(x=["1,234", "$5", "", "7"] * 10), "y")
    assert schema["x"].role is Role.NUMERIC and schema["x"].parse == "number"
    assert schema["x"].missing_fraction == pytest.approx(0.25)
    assert schema["y"].role is Role.TARGET


def test_boolean_pairs_record_true_spellings() -> None:
    schema = infer_schema(
        _frame(a=["Yes", "no"] * 20, b=["0", "1"] * 20, c=[True, False] * 20), "y"
    )
    assert schema["a"].role is Role.BOOLEAN and schema["a"].true_values == ["Yes"]
    assert schema["b"].role is Role.BOOLEAN and schema["b"].true_values == ["1"]
    assert schema["c"].role is Role.BOOLEAN


def test_two_words_that_are_not_yes_no_stay_categorical() -> None:
    assert infer_schema(_frame(s=["Male", "Female"] * 20), "y")["s"].role is Role.CATEGORICAL


def test_text_dates_are_datetime() -> None:
    dates = [f"{d:02d}/03/2020" for d in range(1, 21)] * 2
    col = infer_schema(_frame(d=dates), "y")["d"]
    assert col.role is Role.DATETIME and col.datetime_format == "%d/%m/%Y" and col.dayfirst


def test_identifiers_by_uniqueness_and_by_name() -> None:
    n = 200
    schema = infer_schema(
        _frame(
            n,
            key=[f"{i:04d}-XQ" for i in range(n)],
            PassengerId=[str(i) for i in range(n)],
            tweet_id=["5.69733E+17", "5.69313E+17", "5.69316E+17", "5.6943E+17"] * 20
            + [f"5.{i:05d}E+17" for i in range(120)],
            row=np.arange(n) + 1000,
        ),
        "y",
    )
    for name in ("key", "PassengerId", "tweet_id", "row"):
        assert schema[name].role is Role.IDENTIFIER, name
        assert schema[name].reason
    assert [c.name for c in schema.dropped] == ["key", "PassengerId", "tweet_id", "row"]


def test_measurements_are_not_identifiers() -> None:
    rng = np.random.default_rng(0)
    schema = infer_schema(_frame(200, x=rng.normal(size=200), k=rng.integers(0, 10**6, 200)), "y")
    assert schema["x"].role is Role.NUMERIC and schema["k"].role is Role.NUMERIC


def test_constant_and_all_missing_columns() -> None:
    schema = infer_schema(_frame(c=["x"] * 40, m=["", "NA"] * 20, z=[np.nan] * 40), "y")
    assert schema["c"].role is Role.CONSTANT and schema["c"].reason == "only one value 'x'"
    assert schema["m"].role is Role.CONSTANT and schema["m"].reason == "all values missing"
    assert schema["z"].reason == "all values missing"


def test_free_text_versus_categorical() -> None:
    words = ["great flight thanks a lot", "lost my bag again today", "on hold for an hour now"]
    text = [f"{words[i % 3]} #{i}" for i in range(40)]
    schema = infer_schema(_frame(t=text, c=["New York", "Paris", "Rome", "Oslo"] * 10), "y")
    assert schema["t"].role is Role.TEXT
    assert schema["c"].role is Role.CATEGORICAL


def test_dtype_and_unique_counts_recorded() -> None:
    schema = infer_schema(_frame(x=[1, 2, 3, 4] * 10), "y")
    assert schema["x"].dtype == "int64" and schema["x"].n_unique == 4
    assert Schema.from_dict(schema.to_dict()) == schema


def test_target_errors() -> None:
    df = _frame(x=[1, 2] * 20)
    with pytest.raises(DataError, match=r"'churn' not found.*Pass target= one of these"):
        infer_schema(df, "churn")
    with pytest.raises(DataError, match="only one value"):
        infer_schema(df.assign(y="a"), "y")
    with pytest.raises(DataError, match="all 40 are missing"):
        infer_schema(df.assign(y=""), "y")
    with pytest.raises(DataError, match="at least 2 rows"):
        infer_schema(df.head(1), "y")


def test_bad_frames() -> None:
    with pytest.raises(DataError, match="no columns"):
        infer_schema(pd.DataFrame(), "y")
    with pytest.raises(DataError, match="no rows"):
        infer_schema(pd.DataFrame({"x": [], "y": []}), "y")
    dup = pd.DataFrame([[1, 2, 3]], columns=["x", "x", "y"])
    with pytest.raises(DataError, match=r"duplicate column name\(s\) \['x'\]"):
        infer_schema(dup, "y")


def test_detect_task() -> None:
    assert detect_task(pd.Series(["yes", "no", "yes"])) == "binary"
    assert detect_task(pd.Series(["a", "b", "c"])) == "multiclass"
    assert detect_task(pd.Series([0, 1, 1, 0])) == "binary"
    assert detect_task(pd.Series([1, 2, 3] * 20)) == "multiclass"
    assert detect_task(pd.Series(np.arange(100))) == "regression"
    assert detect_task(pd.Series([0.5, 1.5, 2.25] * 20)) == "regression"


def test_a_hundred_thousand_categories_stay_fast() -> None:
    n = 100_000
    df = pd.DataFrame({"c": [f"k{i % 60_000}" for i in range(n)], "y": ["a", "b"] * (n // 2)})
    start = time.perf_counter()
    schema = infer_schema(df, "y")
    assert time.perf_counter() - start < 5
    assert schema["c"].role is Role.CATEGORICAL and schema["c"].n_unique == 60_000


def test_telco_churn_raw_strings() -> None:
    path = DATASETS / "telco_churn" / "train.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    schema = infer_schema(df, "Churn")
    assert schema["customerID"].role is Role.IDENTIFIER
    total = schema["TotalCharges"]
    assert total.role is Role.NUMERIC
    assert 5 <= round(total.missing_fraction * len(df)) <= 15
    assert schema["SeniorCitizen"].role in (Role.BOOLEAN, Role.CATEGORICAL)
    assert schema.target == "Churn" and schema["Churn"].role is Role.TARGET
    conformed = conform(df, schema, require_target=True)
    assert conformed.target is not None
    assert detect_task(conformed.target) == "binary"
