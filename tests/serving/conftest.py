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


@pytest.fixture
def registry_dir(model_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A SQLite registry in tmp_path holding the session's model as churn version 1, at
    production."""
    from mlwright.registry import open_registry

    folder = tmp_path / "registry"
    registry = open_registry(folder)
    registry.register(model_dir, "churn", alias="production")
    registry.close()
    yield folder


@pytest.fixture
def make_logged_client(registry_dir: Path) -> Iterator[Any]:
    """``make_logged_client(**config)``: a started client of churn@production that logs every
    prediction into ``registry_dir``; returns ``(client, logger)``. Close the client (``with``
    or ``client.__exit__``) to shut the app down, which writes the log's buffer."""
    from mlwright.serving import RegistryPredictionLogger, RegistrySource

    clients: list[TestClient] = []
    sources: list[RegistrySource] = []

    def make(
        *, flush_interval: float = 0.05, buffer_rows: int = 1000, **config: Any
    ) -> tuple[TestClient, RegistryPredictionLogger]:
        source = RegistrySource("churn@production", str(registry_dir))
        sources.append(source)
        logger = RegistryPredictionLogger(
            source.registry, "churn", buffer_rows=buffer_rows, flush_interval=flush_interval
        )
        config.setdefault("poll_interval", 0.1)
        app = create_app(source, ServingConfig(**config), prediction_logger=logger)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client, logger

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    for source in sources:
        source.registry.close()


def read_log(registry_dir: Path) -> Any:
    """Every logged prediction of churn (a LoggedWindow)."""
    from mlwright.registry import open_registry

    registry = open_registry(registry_dir)
    try:
        return registry.operations.read("churn")
    finally:
        registry.close()
