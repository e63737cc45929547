"""Shared fixtures; ``--runslow`` enables the end-to-end tests marked ``slow``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
EXAMPLE = REPO / "examples" / "telco_churn"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("MLWRIGHT_RUNSLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow end-to-end test: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_datasets() -> Path:
    """The shared benchmark data pack; tests using it skip cleanly where it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


def churn_like_frame(n: int, seed: int) -> pd.DataFrame:
    """A small synthetic churn table (tenure, charges, contract -> Churn) for quick models."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    charges = rng.normal(70, 20, n).round(2)
    contract = rng.choice(["month", "year", "two-year"], n)
    risk = -0.05 * tenure + 0.02 * charges + (contract == "month") * 1.0
    churned = np.where(risk + rng.normal(0, 0.8, n) > 0.6, "Yes", "No")
    return pd.DataFrame(
        {"tenure": tenure, "charges": charges, "contract": contract, "Churn": churned}
    )
