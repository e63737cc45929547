"""Opening the registry database: engine settings per dialect, and migrations under a lock.

SQLite (the default, a file in the registry folder) runs in WAL mode with a busy timeout, and
write transactions start with ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead
of failing with "database is locked" when a read turns into a write. PostgreSQL (and other
SQLAlchemy URLs) is used as given. Migrations run once per process, under a file lock (SQLite) or
an advisory lock (PostgreSQL), so many processes opening a new registry at once do not race.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from mlwright.errors import RegistryError

__all__ = ["HEAD", "connect_engine", "json_text", "migrate", "redact_url", "write_transaction"]

# the newest migration in migrations/versions (a test checks they agree); a registry already at
# HEAD is opened without importing Alembic, which a serving process does not otherwise need
HEAD = "0002"

_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6D6C7772  # "mlwr": the PostgreSQL advisory lock taken while migrating
BUSY_TIMEOUT_S = 60.0
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def connect_engine(url: str) -> Engine:
    """An engine for ``url`` with the registry's connection settings."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"timeout": BUSY_TIMEOUT_S, "isolation_level": None},
                pool_pre_ping=False,
                json_serializer=json_text,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, json_serializer=json_text)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RegistryError(
            f"cannot open the registry database {redact_url(url)}: {exc}. Expected a folder path "
            "or a URL such as postgresql+psycopg://user@host/db (install mlwright[postgresql])."
        ) from None
    return engine


def json_text(value: Any) -> str:
    """JSON columns through orjson: about 3x faster than the standard library on prediction-log
    rows, NumPy values accepted, and NaN/inf written as null (valid JSON for PostgreSQL)."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("registry_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock up front."""
    with engine.connect() as conn:
        conn = conn.execution_options(registry_write=True)
        with conn.begin():
            yield conn


def redact_url(url: str) -> str:
    """``url`` with its user and password replaced by ``***`` (other text unchanged)."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def migrate(engine: Engine, lock_file: Path | None) -> None:
    """Bring the schema to the newest migration, unless it is there already."""
    try:
        with engine.connect() as conn:
            if _current(conn) == HEAD:
                return
        with _migration_lock(engine, lock_file), engine.connect() as conn:
            if _current(conn) == HEAD:
                return
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            if conn.in_transaction():
                conn.commit()
    except SQLAlchemyError as exc:
        raise RegistryError(
            f"cannot prepare the registry database {redact_url(str(engine.url))}: {exc}. "
            "Check that the database is reachable and that this user may create tables."
        ) from None


@contextlib.contextmanager
def _migration_lock(engine: Engine, lock_file: Path | None) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
    elif lock_file is not None:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with lock_file.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    else:
        yield
