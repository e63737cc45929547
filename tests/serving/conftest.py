"""A small real model trained once per session, and helpers to run the real app against it."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlwright
from mlwright.model import Model
from mlwright.serving import FolderSource, KeyRing, ModelSource, ServingConfig, create_app

from ..conftest import EXAMPLE

PREDICT_KEY = "predict-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS = KeyRing.parse(f"{PREDICT_KEY}:predict,{ADMIN_KEY}:admin", "the tests")
AUTH = {"Authorization": f"Bearer {PREDICT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="session")
def test_rows() -> pd.DataFrame:
    """Test rows as a client would send them (numbers typed, no target)."""
    df = pd.read_csv(EXAMPLE / "test.csv").drop(columns=["Churn"])
    return df.head(40)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN as None."""
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in df.to_dict("records")
    ]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Model:
    df = pd.read_csv(EXAMPLE / "train.csv", dtype=str, keep_default_na=False).head(1200)
    return mlwright.train(df, target="Churn", time_limit=5, preset="fast")


@pytest.fixture(scope="session")
def model_dir(trained: Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained.save(tmp_path_factory.mktemp("models") / "churn")


def save_with_threshold(model: Model, threshold: float, folder: Path) -> Path:
    """A real second version of ``model``: same predictor, another decision threshold
    (0.0 predicts 'Yes' for every row, 1.01 'No')."""
    other = copy.copy(model)
    other.threshold_ = threshold
    return other.save(folder)


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def wait_ready(client: TestClient) -> None:
    wait_until(lambda: client.get("/ready").status_code == 200)


@pytest.fixture
def make_client() -> Iterator[Any]:
    """``make_client(source, **config)``: a started TestClient (lifespan run), closed after."""
    clients: list[TestClient] = []

    def make(source: ModelSource | Path, *, ready: bool = True, **config: Any) -> TestClient:
        if isinstance(source, Path):
            source = FolderSource(source)
        config.setdefault("poll_interval", 0.1)
        app = create_app(source, ServingConfig(**config))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        if ready:
            wait_ready(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Any, model_dir: Path) -> TestClient:
    """A no-auth client of the session's model, ready."""
    return make_client(model_dir)
