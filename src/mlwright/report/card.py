"""The model card: what the model is for, what it was trained and evaluated on, how well it does
(also per group of the sensitive columns), its limits, lineage and approvals.

Fields only the owner can know (intended use, out-of-scope uses, owner, ethical considerations)
are never invented: they are marked for the owner to fill in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlwright.data.schema import Role
from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.registry import Event, ModelVersion, Registry
from mlwright.registry.database import redact_url
from mlwright.report.evidence import Rows, fmt, time_range
from mlwright.report.segments import Segment, group_masks, measure_groups

__all__ = ["OWNER_FIELDS", "CardFacts", "card_facts"]

# what the owner writes, and the hint shown until they do
OWNER_FIELDS = {
    "intended_use": "who uses the predictions, for which decision, and how often",
    "out_of_scope": "uses the model must not be put to (other populations, other decisions)",
    "owner": "the team or person answerable for the model, and how to reach them",
    "ethical_considerations": "who could be harmed by a wrong prediction and how that is mitigated",
}
SMALL_DATA = 1000


@dataclass
class SensitiveResult:
    """The metric per group of one sensitive column, and the gap between the groups."""

    column: str
    groups: list[Segment]
    gap: float | None
    note: str = ""


@dataclass
class CardFacts:
    """Everything the card says, for the Markdown and the HTML templates alike."""

    title: str
    model: dict[str, Any]
    owner: dict[str, str | None]
    training: dict[str, Any]
    evaluation: str
    metrics: list[dict[str, Any]]
    sensitive: list[SensitiveResult]
    limitations: list[str]
    lineage: dict[str, Any] | None
    approvals: list[Event] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    hints: dict[str, str] = field(default_factory=lambda: dict(OWNER_FIELDS))


def card_facts(
    model: Model,
    rows: Rows,
    *,
    this: ModelVersion | None = None,
    registry: Registry | None = None,
    sensitive: Sequence[str] = (),
    weak: Sequence[Segment] = (),
    approvals: Sequence[Event] = (),
) -> CardFacts:
    """Gather the card's facts for ``model`` measured on ``rows``."""
    columns = list(sensitive) or list(model.settings.constraints.sensitive_columns)
    title = this.ref if this is not None else f"{model.info_['target']} model"
    info = model.info_
    source = model.settings.data.source
    training = {
        "source": (this.source.get("source") if this else None)
        or (redact_url(source) if source else "not recorded (a DataFrame in memory)"),
        "query": model.settings.data.query,
        "fingerprint": info.get("data_fingerprint"),
        "rows": info.get("rows"),
        "rows_used": info.get("rows_used"),
        "rows_rejected": info.get("rows_rejected"),
        "time_range": time_range(model, rows),
        "features": len(model.schema_.features),
        "dropped": [f"{c.name} ({c.reason or c.role.value})" for c in model.schema_.dropped],
    }
    facts = CardFacts(
        title=title,
        model={
            "task": model.task_,
            "target": info["target"],
            "classes": model.classes_,
            "metric": model.metric_,
            "threshold": model.threshold_,
            "version": None if this is None else this.version,
            "created_at": None if this is None else f"{this.created_at:%Y-%m-%d %H:%M} UTC",
            "created_by": None if this is None else this.created_by,
            "members": getattr(model.predictor_, "member_names", []),
        },
        owner={key: getattr(model.settings.card, key, None) for key in OWNER_FIELDS},
        training=training,
        evaluation=rows.description,
        metrics=[
            {
                "name": m.name,
                "value": fmt(m.value, 4),
                "low": fmt(m.low, 4),
                "high": fmt(m.high, 4),
                "direction": "higher is better" if m.greater_is_better else "lower is better",
            }
            for m in rows.evaluation.metrics
        ],
        sensitive=[_sensitive(model, rows, column) for column in columns],
        limitations=limitations(model, rows, weak),
        lineage=None if this is None else _lineage(this),
        approvals=list(approvals),
        versions=[] if registry is None or this is None else registry.versions(this.name),
    )
    return facts


def _sensitive(model: Model, rows: Rows, column: str) -> SensitiveResult:
    values, role = _column(model, rows, column)
    if values is None:
        where = "the given rows" if rows.kind == "data" else "the model's inputs"
        return SensitiveResult(
            column,
            [],
            None,
            f"'{column}' is not among {where}; pass labelled rows that hold it (--data) to "
            "measure the model per group.",
        )
    if not rows.available:
        return SensitiveResult(column, [], None, "no row-level predictions to measure groups on")
    assert rows.y is not None and rows.scores is not None
    masks = group_masks(values, role, min_rows=1)
    groups = measure_groups(
        model, rows.y, rows.scores, [(column, label, mask) for label, mask in masks]
    )
    measured = [g for g in groups if math.isfinite(g.value) and g.rows >= 30]
    gap = max(g.value for g in measured) - min(g.value for g in measured) if measured else None
    note = "Groups with fewer than 30 rows are listed but too small to judge."
    return SensitiveResult(column, groups, gap, note if len(measured) < len(groups) else "")


def _column(model: Model, rows: Rows, column: str) -> tuple[pd.Series | None, Role | None]:
    role = None
    try:
        role = model.schema_[column].role
    except KeyError:
        pass
    if rows.frame is not None and column in rows.frame.columns:
        return rows.frame[column].reset_index(drop=True), role
    if rows.raw is not None and column in rows.raw.columns:
        raw = rows.raw[column].reset_index(drop=True)
        numbers = pd.to_numeric(raw, errors="coerce")
        if numbers.notna().sum() == raw.notna().sum() and numbers.nunique() > 4:
            return numbers, Role.NUMERIC
        return raw, Role.CATEGORICAL
    if rows.kind == "oof" and role is None:
        raise ConfigError(
            f"sensitive column '{column}' is not a column of the training data; its columns "
            f"are {[c.name for c in model.schema_.columns][:20]}. Check the spelling."
        )
    return None, role


def limitations(model: Model, rows: Rows, weak: Sequence[Segment]) -> list[str]:
    """What the findings say the model is not good at, or should not be trusted for."""
    out = []
    for seg in [s for s in weak if s.worse][:5]:
        out.append(
            f"Weaker on {seg.label} ({seg.rows:,} rows): {seg.metric or model.metric_} "
            f"{fmt(seg.value)} ({fmt(seg.low)} to {fmt(seg.high)}) against {fmt(seg.rest)} on "
            "the other rows."
        )
    for suspect in model.info_.get("suspects") or []:
        out.append(f"Data: column '{suspect['column']}' ({suspect['kind']}): {suspect['detail']}.")
    for warning in model.info_.get("warnings") or []:
        out.append(f"Data: {warning}")
    used = int(model.info_.get("rows_used") or 0)
    if used < SMALL_DATA:
        out.append(
            f"Small data: trained on {used:,} rows, so its estimates are uncertain (see the "
            "intervals) and rare cases may be missed."
        )
    if model.task_ != "regression" and rows.evaluation.confusion is not None:
        counts = rows.evaluation.confusion.to_numpy().sum(axis=1)
        if counts.min() < 0.1 * counts.sum():
            out.append(
                f"Imbalanced classes: the rarest class is {100 * counts.min() / counts.sum():.0f}"
                "% of the rows; results for it rest on few examples."
            )
    refit: list[str] = getattr(model.predictor_, "refitted", [])
    if refit and rows.kind == "oof":
        out.append(
            f"The served model refits {', '.join(refit)} once on all training rows; the "
            "cross-validated results above were measured on the fold models they replace (the "
            "usual estimate: a refit learns from more rows). Pass held-out data to measure it "
            "directly."
        )
    out.append(
        "Measured on data like the training data: rows from another population, period or "
        "process may behave differently; monitor drift after deployment."
    )
    return out


def _lineage(this: ModelVersion) -> dict[str, Any]:
    return {
        "version": this.version,
        "digest": this.digest,
        "parent": this.parent_version,
        "created_by": this.created_by,
        "created_at": f"{this.created_at:%Y-%m-%d %H:%M} UTC",
        "status": this.status,
        "aliases": ", ".join(this.aliases) or "none",
        "note": this.note,
        "source": this.source,
        "code": ", ".join(f"{k} {v}" for k, v in (this.code or {}).items()),
    }
