"""A small trained model shared by the deploy tests, and input files built from the example."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlwright import Model
from mlwright.settings import Settings

from ..conftest import EXAMPLE


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickly trained churn model (one candidate), saved once for the whole session."""
    train = pd.read_csv(EXAMPLE / "train.csv", dtype=str, keep_default_na=False).head(600)
    settings = Settings(
        training={"time_limit": 10, "max_trials": 1, "preset": "fast"}, progress=False
    )
    model = Model(settings).fit(train, "Churn")
    return model.save(tmp_path_factory.mktemp("models") / "churn")


@pytest.fixture(scope="session")
def model(model_dir: Path) -> Model:
    return Model.load(model_dir)


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    """2,000 rows to score as raw text, with bad values at known row numbers."""
    test = pd.read_csv(EXAMPLE / "test.csv", dtype=str, keep_default_na=False)
    frame = pd.concat([test, test], ignore_index=True).head(2000).drop(columns=["Churn"])
    frame.loc[BAD_ROWS, "tenure"] = "twelve"
    return frame


BAD_ROWS = [4, 399, 400, 1234, 1999]  # across chunks of 100, on and beside their edges
