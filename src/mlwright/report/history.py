"""What the registry knows about a version: the production version before it and how they
compare, how it has behaved since it was deployed, its lineage and who approved it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlwright.comparison import compare_scores, scores_in_order
from mlwright.errors import MlwrightError
from mlwright.evaluation import Comparison, get_metric
from mlwright.model import Model
from mlwright.registry import Event, ModelVersion, Registry
from mlwright.registry.operations import AlertState
from mlwright.report.charts import Chart
from mlwright.report.evidence import Rows, fmt
from mlwright.report.monitoring import monitoring_charts

__all__ = ["Deployment", "Previous", "approvals", "deployment", "previous_version"]

PRODUCTION = "production"


@dataclass
class Previous:
    """The version compared with, how it relates, metric rows and an optional paired test."""

    version: ModelVersion
    relation: str
    table: list[dict[str, Any]]
    sentence: str
    paired: Comparison | None = None


@dataclass
class Deployment:
    """Behaviour since the version went to production: stored monitoring windows, alerts,
    retraining decisions and the logged predictions and labels."""

    since: datetime | None
    runs: list[dict[str, Any]]
    alerts: list[AlertState]
    retrains: list[Event]
    logged: int
    labelled: int
    charts: list[Chart] = field(default_factory=list)
    summary: str = ""


def previous_version(registry: Registry, this: ModelVersion) -> tuple[ModelVersion, str] | None:
    """The version production pointed at before ``this`` (or, for a version never in
    production, the one it points at now); None for the first."""
    moves = registry.history(this.name, alias=PRODUCTION)
    for event in reversed(moves):
        if event.action == "promote" and event.version == this.version:
            if event.previous_version is None or event.previous_version == this.version:
                return None
            found = registry.get(this.name, event.previous_version, allow_archived=True)
            return found, "the version in production before it"
    current = [e for e in moves if e.action == "promote"]
    if current and PRODUCTION not in this.aliases:
        try:
            found = registry.get(this.name, PRODUCTION)
        except MlwrightError:
            return None
        if found.version != this.version:
            return found, "the version in production now"
    return None


def compare_previous(
    model: Model, this: ModelVersion, other: ModelVersion, relation: str, rows: Rows
) -> Previous:
    """Cross-validated metrics side by side; on given rows also a paired test of both models."""
    mine = this.metrics.get("cv", {}) or {}
    theirs = other.metrics.get("cv", {}) or {}
    table = []
    for metric_name, entry in mine.items():
        if metric_name not in theirs:
            continue
        old = theirs[metric_name]
        table.append(
            {
                "metric": metric_name,
                "this": _interval(entry),
                "previous": _interval(old),
                "change": _num(entry.get("value")) - _num(old.get("value")),
                "clear": _separate(entry, old),
            }
        )
    primary = model.metric_
    head = next((r for r in table if r["metric"] == primary), None)
    if head is None:
        sentence = (
            f"Version {other.version} ({relation}) was scored on other metrics, so the two "
            "cannot be compared here."
        )
    else:
        greater = get_metric(primary, model.task_).greater_is_better
        better = (head["change"] > 0) == greater
        word = "better" if better else "worse"
        certainty = (
            "the intervals do not overlap"
            if head["clear"]
            else "the intervals overlap, so the difference may be chance"
        )
        change = "the same" if abs(head["change"]) < 1e-12 else f"{fmt(abs(head['change']))} {word}"
        sentence = (
            f"Compared with version {other.version} ({relation}), this version's cross-validated "
            f"{primary} is {change} ({certainty}; each measured on its own training data)."
        )
    previous = Previous(other, relation, table, sentence)
    if rows.kind == "data" and rows.available and rows.frame is not None:
        previous.paired = _paired(model, other, rows)
    return previous


def _paired(model: Model, other: ModelVersion, rows: Rows) -> Comparison | None:
    """Both models on the same given rows: the paired bootstrap the retraining decision uses,
    each model at its own threshold and the previous one's classes put in this one's order."""
    assert rows.y is not None and rows.scores is not None and rows.raw is not None
    try:
        old = Model.load(other.path)
        old_scores = scores_in_order(old, rows.raw, model.classes_)
    except (MlwrightError, KeyError, ValueError):
        return None  # another schema or a missing artifact: the cv comparison stands alone
    comparison, _ = compare_scores(
        model,
        old,
        old_scores,
        rows.scores,
        rows.y,
        names=(f"version {other.version}", "this version"),
        alpha=0.05,
        n_boot=1000,
    )
    return comparison


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _interval(entry: dict[str, Any]) -> str:
    return f"{fmt(entry.get('value'))} ({fmt(entry.get('low'))} to {fmt(entry.get('high'))})"


def _separate(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _num(a.get("low")) > _num(b.get("high")) or _num(b.get("low")) > _num(a.get("high"))


def approvals(registry: Registry, this: ModelVersion) -> list[Event]:
    """Every alias move to ``this`` version (who, when, why), oldest first."""
    return [
        e
        for e in registry.history(this.name)
        if e.action == "promote" and e.version == this.version
    ]


def deployment(registry: Registry, this: ModelVersion, model: Model) -> Deployment | None:
    """Monitoring since ``this`` went to production; None when it never logged predictions."""
    ops = registry.operations
    moves = [e for e in approvals(registry, this) if e.alias == PRODUCTION]
    since = moves[0].at if moves else None
    # the log counts by time: only a version that went to production owns a span of it
    logged = ops.count(this.name, since=since) if since is not None else 0
    # windows of this version (a window may start before the promotion: they are aligned)
    runs = [
        r
        for r in ops.monitor_runs(this.name)
        if r.get("version") == this.version
        or (r.get("version") is None and since is not None and r["at"] >= since)
    ]
    if logged == 0 and not runs:
        return None
    retrains = [
        e
        for e in registry.history(this.name)
        if e.action == "retrain" and (since is None or e.at >= since)
    ]
    found = Deployment(
        since=since,
        runs=runs,
        alerts=ops.alerts(this.name),
        retrains=retrains,
        logged=logged,
        # outcomes of the predictions counted above, whenever they arrived
        labelled=ops.label_count(this.name, predicted_since=since) if since is not None else 0,
    )
    found.charts = [
        chart
        for key, chart in monitoring_charts(runs, model.metric_)
        if key in ("performance", "drift")
    ]
    statuses = [str(r["status"]) for r in runs]
    if statuses:
        found.summary = (
            f"{len(runs)} monitoring window(s) stored: {statuses.count('ok')} ok, "
            f"{statuses.count('warning')} warning, {statuses.count('alert')} alert; the latest "
            f"is {statuses[-1]}."
        )
    else:
        found.summary = (
            "No monitoring window is stored yet: run `mlwright monitor NAME@production "
            "--window 1d` (or serve with the runner) to judge the logged predictions."
        )
    return found
