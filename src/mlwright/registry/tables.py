"""The registry's tables. Invariants live here, in constraints the database enforces.

- one version number per model: ``UNIQUE(model_id, version)``;
- one version per alias: the alias row's primary key is ``(model_id, alias)``, and it is moved only
  by compare-and-swap on its ``revision``;
- an alias names an existing version of the same model: a foreign key on ``(model_id, version)``.

The operations tables (migration 0002) hold what happens after deployment:

- ``predictions``: one row per scored row (REST or batch), keyed by its row request id;
- ``labels``: ground truth that arrived later, one per (model, request id), the latest wins;
- ``monitor_runs``: every monitoring result, so trends can be plotted;
- ``alerts``: the current state of each alert rule per model (open or cleared), so the same alert
  is not sent twice; openings and clearings are also audit events;
- ``log_sessions``: each process writing the prediction log, so one that died without flushing
  is found and reported;
- ``locks``: named leases (the background retraining runner takes one).

Schema changes are Alembic migrations (``migrations/versions``), never ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alerts",
    "aliases",
    "events",
    "labels",
    "locks",
    "log_sessions",
    "metadata",
    "models",
    "monitor_runs",
    "predictions",
    "versions",
]

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("last_version", Integer, nullable=False, default=0),
    Column("description", Text, nullable=True),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("status", String(20), nullable=False, default="ready"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("parent_version", Integer, nullable=True),
    Column("task", String(40), nullable=True),
    Column("metric", String(40), nullable=True),
    Column("source", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("code", JSON, nullable=False),
    Column("note", Text, nullable=True),
    UniqueConstraint("model_id", "version", name="uq_versions_model_version"),
    CheckConstraint("version >= 1", name="ck_versions_positive"),
    CheckConstraint("status IN ('ready', 'archived')", name="ck_versions_status"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["versions.model_id", "versions.version"],
        name="fk_aliases_version",
    ),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False, index=True),
    Column("version", Integer, nullable=True),
    Column("alias", String(100), nullable=True),
    Column("previous_version", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", JSON, nullable=True),
)

# BigInteger on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite
_ID = BigInteger().with_variant(Integer, "sqlite")

predictions = Table(
    "predictions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=True),
    Column("request_id", String(120), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("source", String(20), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("prediction", JSON, nullable=True),
    Column("probabilities", JSON, nullable=True),
    Column("rejected", Text, nullable=True),
    Column("flags", JSON, nullable=True),
    Index("ix_predictions_model_at", "model_id", "at"),
    Index("ix_predictions_request", "model_id", "request_id"),
)

labels = Table(
    "labels",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("request_id", String(120), primary_key=True),
    Column("actual", JSON, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("source", String(200), nullable=True),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("labelled", Integer, nullable=False),
    Column("flagged", Integer, nullable=False, default=0),
    Column("report", JSON, nullable=False),
    CheckConstraint("status IN ('ok', 'warning', 'alert')", name="ck_monitor_runs_status"),
    Index("ix_monitor_runs_model_at", "model_id", "at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("rule", String(100), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("cleared_at", DateTime(timezone=True), nullable=True),
    Column("notified_at", DateTime(timezone=True), nullable=True),
    Column("message", Text, nullable=True),
    Column("details", JSON, nullable=True),
    CheckConstraint("state IN ('open', 'cleared')", name="ck_alerts_state"),
)

log_sessions = Table(
    "log_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("writer", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("rows_written", BigInteger, nullable=False, default=0),
    Column("buffer_rows", Integer, nullable=False),
    Column("flush_interval_s", Float, nullable=False),
    Column("note", Text, nullable=True),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
