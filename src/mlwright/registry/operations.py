"""Operations data in the registry database: the prediction log, labels, monitoring results,
alert states and locks.

The prediction log is written by ``PredictionLog``: callers hand it rows (or a function that
makes them, run off the caller's thread) and return at once; a writer thread inserts them in
batches of up to ``buffer_rows`` at least every ``flush_interval`` seconds. A crash loses at most
what was buffered, and the next writer for the same model finds the dead session (its heartbeat
stopped without a close) and says so, with the time of its last flush.

Example:
    >>> ops = open_registry().operations
    >>> log = PredictionLog(registry, "churn", source="batch")
    >>> log.submit(3, [LoggedRow("b-1", now, {"tenure": 3}, "Yes", [0.3, 0.7])])
    >>> log.close()
    >>> ops.add_labels("churn", ["b-1"], ["No"])
    >>> window = ops.read("churn", since=yesterday)
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import JSON, Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mlwright.errors import RegistryError
from mlwright.registry.database import json_text, write_transaction
from mlwright.registry.tables import alerts, labels, locks, log_sessions, monitor_runs, predictions

if TYPE_CHECKING:
    from mlwright.registry.registry import Registry

__all__ = [
    "AlertState",
    "LabelResult",
    "LoggedRow",
    "LoggedWindow",
    "Operations",
    "PredictionLog",
    "SHADOW_SOURCE",
]

log = logging.getLogger("mlwright.predictions")

_MAX_REQUEST_ID = 120
WRITE_CHUNK = 200  # rows per insert transaction of the prediction log
# the prediction-log writer wakes at most this often while records come in: waking per request
# cost CPU and GIL hand-offs, and a longer wait makes longer stretches holding the GIL
_GATHER_S = 0.02
# the prediction log's source of rows a shadow model scored: second opinions on requests another
# version answered, left out of everything that counts served rows or labels
SHADOW_SOURCE = "shadow"
# a label belongs to the logged predictions of the same model with the same request id
_LABELLED = and_(
    labels.c.model_id == predictions.c.model_id,
    labels.c.request_id == predictions.c.request_id,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class LoggedRow:
    """One scored row for the prediction log.

    ``request_id`` names the row (the REST server answers ``{request}-{i}``); ``inputs`` is the
    row as received (JSON-ready values); ``rejected`` is the reason when it was not scored;
    ``flags`` are guardrail findings (``{"rule": "action", ...}``).
    """

    request_id: str
    at: datetime
    inputs: dict[str, Any]
    prediction: Any = None
    probabilities: list[float] | None = None
    rejected: str | None = None
    flags: dict[str, Any] | None = None


@dataclass(frozen=True)
class LabelResult:
    """What ``add_labels`` did: rows received, how many matched a logged prediction."""

    received: int
    stored: int
    matched: int
    unmatched: list[str]
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the first 100 unmatched ids)."""
        return {
            "received": self.received,
            "stored": self.stored,
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "unmatched_request_ids": self.unmatched[:100],
            "invalid": self.invalid[:100],
        }


@dataclass
class LoggedWindow:
    """Logged predictions of a time range, with their labels where known.

    ``rows`` has one row per logged prediction: ``request_id``, ``at``, ``version``, ``source``,
    ``prediction``, ``probabilities`` (a list per row or None), ``rejected``, ``flags``,
    ``actual`` (None where no label arrived) and ``labelled``; ``inputs`` holds the logged input
    columns, aligned with ``rows``.
    """

    rows: pd.DataFrame
    inputs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labelled(self) -> int:
        """Rows with a label."""
        return int(self.rows["labelled"].sum()) if len(self.rows) else 0


@dataclass(frozen=True)
class AlertState:
    """The state of one alert rule of one model."""

    rule: str
    state: str
    opened_at: datetime | None
    cleared_at: datetime | None
    notified_at: datetime | None
    message: str | None
    details: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rule": self.rule,
            "state": self.state,
            "opened_at": None if self.opened_at is None else self.opened_at.isoformat(),
            "cleared_at": None if self.cleared_at is None else self.cleared_at.isoformat(),
            "notified_at": None if self.notified_at is None else self.notified_at.isoformat(),
            "message": self.message,
            "details": self.details,
        }


class Operations:
    """Reads and writes of the operations tables for one registry (``registry.operations``)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.engine = registry.engine

    # -- prediction log ------------------------------------------------------------------------
    def model_id(self, name: str) -> int:
        """The id of model ``name`` (RegistryError when it is not registered)."""
        with self.engine.connect() as conn:
            return self.registry._model_id(conn, name)

    def write_rows(
        self, model_id: int, version: int | None, source: str, rows: Sequence[LoggedRow]
    ) -> None:
        """Insert logged rows now, in one transaction (``PredictionLog`` batches these).

        The rows go to the database driver's ``executemany`` as tuples, JSON already encoded,
        skipping SQLAlchemy's per-row parameter processing: inserting a one-row request of the
        Telco example took 22 instead of 33 µs of CPU (SQLite, 200 rows per transaction), time
        the writer thread holds the GIL that served requests wait for. The values stored are
        those ``insert(predictions)`` would store (JSON ``null`` for None).
        """
        if not rows:
            return
        sql, stamp = self._insert_plan
        params = []
        last_at: datetime | None = None
        at: Any = None
        for r in rows:
            if r.at is not last_at:  # a request's rows share one timestamp
                last_at, at = r.at, stamp(r.at)
            params.append(
                (
                    model_id,
                    version,
                    r.request_id[:_MAX_REQUEST_ID],
                    at,
                    source,
                    json_text(r.inputs),
                    json_text(r.prediction),
                    json_text(r.probabilities),
                    r.rejected,
                    json_text(r.flags),
                )
            )
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(sql, params)

    @cached_property
    def _insert_plan(self) -> tuple[str, Callable[[datetime], Any]]:
        """The prediction log's INSERT in the driver's parameter style, and the timestamp's
        conversion as SQLAlchemy's column type does it for this dialect."""
        dialect = self.engine.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # PostgreSQL takes JSON text into a json column only by an explicit cast
        json_mark = f"CAST({mark} AS JSON)" if dialect.name == "postgresql" else mark
        columns = [c.name for c in predictions.columns if c.name != "id"]
        marks = [json_mark if isinstance(predictions.c[c].type, JSON) else mark for c in columns]
        sql = f"INSERT INTO {predictions.name} ({', '.join(columns)}) VALUES ({', '.join(marks)})"
        convert = predictions.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        return sql, convert or (lambda value: value)

    def read(
        self,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        version: int | None = None,
        labelled_only: bool = False,
        include_shadow: bool = True,
        limit: int | None = None,
    ) -> LoggedWindow:
        """Logged predictions of ``name`` in ``[since, until)``, oldest first, with labels
        (``include_shadow=False``: only the rows a version answered, not those a shadow
        scored)."""
        model_id = self.model_id(name)
        query = (
            select(
                predictions.c.request_id,
                predictions.c.at,
                predictions.c.version,
                predictions.c.source,
                predictions.c.inputs,
                predictions.c.prediction,
                predictions.c.probabilities,
                predictions.c.rejected,
                predictions.c.flags,
                labels.c.actual,
                labels.c.at.label("labelled_at"),
            )
            .select_from(
                predictions.outerjoin(
                    labels,
                    _LABELLED,
                )
            )
            .where(predictions.c.model_id == model_id)
        )
        if since is not None:
            query = query.where(predictions.c.at >= _utc(since))
        if until is not None:
            query = query.where(predictions.c.at < _utc(until))
        if version is not None:
            query = query.where(predictions.c.version == version)
        if labelled_only:
            query = query.where(labels.c.at.is_not(None))
        if not include_shadow:
            query = query.where(predictions.c.source != SHADOW_SOURCE)
        query = query.order_by(predictions.c.at, predictions.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            fetched = conn.execute(query).all()
        records = [r._asdict() for r in fetched]
        inputs = pd.DataFrame.from_records([r.pop("inputs") or {} for r in records])
        columns = [
            "request_id",
            "at",
            "version",
            "source",
            "prediction",
            "probabilities",
            "rejected",
            "flags",
            "actual",
            "labelled_at",
        ]
        rows = pd.DataFrame.from_records(records, columns=columns)
        rows["at"] = pd.to_datetime(rows["at"], utc=True)
        rows["labelled"] = rows["labelled_at"].notna()
        rows = rows.drop(columns=["labelled_at"])
        return LoggedWindow(rows, inputs)

    def count(self, name: str, *, since: datetime | None = None) -> int:
        """Logged predictions of ``name`` (since ``since``)."""
        from sqlalchemy import func

        model_id = self.model_id(name)
        query = select(func.count()).where(predictions.c.model_id == model_id)
        if since is not None:
            query = query.where(predictions.c.at >= _utc(since))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def purge(self, name: str, older_than: datetime) -> int:
        """Delete logged predictions (and their labels) of ``name`` older than ``older_than``."""
        model_id = self.model_id(name)
        cutoff = _utc(older_than)
        with write_transaction(self.engine) as conn:
            old = (
                select(predictions.c.request_id)
                .where(and_(predictions.c.model_id == model_id, predictions.c.at < cutoff))
                .scalar_subquery()
            )
            conn.execute(
                delete(labels).where(
                    and_(labels.c.model_id == model_id, labels.c.request_id.in_(old))
                )
            )
            result = conn.execute(
                delete(predictions).where(
                    and_(predictions.c.model_id == model_id, predictions.c.at < cutoff)
                )
            )
            return int(result.rowcount or 0)

    # -- labels --------------------------------------------------------------------------------
    def add_labels(
        self,
        name: str,
        request_ids: Iterable[Any],
        actuals: Iterable[Any],
        *,
        source: str | None = None,
    ) -> LabelResult:
        """Store ground truth for logged predictions; a later label for the same id replaces it.

        Labels whose request id is not (yet) in the log are stored too (the log is buffered, so
        a label can overtake its prediction) and counted as unmatched. Rows without a request id
        are invalid: returned, not stored.
        """
        model_id = self.model_id(name)
        pairs: dict[str, Any] = {}
        invalid: list[dict[str, Any]] = []
        received = 0
        for i, (rid, actual) in enumerate(zip(request_ids, actuals, strict=True)):
            received += 1
            text = "" if rid is None or (isinstance(rid, float) and rid != rid) else str(rid)
            text = text.strip()
            if not text or len(text) > _MAX_REQUEST_ID:
                invalid.append(
                    {"row": i, "reason": f"request_id must be 1-{_MAX_REQUEST_ID} characters"}
                )
                continue
            pairs[text] = _json_value(actual)
        now = _now()
        ids = list(pairs)
        matched: set[str] = set()
        with write_transaction(self.engine) as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                matched.update(
                    conn.execute(
                        select(predictions.c.request_id).where(
                            and_(
                                predictions.c.model_id == model_id,
                                predictions.c.request_id.in_(chunk),
                            )
                        )
                    ).scalars()
                )
                conn.execute(
                    delete(labels).where(
                        and_(labels.c.model_id == model_id, labels.c.request_id.in_(chunk))
                    )
                )
            if ids:
                conn.execute(
                    insert(labels),
                    [
                        {
                            "model_id": model_id,
                            "request_id": rid,
                            "actual": pairs[rid],
                            "at": now,
                            "source": source,
                        }
                        for rid in ids
                    ],
                )
        unmatched = [rid for rid in ids if rid not in matched]
        return LabelResult(received, len(ids), len(matched), unmatched, invalid)

    def label_count(
        self,
        name: str,
        *,
        since: datetime | None = None,
        predicted_since: datetime | None = None,
    ) -> int:
        """Labels of ``name`` that match a served prediction (received since ``since``; of a
        prediction made since ``predicted_since``); a request a shadow also scored counts once."""
        from sqlalchemy import func

        model_id = self.model_id(name)
        query = (
            select(func.count())
            .select_from(
                labels.join(
                    predictions,
                    _LABELLED,
                )
            )
            .where(labels.c.model_id == model_id)
            .where(predictions.c.source != SHADOW_SOURCE)
        )
        if since is not None:
            query = query.where(labels.c.at >= _utc(since))
        if predicted_since is not None:
            query = query.where(predictions.c.at >= _utc(predicted_since))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- monitoring results --------------------------------------------------------------------
    def save_monitor_run(
        self,
        name: str,
        *,
        version: int | None,
        window_start: datetime | None,
        window_end: datetime | None,
        status: str,
        rows: int,
        labelled: int,
        flagged: int,
        report: dict[str, Any],
    ) -> int:
        """Store one monitoring result; returns its id."""
        model_id = self.model_id(name)
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(monitor_runs).values(
                    model_id=model_id,
                    version=version,
                    at=_now(),
                    window_start=_utc(window_start),
                    window_end=_utc(window_end),
                    status=status,
                    rows=rows,
                    labelled=labelled,
                    flagged=flagged,
                    report=report,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def monitor_runs(
        self, name: str, *, since: datetime | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored monitoring results of ``name``, oldest first (window start at or after
        ``since``), each with ``at``, ``window_start``, ``window_end``, ``status``, ``rows``,
        ``labelled``, ``flagged`` and the full ``report``."""
        model_id = self.model_id(name)
        query = select(monitor_runs).where(monitor_runs.c.model_id == model_id)
        if since is not None:
            query = query.where(monitor_runs.c.window_start >= _utc(since))
        query = query.order_by(monitor_runs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        out = []
        for row in reversed(found):
            item = row._asdict()
            item.pop("model_id")
            for key in ("at", "window_start", "window_end"):
                item[key] = _utc(item[key])
            out.append(item)
        return out

    # -- alerts --------------------------------------------------------------------------------
    def alerts(self, name: str) -> list[AlertState]:
        """The state of every alert rule of ``name`` that has ever fired."""
        model_id = self.model_id(name)
        with self.engine.connect() as conn:
            found = conn.execute(
                select(alerts).where(alerts.c.model_id == model_id).order_by(alerts.c.rule)
            ).all()
        return [
            AlertState(
                r.rule,
                r.state,
                _utc(r.opened_at),
                _utc(r.cleared_at),
                _utc(r.notified_at),
                r.message,
                r.details,
            )
            for r in found
        ]

    def open_alert(
        self,
        name: str,
        rule: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> bool:
        """Mark ``rule`` open for ``name``; True only if it was not open already (so the caller
        notifies once per episode). The opening is also an ``alert`` audit event."""
        return self._set_alert(name, rule, "open", message, details, version)

    def clear_alert(self, name: str, rule: str, *, version: int | None = None) -> bool:
        """Mark ``rule`` cleared; True only if it was open (an ``alert_cleared`` audit event)."""
        return self._set_alert(name, rule, "cleared", None, None, version)

    def mark_notified(self, name: str, rule: str) -> None:
        """Record that the open alert ``rule`` was delivered."""
        model_id = self.model_id(name)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(alerts)
                .where(and_(alerts.c.model_id == model_id, alerts.c.rule == rule))
                .values(notified_at=_now())
            )

    def _set_alert(
        self,
        name: str,
        rule: str,
        state: str,
        message: str | None,
        details: dict[str, Any] | None,
        version: int | None,
    ) -> bool:
        registry = self.registry

        def write(conn: Connection) -> bool:
            model_id = registry._model_id(conn, name)
            now = _now()
            row = conn.execute(
                select(alerts).where(and_(alerts.c.model_id == model_id, alerts.c.rule == rule))
            ).one_or_none()
            current = None if row is None else row.state
            if state == "open" and current == "open":
                return False
            if state == "cleared" and current != "open":
                return False
            if row is None:
                with conn.begin_nested():
                    conn.execute(
                        insert(alerts).values(
                            model_id=model_id,
                            rule=rule,
                            state=state,
                            revision=1,
                            opened_at=now,
                            message=message,
                            details=details,
                        )
                    )
            else:
                values: dict[str, Any] = {"state": state, "revision": row.revision + 1}
                if state == "open":
                    values.update(
                        opened_at=now,
                        cleared_at=None,
                        notified_at=None,
                        message=message,
                        details=details,
                    )
                else:
                    values["cleared_at"] = now
                moved = conn.execute(
                    update(alerts)
                    .where(
                        and_(
                            alerts.c.model_id == model_id,
                            alerts.c.rule == rule,
                            alerts.c.revision == row.revision,
                        )
                    )
                    .values(**values)
                )
                if moved.rowcount != 1:
                    from mlwright.registry.registry import _Retry

                    raise _Retry
            registry._event(
                conn,
                model_id,
                name,
                "alert" if state == "open" else "alert_cleared",
                "mlwright-monitor",
                version=version,
                reason=message if state == "open" else f"alert '{rule}' cleared",
                details={"rule": rule, **(details or {})} if state == "open" else {"rule": rule},
                now=now,
            )
            return True

        return registry._retrying(write)

    # -- locks ---------------------------------------------------------------------------------
    def acquire_lock(self, lock: str, holder: str, ttl_s: float) -> bool:
        """Take (or renew, for the same holder) the lease ``lock`` for ``ttl_s`` seconds.

        True when ``holder`` holds it afterwards; False when another holder's lease is live.
        An expired lease is taken over, so a runner that died frees the lock after ``ttl_s``.
        """
        now = _now()
        expires = now + timedelta(seconds=ttl_s)
        try:
            with write_transaction(self.engine) as conn:
                row = conn.execute(select(locks).where(locks.c.name == lock)).one_or_none()
                if row is None:
                    conn.execute(
                        insert(locks).values(
                            name=lock, holder=holder, acquired_at=now, expires_at=expires
                        )
                    )
                    return True
                expired = _utc(row.expires_at)
                assert expired is not None
                if row.holder != holder and expired > now:
                    return False
                moved = conn.execute(
                    update(locks)
                    .where(
                        and_(
                            locks.c.name == lock,
                            locks.c.holder == row.holder,
                            locks.c.expires_at == row.expires_at,
                        )
                    )
                    .values(
                        holder=holder,
                        acquired_at=now if row.holder != holder else row.acquired_at,
                        expires_at=expires,
                    )
                )
                return moved.rowcount == 1
        except IntegrityError:
            return False  # another process inserted it first

    def release_lock(self, lock: str, holder: str) -> None:
        """Give up ``lock`` if ``holder`` holds it."""
        with write_transaction(self.engine) as conn:
            conn.execute(delete(locks).where(and_(locks.c.name == lock, locks.c.holder == holder)))

    def lock_holder(self, lock: str) -> tuple[str, datetime] | None:
        """Who holds ``lock`` and until when, or None if free or expired."""
        with self.engine.connect() as conn:
            row = conn.execute(select(locks).where(locks.c.name == lock)).one_or_none()
        if row is None:
            return None
        expires = _utc(row.expires_at)
        assert expires is not None
        return None if expires <= _now() else (row.holder, expires)


def _json_value(value: Any) -> Any:
    """``value`` as a JSON-ready scalar (NumPy scalars unwrapped, NaN as None)."""
    if value is None:
        return None
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_Producer = Sequence[LoggedRow] | Callable[[], Sequence[LoggedRow]]


class PredictionLog:
    """A buffered writer of one model's prediction log, on a background thread.

    ``submit`` never blocks: it queues rows (or a function that makes them) and returns. The
    writer inserts up to ``buffer_rows`` rows per transaction, at least every ``flush_interval``
    seconds. If the queue holds more than ``max_queued_rows`` rows (the database is down or slow)
    new rows are dropped and counted in ``dropped``, rather than slowing predictions or growing
    memory without bound. ``retention_days`` deletes older rows about once an hour.

    A crash loses at most the rows still buffered (``buffer_rows``, or ``flush_interval``
    seconds of traffic). Each writer keeps a session row with a heartbeat; ``start`` reports
    earlier sessions of the same model that stopped without closing, and when they last flushed.
    """

    def __init__(
        self,
        registry: Registry,
        name: str,
        *,
        source: str = "rest",
        buffer_rows: int = 1000,
        flush_interval: float = 1.0,
        max_queued_rows: int = 200_000,
        retention_days: float | None = None,
    ) -> None:
        if buffer_rows < 1 or flush_interval <= 0:
            raise RegistryError(
                f"the prediction log needs buffer_rows >= 1 and flush_interval > 0 (got "
                f"{buffer_rows} and {flush_interval})."
            )
        self.ops = registry.operations
        self.name = name
        self.source = source
        self.buffer_rows = buffer_rows
        self.flush_interval = flush_interval
        self.max_queued_rows = max_queued_rows
        self.retention_days = retention_days
        self.model_id = self.ops.model_id(name)
        self.writer = f"{socket.gethostname()}:{os.getpid()}:{source}"
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.last_error: str | None = None
        self._queue: queue.SimpleQueue[tuple[int | None, _Producer] | None] = queue.SimpleQueue()
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        self._pending = 0  # items submitted and not yet written (or failed)
        self._thread: threading.Thread | None = None
        self._session: int | None = None
        self._last_purge = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Start the writer; returns a message for each earlier writer that died unflushed."""
        if self._thread is not None:
            return []
        found = self._open_session()
        self._thread = threading.Thread(target=self._run, name="mlwright-predlog", daemon=True)
        self._thread.start()
        for message in found:
            log.warning(message)
        return found

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, then stop; the session is marked closed."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "the prediction log did not finish writing within %.0f s; %d row(s) may be lost",
                timeout,
                self._queued_rows,
            )
        self._thread = None
        self._close_session()

    def __enter__(self) -> PredictionLog:
        self.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    def submit(self, version: int | None, rows: _Producer, n_rows: int | None = None) -> bool:
        """Queue rows for the log (``rows`` may be a function run on the writer thread).

        ``n_rows`` sizes a function's output for the queue bound (default: 1). Returns False
        when the rows were dropped because the queue is full.
        """
        size = len(rows) if not callable(rows) else (n_rows or 1)
        with self._lock:
            if self._queued_rows + size > self.max_queued_rows:
                self.dropped += size
                return False
            self._queued_rows += size
            self._pending += 1
        self._queue.put((version, rows))
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return self._pending == 0
                self._flushed.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        batch: dict[int | None, list[LoggedRow]] = {}
        items = 0
        size = 0
        last = time.monotonic()
        stopping = False
        while not stopping:
            timeout = max(0.0, self.flush_interval - (time.monotonic() - last))
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = ()  # type: ignore[assignment]
            if item:
                # records are coming in: let more of them gather, then take them all in one
                # wake-up (a busy server wakes this thread ~50 times a second, not per request)
                time.sleep(min(_GATHER_S, self.flush_interval))
            while True:
                if item is None:
                    stopping = True
                    break
                if item:
                    version, producer = item
                    items += 1
                    try:
                        made = list(producer() if callable(producer) else producer)
                    except Exception as exc:  # a bad record must not stop the log
                        self.failures += 1
                        self.last_error = f"{type(exc).__name__}: {exc}"
                        log.exception("could not turn a request into prediction-log rows")
                        made = []
                    batch.setdefault(version, []).extend(made)
                    size += len(made)
                if size >= self.buffer_rows:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            due = time.monotonic() - last >= self.flush_interval
            if size >= self.buffer_rows or stopping or (due and items):
                self._write(batch, items)
                batch, items, size = {}, 0, 0
                last = time.monotonic()
            elif due:
                last = time.monotonic()
                self._heartbeat()

    def _write(self, batch: dict[int | None, list[LoggedRow]], items: int) -> None:
        written = 0
        for version, rows in batch.items():
            # short transactions: a long insert holds the GIL for a long stretch, which shows
            # in the served requests' tail latency; between two the writer waits on fsync
            step = min(self.buffer_rows, WRITE_CHUNK)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                for attempt in range(3):
                    try:
                        self.ops.write_rows(self.model_id, version, self.source, chunk)
                        written += len(chunk)
                        break
                    except SQLAlchemyError as exc:
                        self.last_error = f"{type(exc).__name__}: {exc}"
                        if attempt == 2:
                            self.failures += 1
                            self.dropped += len(chunk)
                            log.error(
                                "the prediction log could not write %d row(s) after 3 tries: %s",
                                len(chunk),
                                exc,
                            )
                        else:
                            time.sleep(0.2 * (attempt + 1))
        self.written += written
        self._heartbeat(written)
        self._maybe_purge()
        with self._flushed:
            self._queued_rows = max(0, self._queued_rows - sum(len(r) for r in batch.values()))
            self._pending = max(0, self._pending - items)
            self._flushed.notify_all()

    # -- sessions and retention ----------------------------------------------------------------
    def _open_session(self) -> list[str]:
        now = _now()
        # a writer is dead when its heartbeat is older than this (it beats every flush_interval)
        stale = now - timedelta(seconds=max(60.0, 10 * self.flush_interval))
        messages = []
        with write_transaction(self.ops.engine) as conn:
            dead = conn.execute(
                select(log_sessions).where(
                    and_(
                        log_sessions.c.model_id == self.model_id,
                        log_sessions.c.closed_at.is_(None),
                        log_sessions.c.heartbeat_at < stale,
                    )
                )
            ).all()
            for row in dead:
                beat = _utc(row.heartbeat_at)
                assert beat is not None
                note = (
                    f"the prediction-log writer {row.writer} of '{self.name}' stopped without "
                    f"closing; it last wrote at {beat.isoformat(timespec='seconds')}, so "
                    f"predictions it served after that (at most {row.buffer_rows} rows or "
                    f"{row.flush_interval_s:g} s of traffic) are missing from the log."
                )
                messages.append(note)
                conn.execute(
                    update(log_sessions)
                    .where(log_sessions.c.id == row.id)
                    .values(closed_at=now, note=note)
                )
            result = conn.execute(
                insert(log_sessions).values(
                    model_id=self.model_id,
                    writer=self.writer,
                    started_at=now,
                    heartbeat_at=now,
                    rows_written=0,
                    buffer_rows=self.buffer_rows,
                    flush_interval_s=self.flush_interval,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            self._session = int(key[0])
        return messages

    def _heartbeat(self, written: int = 0) -> None:
        if self._session is None:
            return
        try:
            with write_transaction(self.ops.engine) as conn:
                conn.execute(
                    update(log_sessions)
                    .where(log_sessions.c.id == self._session)
                    .values(heartbeat_at=_now(), rows_written=log_sessions.c.rows_written + written)
                )
        except SQLAlchemyError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _close_session(self) -> None:
        if self._session is None:
            return
        try:
            with write_transaction(self.ops.engine) as conn:
                conn.execute(
                    update(log_sessions)
                    .where(log_sessions.c.id == self._session)
                    .values(closed_at=_now(), heartbeat_at=_now())
                )
        except SQLAlchemyError as exc:
            log.error("could not close the prediction-log session: %s", exc)
        self._session = None

    def _maybe_purge(self) -> None:
        if self.retention_days is None or time.monotonic() - self._last_purge < 3600:
            return
        self._last_purge = time.monotonic()
        try:
            removed = self.ops.purge(self.name, _now() - timedelta(days=self.retention_days))
            if removed:
                log.info("prediction log: removed %d row(s) past retention", removed)
        except SQLAlchemyError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"

    def stats(self) -> dict[str, Any]:
        """Rows written, dropped and queued; failures and the last error."""
        return {
            "written": self.written,
            "dropped": self.dropped,
            "queued": self._queued_rows,
            "failures": self.failures,
            "last_error": self.last_error,
            "buffer_rows": self.buffer_rows,
            "flush_interval_s": self.flush_interval,
        }
