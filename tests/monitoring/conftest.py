"""Synthetic streams with a known truth, and one small real model per session."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.monitoring import ReferenceProfile, build_reference

from ..conftest import EXAMPLE

SCHEMA = Schema(
    [
        ColumnSchema("normal", Role.NUMERIC, "float64"),
        ColumnSchema("skewed", Role.NUMERIC, "float64"),
        ColumnSchema("count", Role.NUMERIC, "float64"),
        ColumnSchema("gappy", Role.NUMERIC, "float64"),
        ColumnSchema("colour", Role.CATEGORICAL, "object"),
        ColumnSchema("town", Role.CATEGORICAL, "object"),
        ColumnSchema("member", Role.BOOLEAN, "bool"),
        ColumnSchema("y", Role.TARGET, "int64"),
    ],
    target="y",
)
COLOURS = np.array(["red", "green", "blue", "grey"])
COLOUR_SHARES = np.array([0.4, 0.25, 0.2, 0.15])
TOWNS = np.array([f"town{i}" for i in range(40)])
TOWN_SHARES = 1 / np.arange(1, 41) / np.sum(1 / np.arange(1, 41))  # Zipf: many rare towns


def make_rows(
    n: int,
    rng: np.random.Generator,
    *,
    shift: float = 0.0,
    colours: np.ndarray = COLOUR_SHARES,
) -> pd.DataFrame:
    """Rows of the synthetic stream; ``shift`` moves 'normal' by that many SDs."""
    return pd.DataFrame(
        {
            "normal": rng.normal(size=n) + shift,
            "skewed": rng.lognormal(size=n),
            "count": rng.poisson(3, size=n).astype(float),
            "gappy": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "colour": pd.Series(rng.choice(COLOURS, n, p=colours), dtype=object),
            "town": pd.Series(rng.choice(TOWNS, n, p=TOWN_SHARES), dtype=object),
            "member": (rng.random(n) < 0.3).astype(float),
        }
    )


def true_proba(rows: pd.DataFrame) -> np.ndarray:
    """A calibrated binary model: the true P(y=1 | x) of the synthetic stream."""
    logit = 1.5 * rows["normal"].to_numpy() + 0.8 * (rows["colour"] == "red").to_numpy() - 0.3
    p = 1 / (1 + np.exp(-logit))
    return np.column_stack([1 - p, p])


def draw_labels(proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(proba)) < proba[:, 1]).astype(np.int64)


@pytest.fixture(scope="session")
def synthetic_reference() -> ReferenceProfile:
    rng = np.random.default_rng(42)
    train = make_rows(20_000, rng)
    proba = true_proba(train)
    return build_reference(
        train,
        SCHEMA,
        task="binary",
        classes=[0, 1],
        threshold=0.5,
        scores=proba,
        labels=draw_labels(proba, rng),
    )


@pytest.fixture(scope="session")
def stream() -> Callable[..., pd.DataFrame]:
    return make_rows


@pytest.fixture(scope="session")
def churn_model() -> mlwright.Model:
    """A tiny real model, trained once per session."""
    return mlwright.train(EXAMPLE / "train.csv", target="Churn", time_limit=5, preset="fast")
