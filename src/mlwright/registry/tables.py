"""The registry's tables. Invariants live here, in constraints the database enforces.

- one version number per model: ``UNIQUE(model_id, version)``;
- one version per alias: the alias row's primary key is ``(model_id, alias)``, and it is moved only
  by compare-and-swap on its ``revision``;
- an alias names an existing version of the same model: a foreign key on ``(model_id, version)``.

Schema changes are Alembic migrations (``migrations/versions``), never ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["aliases", "events", "metadata", "models", "versions"]

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
