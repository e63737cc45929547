"""Registry locations (SQLite folder, PostgreSQL schema), artifacts and a trained model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import mlwright
from mlwright.artifact import write_artifact

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "telco_churn"


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = mlwright.train(
        EXAMPLE / "train.csv", target="Churn", time_limit=8, preset="fast", seed=0
    )
    return model.save(tmp_path_factory.mktemp("trained") / "churn")


PG_URL = os.environ.get(
    "MLWRIGHT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def fake_model(folder: Path, payload: bytes | None = None) -> Path:
    """A small valid artifact (hashed manifest plus one data file); unique unless ``payload``."""
    data = payload if payload is not None else uuid.uuid4().bytes

    def write(tmp: Path) -> dict[str, object]:
        (tmp / "weights.bin").write_bytes(data)
        return {}

    return write_artifact(folder, {"task": "binary", "metric": "roc_auc", "target": "y"}, write)


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    admin = sa.create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL is down at {PG_URL} ({str(exc.orig).splitlines()[0]})"
        if os.environ.get("MLWRIGHT_TEST_SKIP_SERVERS") == "1":
            pytest.skip(message)
        pytest.fail(message + "; start it (CI does) or set MLWRIGHT_TEST_SKIP_SERVERS=1")
    schema = f"reg_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_location(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "registry")
        return
    monkeypatch.setenv("MLWRIGHT_ARTIFACT_STORE", str(tmp_path / "store"))
    yield from pg_schema_url()
