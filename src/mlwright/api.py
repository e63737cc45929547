"""The front doors: train(), load(), profile(), read_data(); each a few lines over the objects."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlwright.data.profile import Profile, profile_data
from mlwright.data.sources import read_data as _read_data
from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.monitoring.service import (
    FeedbackResult,
    LoggedMonitorResult,
    monitor_logged,
    parse_duration,
    parse_time,
    store_feedback,
)
from mlwright.registry import ModelVersion, Registry, open_registry
from mlwright.search.budget import TimeBudget
from mlwright.settings import Settings, load_settings

__all__ = [
    "feedback",
    "load",
    "locate",
    "monitor",
    "profile",
    "read_data",
    "register",
    "registry",
    "resolve_settings",
    "train",
]

DataLike = str | os.PathLike[str] | pd.DataFrame


def resolve_settings(
    settings: Settings | None = None,
    *,
    project_file: str | Path | None = None,
    data: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    **top: Any,
) -> Settings:
    """Settings from ``settings`` (or the environment and ./mlwright.toml), with overrides."""
    base = settings if settings is not None else load_settings(project_file)
    overrides: dict[str, Any] = {"data": data or {}, "training": training or {}}
    overrides.update({k: v for k, v in top.items() if v is not None})
    return base.with_overrides(**overrides)


def read_data(
    source: DataLike | None = None,
    *,
    query: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Read a file, a DataFrame or a SQL query (``source`` a database URL) into a DataFrame.

    Example:
        >>> df = mlwright.read_data("examples/telco_churn/train.csv")
    """
    settings = settings or Settings()
    src = source if source is not None else settings.data.source
    if src is None:
        raise ConfigError(
            "no data given: pass a file path, a DataFrame or a database URL, "
            "or set [data] source in mlwright.toml."
        )
    return _read_data(
        src, query=query or settings.data.query, settings=settings.data, progress=settings.progress
    )


def train(
    data: DataLike | None = None,
    target: str | None = None,
    *,
    time_limit: float | None = None,
    task: str | None = None,
    metric: str | None = None,
    seed: int | None = None,
    preset: str | None = None,
    deterministic: bool | None = None,
    costs: dict[str, float] | None = None,
    max_latency_ms: float | None = None,
    weight: str | None = None,
    class_weight: str | None = None,
    query: str | None = None,
    settings: Settings | None = None,
) -> Model:
    """Train a model on ``data`` to predict ``target`` within ``time_limit`` seconds.

    Parameters
    ----------
    data:
        A file path (CSV/TSV/Parquet/JSON Lines/Excel), a DataFrame, or a database URL with
        ``query``. Defaults to ``[data] source`` of mlwright.toml.
    target:
        The column to predict.
    time_limit:
        Seconds for the whole run, reading the data included.
    task, metric, seed:
        Override the detected task ("binary", "multiclass", "regression"), the metric and the seed.
    preset:
        "fast" (a good model soon), "balanced" (default) or "best" (the most accurate model the
        time allows).
    deterministic:
        Plan the search in estimated work instead of wall-clock seconds, so that the same data
        and seed give the same model on any machine (the run may then end before or after
        ``time_limit``).
    costs:
        ``{"fp": ..., "fn": ...}``: what a false positive and a missed positive cost (binary
        tasks); the decision threshold minimises the total, and evaluations report it in money.
    max_latency_ms:
        Milliseconds to score one row: the trained ensemble is compacted to meet it (see
        ``Model.compact``).
    weight:
        A column holding each row's weight; learners fit and candidates are ranked on the
        weighted rows. Rows with a missing or negative weight are set aside, with the reason.
    class_weight:
        "balanced" makes a rare class count as much as a common one (multiplied into
        ``weight`` when both are given).

    Returns
    -------
    Model
        The trained model; ``model.leaderboard`` lists every candidate tried.

    Example:
        >>> model = mlwright.train("examples/telco_churn/train.csv", target="Churn", time_limit=30)
    """
    # a file or URL is recorded in the model's settings (its lineage, and what `mlwright
    # retrain` re-reads); a DataFrame has no source to record
    where = None
    if isinstance(data, str | os.PathLike):
        where = str(data)
        if "://" not in where and Path(where).exists():
            where = str(Path(where).resolve())
    settings = resolve_settings(
        settings,
        data={"source": where, "target": target, "query": query, "weight": weight},
        training={
            "class_weight": class_weight,
            "time_limit": time_limit,
            "task": task,
            "metric": metric,
            "seed": seed,
            "preset": preset,
            "deterministic": deterministic,
        },
        costs=costs,
        constraints={"max_latency_ms": max_latency_ms},
    )
    budget = TimeBudget(settings.training.time_limit)
    if settings.data.target is None:
        raise ConfigError(
            "no target given: pass target= (--target) the column to predict, "
            "or set [data] target in mlwright.toml."
        )
    df = read_data(data, settings=settings)
    return Model(settings).fit(df, settings.data.target, budget=budget)


def load(source: str | os.PathLike[str], *, registry: str | None = None) -> Model:
    """Load a model folder saved with ``Model.save``, or a registry reference such as
    ``churn@production``; every file's hash is checked first.

    Example:
        >>> model = mlwright.load("models/churn")
        >>> model = mlwright.load("churn@production")
    """
    path, _ = locate(source, registry=registry)
    return Model.load(path)


def registry(location: str | os.PathLike[str] | None = None) -> Registry:
    """The model registry at ``location`` (a folder or a database URL; default
    ``MLWRIGHT_REGISTRY`` or ``./mlwright-registry``).

    Example:
        >>> reg = mlwright.registry()
        >>> reg.promote("churn", 3, "production", reason="better on March data")
    """
    return open_registry(location)


def register(
    model_dir: str | os.PathLike[str],
    name: str,
    *,
    registry: str | None = None,
    alias: str | None = None,
    reason: str | None = None,
    parent: int | None = None,
    actor: str | None = None,
) -> ModelVersion:
    """Store a saved model folder as the next version of ``name`` in the registry.

    Example:
        >>> v = mlwright.register("models/churn", "churn", alias="staging")
        >>> v.version
        1
    """
    reg = open_registry(registry)
    try:
        return reg.register(model_dir, name, alias=alias, reason=reason, parent=parent, actor=actor)
    finally:
        reg.close()


def locate(
    source: str | os.PathLike[str], *, registry: str | None = None
) -> tuple[Path, ModelVersion | None]:
    """The model folder ``source`` names: a folder as given, or a registry reference resolved.

    A path that exists is a folder; otherwise ``NAME@ALIAS`` / ``NAME@VERSION`` is looked up.
    """
    path = Path(source)
    text = str(source)
    if path.exists() or "@" not in text:
        return path, None
    reg = open_registry(registry)
    try:
        found = reg.resolve(text)
    finally:
        reg.close()
    return found.path, found


def profile(
    data: DataLike | None = None,
    target: str | None = None,
    *,
    query: str | None = None,
    settings: Settings | None = None,
) -> Profile:
    """Profile data quality: roles, missing values, cardinality and leakage suspects.

    Example:
        >>> print(mlwright.profile("examples/telco_churn/train.csv", target="Churn").to_dict())
    """
    settings = resolve_settings(settings, data={"target": target, "query": query})
    if settings.data.target is None:
        raise ConfigError("no target given: pass target= (--target) the column to predict.")
    df = read_data(data, settings=settings)
    return profile_data(df, settings.data.target, seed=settings.training.seed)


def monitor(
    ref: str,
    *,
    since: str | datetime | timedelta | None = None,
    until: str | datetime | None = None,
    window: str | timedelta | None = None,
    alpha: float | None = None,
    store: bool = True,
    alerts: bool = True,
    registry: str | None = None,
    settings: Settings | None = None,
) -> LoggedMonitorResult:
    """Judge the predictions a registered version logged: drift, data quality, performance.

    Parameters
    ----------
    ref:
        ``NAME@ALIAS`` or ``NAME@VERSION``: the version whose logged predictions are judged.
    since, until:
        The range: ISO times, datetimes, or a duration back from now (``"7d"``); default
        ``[monitoring] since`` (the last 7 days) up to now.
    window:
        Also judge and store consecutive windows of this length (``"1d"``, ``"6h"``), for trends.
    alpha:
        Chance that a range where nothing changed is reported as anything but "ok" (1%).
    store, alerts:
        Save the verdicts in the registry, and judge the ``[alerts]`` rules (log and webhook).

    Returns
    -------
    LoggedMonitorResult
        ``status`` ("ok", "warning", "alert"), ``reasons``, and ``to_dict()`` for JSON.

    Example:
        >>> result = mlwright.monitor("churn@production", since="7d", window="1d")
        >>> result.status, result.reasons
    """
    settings = settings if settings is not None else load_settings()
    config = settings.monitoring
    now = datetime.now(UTC)
    start = parse_time(since if since is not None else config.since, now=now)
    end = parse_time(until, now=now) if until is not None else now
    step = window if window is not None else config.window
    reg = open_registry(registry)
    try:
        found = reg.resolve(ref)
        model = Model.load(found.path)
        return monitor_logged(
            reg,
            found.name,
            found.version,
            model.reference_,
            model.schema_,
            since=start,
            until=end,
            window=None if step is None else parse_duration(step),
            alpha=alpha if alpha is not None else config.alpha,
            seed=int(model.info_.get("seed", 0)),
            store=store,
            alert_settings=settings.alerts if alerts else None,
        )
    finally:
        reg.close()


def feedback(
    name: str,
    labels: DataLike,
    *,
    query: str | None = None,
    registry: str | None = None,
    settings: Settings | None = None,
) -> FeedbackResult:
    """Join ground truth to logged predictions: ``labels`` has columns ``request_id`` and
    ``actual`` (a CSV/Parquet file, a DataFrame, or a database URL with ``query``).

    Rows without a request id or an actual value are set aside in ``result.invalid`` with the
    reason; labels for ids not (yet) in the log are stored and counted as unmatched.

    Example:
        >>> result = mlwright.feedback("churn", "labels.csv")
        >>> result.matched, len(result.invalid)
    """
    settings = settings if settings is not None else Settings()
    frame = read_data(labels, query=query, settings=settings)
    source = "dataframe" if isinstance(labels, pd.DataFrame) else Path(str(labels)).name
    if query:
        source = "sql"
    reg = open_registry(registry)
    try:
        return store_feedback(reg, name, frame, source=source)
    finally:
        reg.close()
