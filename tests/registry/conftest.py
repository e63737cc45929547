"""A small model trained once for the registry tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlwright

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "telco_churn"


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = mlwright.train(
        EXAMPLE / "train.csv", target="Churn", time_limit=8, preset="fast", seed=0
    )
    return model.save(tmp_path_factory.mktemp("trained") / "churn")
