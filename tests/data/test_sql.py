"""Reading SQL queries against real PostgreSQL and MariaDB servers and SQLite/DuckDB files.

The servers come from CI (or this machine). When one is unreachable its tests fail, naming the
service, unless MLWRIGHT_TEST_SKIP_SERVERS=1, which skips them instead.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mlwright.data.sql import SUPPORTED_DIALECTS, check_url, read_sql
from mlwright.errors import ConfigError, DataError, SourceError
from mlwright.settings import DataSettings

PG_URL = os.environ.get(
    "MLWRIGHT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get(
    "MLWRIGHT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
SERVERS = {"postgresql": ("PostgreSQL", PG_URL), "mariadb": ("MariaDB", MARIADB_URL)}
DIALECTS = ["postgresql", "mariadb", "sqlite", "duckdb"]
SMALL_CHUNKS = DataSettings(chunk_size=3, sql_timeout=10)
QUICK_TIMEOUT = DataSettings(chunk_size=3, sql_timeout=0.5)


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(1, 11)),
            "name": ["ann", "bö", "chloé", None, "eve", "fay", "gus", "hal", "ivy", "jo"],
            "amount": [1.5, 2.25, None, 4.0, 5.5, 6.0, 7.75, 8.0, 9.5, 10.0],
            "active": [True, False] * 5,
            "joined": pd.date_range("2024-01-01", periods=10, freq="D"),
        }
    )


@dataclass
class Table:
    """A freshly created table holding ``_rows()``, read through ``url``."""

    dialect: str
    url: str
    name: str
    admin: sa.Engine  # a read-write connection for setting up and checking

    def count_and_sum(self) -> tuple[int, int]:
        with self.admin.connect() as conn:
            row = conn.exec_driver_sql(f"select count(*), sum(id) from {self.name}").one()
        return int(row[0]), int(row[1])


def _server_engine(dialect: str) -> sa.Engine:
    service, url = SERVERS[dialect]
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        return engine
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).splitlines()[0]
    message = (
        f"{service} is down: cannot connect to "
        f"{sa.make_url(url).render_as_string(hide_password=True)} ({reason}). "
        f"Start the {service} service (CI starts it), or set MLWRIGHT_TEST_SKIP_SERVERS=1 to "
        "skip the tests that need it."
    )
    if os.environ.get("MLWRIGHT_TEST_SKIP_SERVERS") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _file_engine(dialect: str, tmp_path: Path) -> tuple[str, sa.Engine]:
    if dialect == "sqlite":
        path = tmp_path / "data.sqlite"
        return f"sqlite:///{path}", sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    path = tmp_path / "data.duckdb"
    return f"duckdb:///{path}", sa.create_engine(f"duckdb:///{path}", poolclass=NullPool)


@pytest.fixture(params=DIALECTS)
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Table]:
    dialect: str = request.param
    if dialect in SERVERS:
        url, admin = SERVERS[dialect][1], _server_engine(dialect)
    else:
        url, admin = _file_engine(dialect, tmp_path)
    name = f"mlw_test_{uuid.uuid4().hex[:10]}"
    if dialect == "duckdb":
        with admin.begin() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.register("rows_frame", _rows())
            conn.exec_driver_sql(f"create table {name} as select * from rows_frame")
            raw.unregister("rows_frame")
    else:
        _rows().to_sql(name, admin, index=False)
    try:
        yield Table(dialect, url, name, admin)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"drop table if exists {name}")
        admin.dispose()


def _read(table: Table, query: str, settings: DataSettings = SMALL_CHUNKS) -> pd.DataFrame:
    return read_sql(table.url, query.format(t=table.name), settings=settings, progress=False)


# --- reading -------------------------------------------------------------------------------------


def test_reads_mixed_types_in_chunks_smaller_than_the_table(table: Table) -> None:
    df = _read(table, "select id, name, amount, active, joined from {t} order by id")
    assert list(df.columns) == ["id", "name", "amount", "active", "joined"]
    assert list(df["id"]) == list(range(1, 11))
    assert pd.api.types.is_integer_dtype(df["id"]) and pd.api.types.is_float_dtype(df["amount"])
    assert df["name"].iloc[2] == "chloé" and pd.isna(df["name"].iloc[3])
    assert pd.isna(df["amount"].iloc[2]) and df["amount"].iloc[1] == 2.25
    assert [bool(v) for v in df["active"]] == [True, False] * 5
    assert str(pd.Timestamp(df["joined"].iloc[9]).date()) == "2024-01-10"


def test_query_returning_no_rows(table: Table) -> None:
    with pytest.raises(DataError, match="returned no rows"):
        _read(table, "select * from {t} where id > 100")


def test_failing_query_reports_the_database_message(table: Table) -> None:
    with pytest.raises(SourceError, match=r"(?i)query failed.*no_such_table.*Check the query"):
        _read(table, "select * from no_such_table_mlw")


def test_duplicate_result_columns(table: Table) -> None:
    with pytest.raises(DataError, match="duplicate column names: id"):
        _read(table, "select id, id from {t}")


WRITES = [
    "delete from {t}",
    "update {t} set id = 0",
    "insert into {t} (id) values (99)",
    "drop table {t}",
    "create table {t}_copy (a int)",
    "select 1; delete from {t}",
    "select 1 as x; insert into {t} (id) values (99)",
]


@pytest.mark.parametrize("query", WRITES)
def test_writing_query_is_refused_and_data_unchanged(table: Table, query: str) -> None:
    with pytest.raises(SourceError, match="(?i)read-only|statements"):
        _read(table, query)
    assert table.count_and_sum() == (10, 55)


def test_database_refuses_writes_hidden_in_a_read(table: Table) -> None:
    """Writes that pass the first-word check are stopped by the read-only transaction itself."""
    seq = f"{table.name}_seq"
    if table.dialect in ("sqlite", "duckdb"):
        query, after = f"with x as (select 1) delete from {table.name}", None
    else:
        with table.admin.begin() as conn:
            conn.exec_driver_sql(f"create sequence {seq}")
        quoted = f"'{seq}'" if table.dialect == "postgresql" else seq
        query, after = f"select nextval({quoted}) as n", f"select nextval({quoted})"
    try:
        with pytest.raises(SourceError, match="tried to write.*read-only"):
            read_sql(table.url, query, settings=SMALL_CHUNKS, progress=False)
        assert table.count_and_sum() == (10, 55)
        if after is not None:  # a sequence is never rolled back: 1 proves nextval never ran
            with table.admin.begin() as conn:
                assert conn.exec_driver_sql(after).scalar() == 1
    finally:
        if after is not None:
            with table.admin.begin() as conn:
                conn.exec_driver_sql(f"drop sequence if exists {seq}")


def test_separators_inside_strings_and_comments_are_one_statement(table: Table) -> None:
    query = (
        "select ';' as semi, id -- ; delete from {t}\nfrom {t} /* ; drop table {t} */ where id = 1"
    )
    df = _read(table, query)
    assert list(df["semi"]) == [";"]


SLOW = {
    "postgresql": "select pg_sleep(5)",
    "mariadb": "select sleep(5)",
    "sqlite": (
        "with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000000) "
        "select count(*) from c"
    ),
    "duckdb": "select sum(hash(i)) from range(200000000000) t(i)",
}


def test_statement_timeout(table: Table) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"exceeded sql_timeout \(0\.5 s\).*mlwright\.toml"):
        _read(table, SLOW[table.dialect], settings=QUICK_TIMEOUT)
    assert time.monotonic() - start < 4


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "oracle://scott:tiger@db:1521/orcl",
        "mssql+pyodbc://sa:tiger@db/sales",
        "http://tiger.example.com/data",
        "snowflake://u:tiger@acct/db",
    ],
)
def test_unsupported_dialect(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_sql(url, "select 1")
    message = str(info.value)
    for dialect in SUPPORTED_DIALECTS:
        assert dialect in message
    assert "postgresql+psycopg://" in message and ":tiger@" not in message


def test_malformed_url_hides_the_password() -> None:
    with pytest.raises(ConfigError, match="not a valid database URL") as info:
        check_url("postgresql://user:hunter2@host:notaport/db")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("postgresql://u:pw@h/db?options=-c%20default_transaction_read_only%3Doff", "options"),
        ("mysql+pymysql://u:pw@h/db?init_command=SET%20x%3D1", "init_command"),
        ("mariadb://u:pw@h/db?local_infile=1", "local_infile"),
        ("sqlite:///x.sqlite?mode=rw", "mode"),
        ("duckdb:///x.duckdb?access_mode=read_write", "access_mode"),
    ],
)
def test_disallowed_url_parameter(url: str, param: str) -> None:
    with pytest.raises(ConfigError, match=rf"{param}.*not allowed.*allowed: ") as info:
        check_url(url)
    assert ":pw@" not in str(info.value)


def test_allowed_parameters_and_drivers() -> None:
    pg = check_url("postgresql://u:pw@h:5432/db?sslmode=require&connect_timeout=5")
    assert pg.drivername == "postgresql+psycopg" and pg.query["sslmode"] == "require"
    assert check_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert check_url("mysql://u@h/db?charset=utf8mb4").drivername == "mysql+pymysql"
    assert check_url("mariadb+pymysql://u@h/db").drivername == "mariadb+pymysql"
    assert check_url("duckdb:///x.duckdb").drivername == "duckdb"
    assert check_url("sqlite:///x.sqlite").drivername == "sqlite+pysqlite"


def test_unsupported_driver_names_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match=r"driver 'mysqldb'.*mysql\+pymysql"):
        check_url("mysql+mysqldb://u@h/db")


def test_file_databases_need_a_path() -> None:
    with pytest.raises(ConfigError, match="names no database file"):
        check_url("sqlite://")
    with pytest.raises(ConfigError, match="names no database file"):
        check_url("duckdb:///:memory:")


# --- connections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://mlw:s3cretpw@127.0.0.1:1/test?connect_timeout=2",
        "mysql+pymysql://mlw:s3cretpw@127.0.0.1:1/test?connect_timeout=2",
    ],
)
def test_connection_failure_names_the_host_not_the_password(url: str) -> None:
    with pytest.raises(SourceError, match=r"cannot connect.*127\.0\.0\.1:1.*'mlw'") as info:
        read_sql(url, "select 1")
    assert "s3cretpw" not in str(info.value)


def test_missing_database_file(tmp_path: Path) -> None:
    for scheme in ("sqlite", "duckdb"):
        with pytest.raises(SourceError, match="database file .* not found"):
            read_sql(f"{scheme}:///{tmp_path / 'nope.db'}", "select 1")


def test_sqlite_file_is_opened_read_only(tmp_path: Path) -> None:
    db = tmp_path / "ro.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (a int)")
        conn.execute("insert into t values (1)")
    conn.close()
    before = db.stat().st_mtime_ns
    with pytest.raises(SourceError, match="read-only"):
        read_sql(f"sqlite:///{db}", "with x as (select 1) insert into t select 2", progress=False)
    assert db.stat().st_mtime_ns == before


def test_duckdb_file_is_opened_read_only(tmp_path: Path) -> None:
    db = tmp_path / "ro.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute("create table t as select 1 as a")
    conn.close()
    with pytest.raises(SourceError, match="read-only"):
        read_sql(f"duckdb:///{db}", "with x as (select 1) insert into t select 2", progress=False)
    assert duckdb.connect(str(db), read_only=True).execute("select count(*) from t").fetchone() == (
        1,
    )
