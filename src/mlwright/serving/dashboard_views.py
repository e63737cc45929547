"""What the dashboard pages show, read from the registry without touching the prediction log.

Each page reads stored things only: versions, aliases and the audit log, the stored monitoring
windows (``operations.monitor_runs``), alert states and indexed counts. Charts of the monitoring
windows are drawn once per (model, newest window) and kept in a small LRU cache; a new window
changes the key, so a page never shows stale charts and never redraws unchanged ones.

Example:
    >>> rows = model_rows(registry)
    >>> charts = monitoring_charts(registry.operations.monitor_runs("churn", limit=200))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from mlwright.registry import Event, ModelVersion, Registry
from mlwright.report.monitoring import monitoring_charts

__all__ = [
    "LRU",
    "AliasRow",
    "alias_rows",
    "model_rows",
    "monitoring_charts",
    "primary_metric",
]

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LRU(Generic[_K, _V]):
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: _K) -> _V | None:
        """The cached value of ``key`` (marked as used), or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def get_or_make(self, key: _K, make: Callable[[], _V]) -> _V:
        """The cached value of ``key``, made (outside the lock) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


def model_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per model: versions, aliases, the latest stored monitoring window, open alerts."""
    ops = registry.operations
    rows = []
    for summary in registry.models():
        last = ops.monitor_runs(summary.name, limit=1)
        alerts = ops.alerts(summary.name)
        rows.append(
            {
                "name": summary.name,
                "versions": summary.versions,
                "latest": summary.latest,
                "aliases": sorted(summary.aliases.items()),
                "updated_at": summary.updated_at,
                "last_run": last[0] if last else None,
                "open_alerts": sum(a.state == "open" for a in alerts),
            }
        )
    return rows


def primary_metric(version: ModelVersion) -> dict[str, Any] | None:
    """The version's primary cross-validated metric (name, value, low, high) or None."""
    metrics = version.metrics or {}
    primary = metrics.get("primary") or version.metric
    found = (metrics.get("cv") or {}).get(primary)
    return found if isinstance(found, dict) else None


@dataclass(frozen=True)
class AliasRow:
    """An alias, the version it names, and the version a roll back would restore (None when
    there is no earlier version, or it is archived)."""

    alias: str
    version: int
    previous: int | None
    moved_at: datetime | None
    moved_by: str | None


def alias_rows(versions: Sequence[ModelVersion], events: Sequence[Event]) -> list[AliasRow]:
    """The aliases of a model with their roll-back target: the version the alias named before
    its last move (``events`` oldest first)."""
    ready = {v.version for v in versions if v.status == "ready"}
    current = {a: v.version for v in versions for a in v.aliases}
    last: dict[str, Event] = {}
    for entry in events:
        if entry.alias is not None and entry.action in ("promote", "remove_alias"):
            last[entry.alias] = entry
    out = []
    for alias, number in sorted(current.items()):
        event = last.get(alias)
        previous = None
        if event is not None and event.action == "promote" and event.version == number:
            before = event.previous_version
            previous = before if before in ready and before != number else None
        out.append(
            AliasRow(
                alias,
                number,
                previous,
                None if event is None else event.at,
                None if event is None else event.actor,
            )
        )
    return out


# -- charts of the stored monitoring windows -----------------------------------------------------
