"""Reading SQL queries through SQLAlchemy: read-only, time-limited and streamed in chunks.

Only PostgreSQL, MySQL, MariaDB, SQLite and DuckDB URLs are accepted, with an allow-list of
connection parameters per dialect. Every query is one read statement that runs in a read-only
transaction (or a read-only connection) with a statement timeout, and is always rolled back.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mlwright.errors import ConfigError, DataError, SourceError
from mlwright.progress import progress_bar
from mlwright.settings import DataSettings

__all__ = ["SUPPORTED_DIALECTS", "check_url", "read_sql", "stream_sql"]

SUPPORTED_DIALECTS: tuple[str, ...] = ("postgresql", "mysql", "mariadb", "sqlite", "duckdb")

_EXAMPLES = {
    "postgresql": "postgresql+psycopg://user:password@host:5432/dbname",
    "mysql": "mysql+pymysql://user:password@host:3306/dbname",
    "mariadb": "mariadb+pymysql://user:password@host:3306/dbname",
    "sqlite": "sqlite:///path/to/data.sqlite",
    "duckdb": "duckdb:///path/to/data.duckdb",
}
# accepted "+driver" names per dialect; the first installed of _PREFERRED is used
_DRIVERS = {
    "postgresql": ("psycopg", "psycopg2"),
    "mysql": ("pymysql",),
    "mariadb": ("pymysql",),
    "sqlite": ("pysqlite",),
    "duckdb": (),
}
_PREFERRED = {
    "postgresql": (("psycopg", ("psycopg",)), ("psycopg2", ("psycopg2",))),
    "mysql": (("pymysql", ("pymysql",)),),
    "mariadb": (("pymysql", ("pymysql",)),),
    "sqlite": (("pysqlite", ("sqlite3",)),),
    "duckdb": (("", ("duckdb", "duckdb_engine")),),
}
_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "duckdb": "duckdb"}
_ALLOWED_PARAMS: dict[str, frozenset[str]] = {
    "postgresql": frozenset(
        {"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name"}
    ),
    "mysql": frozenset({"charset", "ssl_ca", "ssl_cert", "ssl_key", "connect_timeout"}),
    "mariadb": frozenset({"charset", "ssl_ca", "ssl_cert", "ssl_key", "connect_timeout"}),
    "sqlite": frozenset(),
    "duckdb": frozenset(),
}
_READ_KEYWORDS = frozenset(
    {"select", "with", "values", "table", "from", "show", "describe", "desc", "explain"}
)
_TIMEOUT_HINT = (
    "Make the query faster (filter rows, add an index) or raise the limit with "
    "`sql_timeout = <seconds>` under [data] in mlwright.toml (or MLWRIGHT_DATA__SQL_TIMEOUT)."
)


def check_url(url: str) -> sa.URL:
    """Validate a database URL and return it with the driver mlwright will use.

    Parameters
    ----------
    url:
        A SQLAlchemy URL such as ``postgresql+psycopg://user@host:5432/db``.

    Returns
    -------
    The parsed URL with an explicit, installed driver.

    Raises ``ConfigError`` for a malformed URL, an unsupported dialect or driver, a connection
    parameter outside the allow-list, or a driver that is not installed.

    Example:
        >>> check_url("postgresql://analyst@db:5432/sales").drivername
        'postgresql+psycopg'
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        raise ConfigError(
            f"'{_mask_password(url)}' is not a valid database URL; expected "
            f"dialect+driver://user@host:port/database, for example {_EXAMPLES['postgresql']}. "
            "Fix the URL."
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    backend, _, driver = parsed.drivername.lower().partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in SUPPORTED_DIALECTS:
        raise ConfigError(
            f"database '{backend}' in '{shown}' is not supported; expected one of "
            f"{', '.join(SUPPORTED_DIALECTS)}, for example {_EXAMPLES['postgresql']} or "
            f"{_EXAMPLES['sqlite']}. Export the data to a supported database or to a file."
        )
    if driver and driver not in _DRIVERS[backend]:
        accepted = ", ".join(f"{backend}+{d}" for d in _DRIVERS[backend]) or backend
        raise ConfigError(
            f"driver '{driver}' in '{shown}' is not supported; expected {accepted} "
            f"(or plain {backend}://), for example {_EXAMPLES[backend]}. Change the URL prefix."
        )
    bad = sorted(set(parsed.query) - _ALLOWED_PARAMS[backend])
    if bad:
        allowed = ", ".join(sorted(_ALLOWED_PARAMS[backend])) or "none"
        raise ConfigError(
            f"connection parameter(s) {', '.join(bad)} in '{shown}' are not allowed for "
            f"{backend}; allowed: {allowed}. Remove them from the URL."
        )
    if backend in ("sqlite", "duckdb") and parsed.database in (None, "", ":memory:"):
        raise ConfigError(
            f"'{shown}' names no database file; expected a path such as {_EXAMPLES[backend]}. "
            "Add the path to the file (three slashes, then a relative path, or four for an "
            "absolute one)."
        )
    return parsed.set(drivername=_installed_driver(backend))


def _installed_driver(backend: str) -> str:
    for driver, modules in _PREFERRED[backend]:
        if all(importlib.util.find_spec(m) is not None for m in modules):
            return f"{backend}+{driver}" if driver else backend
    needed = " or ".join("+".join(m) for _, m in _PREFERRED[backend])
    raise ConfigError(
        f"the {backend} driver is not installed; expected the package {needed}. "
        f"Run `pip install 'mlwright[{_EXTRAS.get(backend, 'sql')}]'`."
    )


def _mask_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def read_sql(
    url: str,
    query: str,
    *,
    settings: DataSettings | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Run one read-only SELECT and return its rows, streamed in chunks.

    Parameters
    ----------
    url:
        A database URL accepted by :func:`check_url`.
    query:
        A single read statement (SELECT, WITH ... SELECT, VALUES, ...).
    settings:
        ``sql_timeout`` (seconds) and ``chunk_size`` (rows per fetch); defaults to
        ``DataSettings()``.
    progress:
        Show a progress bar on stderr; None shows it only when stderr is a terminal.

    Returns
    -------
    The result rows with their database types.

    Example:
        >>> df = read_sql("sqlite:///shop.sqlite", "select * from orders")
    """
    settings = settings if settings is not None else DataSettings()
    parsed = check_url(url)
    dialect = parsed.get_backend_name()
    _check_query(query, dialect)
    engine = _engine(parsed, dialect)
    try:
        return _query_frame(engine, parsed, dialect, query, settings, progress)
    finally:
        engine.dispose()


def stream_sql(
    url: str, query: str, *, settings: DataSettings | None = None
) -> Iterator[pd.DataFrame]:
    """Run one read-only SELECT and yield its rows in chunks, never holding the whole result.

    PostgreSQL and MySQL/MariaDB read through a server-side cursor; ``sql_timeout`` limits each
    fetch of ``chunk_size`` rows, not the time the caller spends between fetches. The URL and
    the query are checked at once; the connection opens on the first chunk and closes when the
    iterator is exhausted or closed.

    Parameters
    ----------
    url:
        A database URL accepted by :func:`check_url`.
    query:
        A single read statement (SELECT, WITH ... SELECT, VALUES, ...).
    settings:
        ``sql_timeout`` (seconds per fetch) and ``chunk_size`` (rows per chunk).

    Returns
    -------
    A generator of DataFrames with the database types; an empty result yields one empty frame
    with the result's columns.

    Example:
        >>> for chunk in stream_sql("sqlite:///shop.sqlite", "select * from orders"):
        ...     print(len(chunk))
    """
    settings = settings if settings is not None else DataSettings()
    parsed = check_url(url)
    dialect = parsed.get_backend_name()
    _check_query(query, dialect)
    return _stream(_engine(parsed, dialect), parsed, dialect, query, settings)


# --- the query text ------------------------------------------------------------------------------


def _check_query(query: str, dialect: str) -> None:
    """Reject what is not a single read statement before it reaches the database."""
    code = _code_only(query, dialect)
    statements = [s for s in code.split(";") if s.strip()]
    if not statements:
        raise SourceError(
            "the query is empty; expected a SELECT that returns the training rows. "
            "Pass it with --query or query=."
        )
    if len(statements) > 1:
        raise SourceError(
            f"the query holds {len(statements)} statements; expected exactly one SELECT. "
            "Remove the other statements (mlwright runs one read-only query)."
        )
    match = re.match(r"[\s(]*([A-Za-z_]+)", statements[0])
    keyword = match.group(1).lower() if match else ""
    writes_file = dialect in ("mysql", "mariadb") and re.search(
        r"\binto\s+(outfile|dumpfile)\b", code, re.IGNORECASE
    )
    if keyword not in _READ_KEYWORDS or writes_file:
        what = "SELECT ... INTO OUTFILE" if writes_file else keyword.upper() or "that statement"
        raise SourceError(
            f"the query tried to write or change the database ({what}); mlwright runs queries "
            "read-only and expects a single SELECT (or WITH ... SELECT). Make the change with "
            "your database tools, then query the result."
        )


def _code_only(query: str, dialect: str) -> str:
    """The query with comments, string literals and quoted names blanked out."""
    mysql = dialect in ("mysql", "mariadb")
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        ch, nxt = query[i], query[i + 1 : i + 2]
        if (ch == "-" and nxt == "-") or (mysql and ch == "#"):
            end = query.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif ch == "/" and nxt == "*":
            i = _skip_block_comment(query, i, nested=dialect == "postgresql")
            out.append(" ")
        elif ch in "'\"" or (mysql and ch == "`"):
            escapes = mysql or (ch == "'" and _is_escape_string(query, i, dialect))
            i = _skip_quoted(query, i, ch, escapes)
            out.append(" 0 ")
        elif ch == "$" and dialect in ("postgresql", "duckdb") and not _in_word(query, i):
            tag = re.match(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", query[i:])
            if tag is None:
                out.append(ch)
                i += 1
                continue
            end = query.find(tag.group(0), i + len(tag.group(0)))
            i = n if end < 0 else end + len(tag.group(0))
            out.append(" 0 ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _in_word(query: str, i: int) -> bool:
    return i > 0 and (query[i - 1].isalnum() or query[i - 1] in "_$")


def _is_escape_string(query: str, i: int, dialect: str) -> bool:
    """PostgreSQL E'...' strings honour backslash escapes."""
    return dialect == "postgresql" and i > 0 and query[i - 1] in "eE" and not _in_word(query, i - 1)


def _skip_quoted(query: str, i: int, quote: str, escapes: bool) -> int:
    j, n = i + 1, len(query)
    while j < n:
        ch = query[j]
        if escapes and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if query[j + 1 : j + 2] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _skip_block_comment(query: str, i: int, *, nested: bool) -> int:
    depth, j, n = 1, i + 2, len(query)
    while j < n and depth:
        pair = query[j : j + 2]
        if pair == "*/":
            depth -= 1
            j += 2
        elif nested and pair == "/*":
            depth += 1
            j += 2
        else:
            j += 1
    return j


# --- connections and guards ----------------------------------------------------------------------


def _engine(url: sa.URL, dialect: str) -> sa.Engine:
    if dialect not in ("sqlite", "duckdb"):
        return sa.create_engine(url, poolclass=NullPool)
    path = Path(str(url.database))
    if not path.is_file():
        raise SourceError(
            f"{dialect} database file '{path}' not found (looked for {path.absolute()}); "
            "expected an existing database file. Check the path in the URL."
        )
    if dialect == "duckdb":
        return sa.create_engine(url, poolclass=NullPool, connect_args={"read_only": True})
    uri = path.resolve().as_uri() + "?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return sa.create_engine("sqlite+pysqlite://", creator=connect, poolclass=NullPool)


@dataclass
class _Guard:
    """The deadline the SQLite and DuckDB watchdogs enforce, and whether they stopped a query.

    A streamed query restarts the deadline before each fetch and pauses it while the caller
    works on a chunk, so that ``sql_timeout`` limits the database's time, not the caller's.
    """

    timed_out: bool = False
    deadline: float = math.inf

    def start(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout

    def pause(self) -> None:
        self.deadline = math.inf

    def late(self) -> bool:
        return time.monotonic() > self.deadline


def _query_frame(
    engine: sa.Engine,
    url: sa.URL,
    dialect: str,
    query: str,
    settings: DataSettings,
    progress: bool | None,
) -> pd.DataFrame:
    with _read_transaction(engine, url, dialect, settings) as (conn, _):
        return _fetch(conn, query, settings.chunk_size, url, progress)


@contextmanager
def _read_transaction(
    engine: sa.Engine, url: sa.URL, dialect: str, settings: DataSettings
) -> Iterator[tuple[sa.Connection, _Guard]]:
    """A read-only, time-limited transaction streaming results where the driver can; errors
    inside it are classified (connection, timeout, refused write, bad SQL) and it always ends
    with a rollback."""
    try:
        conn = engine.connect()
    except Exception as exc:  # the driver's own error types differ per dialect
        raise _connect_error(url, dialect, exc) from None
    guard = _Guard()
    with conn:
        transaction = conn.begin()
        try:
            with _read_only(conn, dialect, settings.sql_timeout, guard):
                if conn.dialect.supports_server_side_cursors:
                    conn = conn.execution_options(
                        stream_results=True, max_row_buffer=settings.chunk_size
                    )
                yield conn, guard
        except (SourceError, DataError):
            raise
        except Exception as exc:  # classified below; the driver's types differ per dialect
            raise _query_error(exc, dialect, guard, settings.sql_timeout) from None
        finally:
            with contextlib.suppress(Exception):  # a broken connection must not hide the cause
                transaction.rollback()


@contextmanager
def _read_only(conn: sa.Connection, dialect: str, timeout: float, guard: _Guard) -> Iterator[None]:
    """Make the open transaction read-only and time-limited, per dialect."""
    guard.start(timeout)
    if dialect == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(timeout * 1000))}")
        yield
    elif dialect in ("mysql", "mariadb"):
        if conn.dialect.is_mariadb:  # type: ignore[attr-defined]
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {timeout:.3f}")
        else:
            conn.exec_driver_sql(
                f"SET SESSION max_execution_time = {max(1, round(timeout * 1000))}"
            )
        conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
        conn.exec_driver_sql("START TRANSACTION READ ONLY")
        yield
    elif dialect == "sqlite":
        raw: Any = conn.connection.dbapi_connection
        raw.execute("PRAGMA query_only = ON")

        def stop_when_late() -> int:
            guard.timed_out = guard.late()
            return int(guard.timed_out)

        raw.set_progress_handler(stop_when_late, 10_000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
    else:
        duck: Any = conn.connection.dbapi_connection
        stop = threading.Event()

        def interrupt_when_late() -> None:
            while not stop.wait(0.05):
                if guard.late():
                    guard.timed_out = True
                    duck.interrupt()
                    return

        watchdog = threading.Thread(target=interrupt_when_late, daemon=True)
        watchdog.start()
        try:
            yield
        finally:
            stop.set()


def _fetch(
    conn: sa.Connection, query: str, chunk_size: int, url: sa.URL, progress: bool | None
) -> pd.DataFrame:
    where = url.host or Path(str(url.database)).name
    chunks: list[pd.DataFrame] = []
    with progress_bar(progress) as bar:
        task = bar.add_task(f"reading query from {where}", total=None)
        for chunk in pd.read_sql_query(query, conn, chunksize=chunk_size):
            chunks.append(chunk)
            bar.advance(task, len(chunk))
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if len(frame) == 0:
        raise DataError(
            "the query returned no rows; expected at least one training row. Check its WHERE "
            "clause and the table it reads, e.g. with `select count(*)` in your database tool."
        )
    return _checked_columns(frame)


def _checked_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    dups = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dups:
        raise DataError(
            f"the query result has duplicate column names: {', '.join(dups)}; expected each "
            "name once. Give the columns distinct names with AS in the SELECT."
        )
    return frame


def _stream(
    engine: sa.Engine, url: sa.URL, dialect: str, query: str, settings: DataSettings
) -> Iterator[pd.DataFrame]:
    """Yield the result in chunks from one read-only transaction; closing the generator ends it."""
    try:
        with _read_transaction(engine, url, dialect, settings) as (conn, guard):
            chunks = pd.read_sql_query(query, conn, chunksize=settings.chunk_size)
            while True:
                guard.start(settings.sql_timeout)
                chunk = next(chunks, None)
                guard.pause()  # the caller's work on a chunk is not the query's time
                if chunk is None:
                    break
                yield _checked_columns(chunk)
    finally:
        engine.dispose()


# --- errors --------------------------------------------------------------------------------------


def _driver_error(exc: BaseException) -> BaseException:
    """The database driver's exception under SQLAlchemy's and pandas' wrappers."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError) and seen.orig is not None:
            return seen.orig
        if seen.__cause__ is None and seen.__context__ is None:
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _first_line(exc: BaseException) -> str:
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = f"{args[1]} (error {args[0]})"  # PyMySQL's (errno, message)
    else:
        text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def _connect_error(url: sa.URL, dialect: str, exc: BaseException) -> SourceError:
    message = _first_line(_driver_error(exc))
    if dialect in ("sqlite", "duckdb"):
        return SourceError(
            f"cannot open the {dialect} database '{url.database}': {message}; expected a "
            "readable database file. Check the path and that no other program has it locked."
        )
    where = f"{url.host or 'localhost'}" + (f":{url.port}" if url.port else "")
    user = f" as user '{url.username}'" if url.username else ""
    return SourceError(
        f"cannot connect to the {dialect} database '{url.database or ''}' at {where}{user}: "
        f"{message}; expected a reachable server that accepts these credentials. Check that "
        f"the server is running and the URL {url.render_as_string(hide_password=True)}."
    )


def _query_error(exc: BaseException, dialect: str, guard: _Guard, timeout: float) -> SourceError:
    orig = _driver_error(exc)
    message = _first_line(orig)
    if isinstance(exc, sa.exc.ResourceClosedError) or "does not return rows" in message:
        return SourceError(
            "the query returned no result set; expected a SELECT that returns rows. "
            "Rewrite it as a SELECT."
        )
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    errno = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
    lowered = message.lower()
    if guard.timed_out or sqlstate == "57014" or errno in (1969, 3024):
        return SourceError(
            f"the query exceeded sql_timeout ({timeout:g} s) and was stopped; expected it to "
            f"finish within the limit. {_TIMEOUT_HINT}"
        )
    if (
        sqlstate == "25006"
        or errno in (1792, 1290)
        or "readonly database" in lowered
        or "read-only" in lowered
        or "data-modifying" in lowered
    ):
        return SourceError(
            f"the query tried to write to the database ({message}); mlwright runs queries "
            "read-only, so nothing was changed. Make changes with your database tools, then "
            "query the result."
        )
    return SourceError(
        f"the query failed on {dialect}: {message}; expected a valid SELECT for this database. "
        "Check the query (table and column names, syntax) in your database tool."
    )
