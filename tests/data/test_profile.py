"""Data-quality profile and leakage suspects."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
from rich.console import Console

from mlwright.data.fingerprint import fingerprint
from mlwright.data.profile import profile_data


def _clean(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).round(3).astype(str),
            "c": rng.choice(["red", "green", "blue"], n),
            "y": rng.choice(["yes", "no"], n),
        }
    )


def test_leak_is_found() -> None:
    df = _clean()
    rng = np.random.default_rng(1)
    df["leak"] = (df["y"].eq("yes") * 1.0 + rng.normal(0, 0.1, len(df))).astype(str)
    profile = profile_data(df, "y")
    leaks = [s for s in profile.suspects if s.kind == "leakage"]
    assert [s.column for s in leaks] == ["leak"]
    assert "alone gives ROC AUC" in leaks[0].detail and "prediction time" in leaks[0].detail


def test_regression_leak_is_found() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=800)
    df = pd.DataFrame({"noise": rng.normal(size=800), "copy": y + rng.normal(0, 0.02, 800), "y": y})
    profile = profile_data(df, "y")
    assert profile.task == "regression"
    assert [s.column for s in profile.suspects] == ["copy"]
    assert "R²" in profile.suspects[0].detail


def test_no_suspects_on_clean_data() -> None:
    profile = profile_data(_clean(), "y")
    assert profile.suspects == []
    assert profile.task == "binary"


def test_columns_describe_roles_and_messy_values() -> None:
    df = _clean(40)
    df["x"] = ["", "NA"] + df["x"].tolist()[2:]
    df["empty"] = ""
    df["inf"] = ["inf"] + ["1"] * 20 + ["2"] * 19
    profile = profile_data(df, "y")
    cols = {c["name"]: c for c in profile.columns}
    assert cols["x"]["role"] == "numeric" and cols["x"]["missing"] == 2
    assert {"numbers stored as text", "1 blank value", "1 value written as 'NA'"} <= set(
        cols["x"]["notes"]
    )
    assert {"min", "max", "mean", "std"} <= set(cols["x"])
    assert cols["c"]["top"][0]["count"] >= 14
    assert cols["empty"]["role"] == "constant" and cols["empty"]["reason"] == "all values missing"
    assert any("infinite" in w for w in profile.warnings)
    json.dumps(profile.to_dict())
    Console(file=io.StringIO(), width=120).print(profile.to_rich())


def test_mixed_date_formats_are_noted() -> None:
    df = _clean(40)
    df["d"] = ["2020-01-05", "05/01/2020", "Jan 3, 2020", "13/01/2020"] * 10
    profile = profile_data(df, "y")
    cols = {c["name"]: c for c in profile.columns}
    assert cols["d"]["role"] == "datetime" and "dates in mixed formats" in cols["d"]["notes"]


def test_identifiers_are_suspects() -> None:
    df = _clean()
    df["customerID"] = [f"{i:05d}-AB" for i in range(len(df))]
    profile = profile_data(df, "y")
    assert [(s.column, s.kind) for s in profile.suspects] == [("customerID", "identifier")]


def test_a_hundred_thousand_distinct_categories() -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "c": [f"k{i}" for i in rng.permutation(n)],
            "d": [f"k{i % 50_000}" for i in range(n)],
            "y": rng.choice(["a", "b"], n),
        }
    )
    start = time.perf_counter()
    profile = profile_data(df, "y")
    assert time.perf_counter() - start < 5
    cols = {c["name"]: c for c in profile.columns}
    assert cols["c"]["role"] == "identifier" and cols["d"]["role"] == "categorical"
    assert len(cols["d"]["top"]) == 5


def test_fingerprint_is_stable_and_sensitive() -> None:
    df = _clean(20)
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df).startswith("sha256:")
    changed = df.copy()
    changed.loc[0, "x"] = "999"
    assert fingerprint(changed) != fingerprint(df)
    assert fingerprint(df.rename(columns={"x": "z"})) != fingerprint(df)
