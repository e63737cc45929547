"""Conforming raw frames to a schema; rows that cannot be converted are set aside with reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlwright.data.conform import conform, conform_target
from mlwright.data.inference import infer_schema
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.errors import DataError, MlwrightWarning, SchemaMismatch

SCHEMA = Schema(
    columns=[
        ColumnSchema("id", Role.IDENTIFIER, "str", reason="unique per row"),
        ColumnSchema("age", Role.NUMERIC, "str", "number"),
        ColumnSchema("city", Role.CATEGORICAL, "str"),
        ColumnSchema("member", Role.BOOLEAN, "str", "bool", true_values=["Yes"]),
        ColumnSchema("seen", Role.DATETIME, "str", "datetime", datetime_format="%Y-%m-%d"),
        ColumnSchema("note", Role.TEXT, "str"),
        ColumnSchema("y", Role.TARGET, "str", "number"),
    ],
    target="y",
)


def _raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "age": ["30", "abc", "", "1,200", "inf"],
            "city": [" Paris ", "Rome", "NA", "Oslo", "Rome"],
            "member": ["Yes", "No", "yes", "", "No"],
            "seen": ["2020-01-02", "2020-01-03", "", "2020-01-05", "2020-01-06"],
            "note": ["fine", "ok", "", "meh", "good"],
            "y": ["1", "0", "1", "", "0"],
        },
        index=[10, 11, 12, 13, 14],
    )


def test_features_are_typed() -> None:
    out = conform(_raw(), SCHEMA, require_target=True)
    assert list(out.features.columns) == ["age", "city", "member", "seen", "note"]
    assert out.features["age"].dtype == np.float64
    assert out.features["city"].dtype == object and out.features["city"].iloc[0] == "Paris"
    assert out.features["member"].tolist() == [1.0, 1.0]
    assert out.features["seen"].dtype == "datetime64[ns]"
    assert out.features["note"].dtype == object
    assert pd.isna(out.features.loc[12, "age"]) and pd.isna(out.features.loc[12, "city"])


def test_rejects_carry_position_and_reason() -> None:
    out = conform(_raw(), SCHEMA, require_target=True)
    assert out.row_positions.tolist() == [0, 2]
    assert out.features.index.tolist() == [10, 12]
    reasons = dict(zip(out.rejects["_row"], out.rejects["_reason"], strict=True))
    assert reasons[1] == "column 'age': 'abc' is not a number"
    assert reasons[3] == "target missing"
    assert reasons[4] == "column 'age': 'inf' is not a finite number"
    assert out.rejects.loc[11, "age"] == "abc"  # the raw values, untouched
    assert len(out.features) + len(out.rejects) == 5


def test_target_labels_keep_their_values() -> None:
    out = conform(_raw(), SCHEMA, require_target=True)
    assert out.target is not None and out.target.dtype == np.int64
    assert out.target.tolist() == [1, 1]
    strings = conform_target(pd.Series([" yes", "no"]), ColumnSchema("y", Role.TARGET, "str"))
    assert strings.tolist() == ["yes", "no"]


def test_missing_columns_raise_schema_mismatch() -> None:
    with pytest.raises(SchemaMismatch, match=r"missing column\(s\) \['age'\].*expects"):
        conform(_raw().drop(columns=["age"]), SCHEMA)


def test_identifier_and_target_not_required_for_prediction() -> None:
    out = conform(_raw().drop(columns=["id", "y"]), SCHEMA)
    assert out.target is None
    with pytest.raises(DataError, match="target column 'y' not found"):
        conform(_raw().drop(columns=["y"]), SCHEMA, require_target=True)


def test_extra_columns_are_ignored_with_a_warning() -> None:
    with pytest.warns(MlwrightWarning, match="ignored 1 column"):
        out = conform(_raw().assign(extra=1), SCHEMA)
    assert any("extra" in w for w in out.warnings)
    assert "extra" not in out.features.columns


def test_unseen_categories_pass_through_untouched() -> None:
    raw = _raw()
    raw["city"] = ["Lima", "Kyiv", "Rome", "Oslo", "Rome"]
    out = conform(raw, SCHEMA)
    assert out.features["city"].tolist() == ["Lima", "Rome", "Oslo"]


def test_native_infinities_are_rejected() -> None:
    df = pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan], "y": ["a", "b", "a", "b"]})
    schema = infer_schema(df, "y")
    out = conform(df, schema, require_target=True)
    assert out.row_positions.tolist() == [0, 3]
    assert out.rejects["_reason"].tolist() == [
        "column 'x': inf is not a finite number",
        "column 'x': -inf is not a finite number",
    ]


def test_native_numbers_in_a_categorical_column_become_their_text() -> None:
    schema = Schema([ColumnSchema("c", Role.CATEGORICAL, "str")], target="y")
    out = conform(pd.DataFrame({"c": [1, 2, None]}), schema)
    assert out.features["c"].tolist()[:2] == ["1", "2"] and pd.isna(out.features["c"].iloc[2])


def test_missing_markers_are_counted_in_a_warning() -> None:
    out = conform(_raw(), SCHEMA)
    assert any("as missing" in w and "'age'" in w for w in out.warnings)


def test_bad_boolean_and_date_values_are_rejected() -> None:
    raw = _raw().iloc[[0]].copy()
    raw = pd.concat([raw, raw.assign(member="maybe"), raw.assign(seen="someday")])
    out = conform(raw, SCHEMA)
    assert out.row_positions.tolist() == [0]
    assert out.rejects["_reason"].str.contains("'member': 'maybe' is not a yes/no").iloc[0]
    assert "'seen': 'someday' is not a date" in out.rejects["_reason"].iloc[1]


def test_weight_column_is_read_and_bad_weights_set_aside() -> None:
    raw = _raw().assign(w=["2", "1", "-1", "3", "x"])
    out = conform(raw, SCHEMA, require_target=True, weight="w")
    # rows 0 and 2 were usable; row 2's weight is negative, so only row 0 stays
    assert out.row_positions.tolist() == [0]
    assert out.weight is not None and out.weight.tolist() == [2.0]
    reasons = dict(zip(out.rejects["_row"], out.rejects["_reason"], strict=True))
    assert reasons[2] == "weight 'w': '-1' is not a non-negative number"
    assert "weight 'w'" in reasons[4] and "column 'age'" in reasons[4]
    with pytest.raises(DataError, match="weight column 'mass' not found"):
        conform(raw, SCHEMA, weight="mass")
