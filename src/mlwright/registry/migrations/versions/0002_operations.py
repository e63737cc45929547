"""Operations: the prediction log, labels, monitoring results, alert states, writer sessions, locks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("request_id", sa.String(120), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("prediction", sa.JSON, nullable=True),
        sa.Column("probabilities", sa.JSON, nullable=True),
        sa.Column("rejected", sa.Text, nullable=True),
        sa.Column("flags", sa.JSON, nullable=True),
    )
    op.create_index("ix_predictions_model_at", "predictions", ["model_id", "at"])
    op.create_index("ix_predictions_request", "predictions", ["model_id", "request_id"])
    op.create_table(
        "labels",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("request_id", sa.String(120), primary_key=True),
        sa.Column("actual", sa.JSON, nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("window_start", TZ, nullable=True),
        sa.Column("window_end", TZ, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("labelled", sa.Integer, nullable=False),
        sa.Column("flagged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("report", sa.JSON, nullable=False),
        sa.CheckConstraint("status IN ('ok', 'warning', 'alert')", name="ck_monitor_runs_status"),
    )
    op.create_index("ix_monitor_runs_model_at", "monitor_runs", ["model_id", "at"])
    op.create_table(
        "alerts",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("rule", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("opened_at", TZ, nullable=True),
        sa.Column("cleared_at", TZ, nullable=True),
        sa.Column("notified_at", TZ, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.CheckConstraint("state IN ('open', 'cleared')", name="ck_alerts_state"),
    )
    op.create_table(
        "log_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("writer", sa.String(200), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("heartbeat_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("buffer_rows", sa.Integer, nullable=False),
        sa.Column("flush_interval_s", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("locks", "log_sessions", "alerts", "monitor_runs", "labels", "predictions"):
        op.drop_table(table)
