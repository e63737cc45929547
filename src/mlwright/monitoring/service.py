"""Monitoring from the prediction log: read a model's logged rows, judge them, store the verdict.

``monitor_logged`` reads the predictions a version served in ``[since, until)`` (with the labels
that arrived since), conforms the logged inputs to the model's schema, takes the logged model
output and judges everything with ``monitor()``. With a ``window`` the range is also cut into
consecutive windows, each judged and stored, so trends can be plotted. Rows the server rejected
and rows that no longer conform are counted as rejected, never dropped. ``store_feedback`` joins
ground truth to logged predictions.

This module sits below ``mlwright.model``: callers pass the model's ``reference_`` and
``schema_`` (``mlwright.monitor("churn@production")`` does that for you).

Example:
    >>> week = datetime.now(UTC) - timedelta(days=7)
    >>> result = monitor_logged(registry, "churn", 3, model.reference_, model.schema_,
    ...                         since=week, window=timedelta(days=1))
    >>> result.status, result.reasons, [w.status for w in result.windows]
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlwright.data.conform import conform
from mlwright.data.schema import Schema
from mlwright.errors import ArtifactError, ConfigError, DataError, MlwrightWarning
from mlwright.monitoring.alerts import AlertEvent, evaluate_alerts, unknown_columns
from mlwright.monitoring.drift import ALPHA, MIN_ROWS
from mlwright.monitoring.reference import ReferenceProfile
from mlwright.monitoring.report import MonitorReport, monitor
from mlwright.registry.operations import LoggedWindow
from mlwright.settings import DURATION, AlertSettings, parse_duration

if TYPE_CHECKING:
    from mlwright.registry import Registry
    from mlwright.registry.operations import Operations

__all__ = [
    "FeedbackResult",
    "LoggedMonitorResult",
    "WindowSummary",
    "monitor_logged",
    "parse_duration",
    "parse_time",
    "store_feedback",
]

MAX_WINDOWS = 1000
_MAX_REQUEST_ID = 120


# -- time ----------------------------------------------------------------------------------------
def parse_time(value: str | datetime | timedelta, *, now: datetime | None = None) -> datetime:
    """A moment in UTC: an ISO date/time (no zone means UTC), or a duration back from ``now``
    (``"7d"`` is seven days ago).

    Example:
        >>> parse_time("2026-03-01T12:00:00+01:00")
        datetime.datetime(2026, 3, 1, 11, 0, tzinfo=datetime.timezone.utc)
    """
    now = _utc(now) or datetime.now(UTC)
    if isinstance(value, datetime):
        return _utc(value) or now
    if isinstance(value, timedelta) or DURATION.match(str(value)):
        return now - parse_duration(value)
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"'{value}' is neither an ISO date/time nor a duration; write e.g. "
            "2026-03-01, 2026-03-01T14:30:00+01:00 (no zone means UTC) or 7d (seven days ago)."
        ) from None
    return _utc(when) or now


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


# -- results -------------------------------------------------------------------------------------
@dataclass
class WindowSummary:
    """The verdict on one window of a windowed run (``run_id`` when it was stored)."""

    start: datetime
    end: datetime
    status: str
    rows: int
    rows_logged: int
    rows_rejected: int
    labelled: int
    flagged: int
    reasons: list[str]
    drifted: list[str]
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "status": self.status,
            "rows": self.rows,
            "rows_logged": self.rows_logged,
            "rows_rejected": self.rows_rejected,
            "labelled": self.labelled,
            "flagged": self.flagged,
            "drifted": list(self.drifted),
            "reasons": list(self.reasons),
            "run_id": self.run_id,
        }


@dataclass
class LoggedMonitorResult:
    """The verdict on a version's logged predictions in ``[since, until)``.

    ``report`` judges the whole range; ``windows`` the consecutive windows when asked for;
    ``alerts`` what the alert rules did; ``guardrails`` counts the per-prediction flags.
    """

    name: str
    version: int | None
    since: datetime | None
    until: datetime
    report: MonitorReport
    rows_logged: int
    labelled: int
    guardrails: dict[str, Any]
    windows: list[WindowSummary] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)

    @property
    def status(self) -> str:
        """ "ok", "warning" or "alert"."""
        return self.report.status

    @property
    def reasons(self) -> list[str]:
        """Why, in sentences."""
        return self.report.reasons

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``mlwright monitor --json`` and ``GET /monitoring``."""
        report = self.report.to_dict()
        head = {
            "model": {"name": self.name, "version": self.version},
            "status": report.pop("status"),
            "reasons": report.pop("reasons"),
            "since": _iso(self.since),
            "until": _iso(self.until),
            "rows": report.pop("rows"),
            "rows_logged": self.rows_logged,
            "rows_rejected": report.pop("rows_rejected"),
            "labelled": self.labelled,
        }
        tail = {
            "guardrails": self.guardrails,
            "windows": [w.to_dict() for w in self.windows],
            "alerts": [a.to_dict() for a in self.alerts],
            "notes": list(self.notes),
            "runs": list(self.runs),
        }
        document: dict[str, Any] = _json_ready({**head, **report, **tail})
        return document


@dataclass
class _Judged:
    report: MonitorReport
    rows_logged: int
    labelled: int
    guardrails: dict[str, Any]
    notes: list[str]


# -- monitoring ----------------------------------------------------------------------------------
def monitor_logged(
    registry: Registry,
    name: str,
    version: int | None,
    reference: ReferenceProfile | None,
    schema: Schema,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    window: timedelta | str | None = None,
    alpha: float = ALPHA,
    seed: int = 0,
    store: bool = True,
    alert_settings: AlertSettings | None = None,
) -> LoggedMonitorResult:
    """Judge the predictions ``name`` version ``version`` logged in ``[since, until)``.

    Parameters
    ----------
    reference, schema:
        The model's ``reference_`` and ``schema_``.
    version:
        The version whose predictions are judged (None: every version's).
    since, until:
        The range (default: everything logged, up to now).
    window:
        Also judge consecutive windows of this length (``"1d"`` or a timedelta), each stored
        for trends; aligned to ``since``, or to whole multiples of ``window`` since 1970.
    store:
        Save the verdicts in the registry (``operations.monitor_runs``) and judge the alert
        rules; False only reads.
    alert_settings:
        The alert rules and webhook, judged on the whole range's verdict (the one printed);
        None judges no alert rules.

    Returns
    -------
    LoggedMonitorResult
        ``status``, ``reasons``, the per-feature report and ``to_dict()`` (the JSON shape).

    Example:
        >>> result = monitor_logged(reg, "churn", 3, model.reference_, model.schema_)
        >>> print(result.status, result.reasons)
    """
    if reference is None:
        raise ArtifactError(
            f"{_ref(name, version)} has no monitoring reference (it was saved by an older "
            "mlwright); retrain it with this version to monitor it."
        )
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha must be between 0 and 0.5, got {alpha}; the default is 0.01.")
    until = _utc(until) or datetime.now(UTC)
    since = _utc(since)
    if since is not None and since >= until:
        raise ConfigError(
            f"the range starts at {_iso(since)} and ends at {_iso(until)}; expected the start "
            "before the end. Check --since and --until."
        )
    ops = registry.operations
    # what the version answered: a version that was a shadow before its promotion also has rows
    # it scored silently, which monitoring of what was served leaves out
    logged = ops.read(name, since=since, until=until, version=version, include_shadow=False)
    judged = _judge(logged, reference, schema, alpha, seed)
    result = LoggedMonitorResult(
        name,
        version,
        since,
        until,
        judged.report,
        judged.rows_logged,
        judged.labelled,
        judged.guardrails,
        notes=judged.notes,
    )
    if judged.rows_logged == 0:
        result.report.reasons = [_nothing_logged(name, version, since, until)]
    first = None if len(logged) == 0 else logged.rows["at"].iloc[0].to_pydatetime()
    if window is not None:
        step = parse_duration(window)
        origin = since or (None if first is None else _aligned(first, step))
        for start, end in _window_bounds(origin, until, step):
            summary, part = _judge_window(logged, start, end, reference, schema, alpha, seed)
            if store and part.rows_logged:
                summary.run_id = _save(ops, name, version, start, end, part)
                result.runs.append(summary.run_id)
            result.windows.append(summary)
    elif store and judged.rows_logged:
        result.runs.append(_save(ops, name, version, since or first, until, judged))
    if alert_settings is not None and store:
        _judge_alerts(registry, result, schema, alert_settings, (since or first, until))
    return result


def _judge_alerts(
    registry: Registry,
    result: LoggedMonitorResult,
    schema: Schema,
    settings: AlertSettings,
    window: tuple[datetime | None, datetime | None],
) -> None:
    report = result.report
    if report.insufficient_data:
        result.notes.append(
            f"Alert rules were not judged: {report.rows} usable row(s) in the range, at least "
            f"{MIN_ROWS} are needed; open alerts stay as they were."
        )
        return
    columns = [*schema.feature_names, "(rows)"]  # "(rows)": the rejected-rows check
    for rule in unknown_columns(settings.rules, columns):
        result.notes.append(
            f"Alert rule '{rule}' names no input column of {result.name}, so it never fires; "
            f"the columns are {schema.feature_names}. Fix [alerts] rules."
        )
    result.alerts = evaluate_alerts(
        registry, result.name, result.version, report, settings, window=window
    )


def _judge(
    logged: LoggedWindow, reference: ReferenceProfile, schema: Schema, alpha: float, seed: int
) -> _Judged:
    rows = logged.rows
    served = rows["rejected"].isna().to_numpy(dtype=bool)
    inputs = logged.inputs.loc[served].reset_index(drop=True)
    for column in schema.feature_names:
        if column not in inputs.columns:  # never sent: every value is missing
            inputs[column] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        conformed = conform(inputs, schema)
    kept = rows.loc[served].iloc[conformed.row_positions]
    notes: list[str] = []
    predictions = _predictions(kept, reference, notes)
    server_rejected = int((~served).sum())
    if server_rejected:
        notes.append(f"{server_rejected} logged row(s) were rejected by the server, not scored.")
    if len(conformed.rejects):
        top = conformed.rejects["_reason"].value_counts().index[0]
        notes.append(
            f"{len(conformed.rejects)} logged row(s) no longer fit the model's schema and were "
            f"counted as rejected (e.g. {top})."
        )
    report = monitor(
        reference,
        conformed.features,
        predictions,
        list(kept["actual"]),
        rows_rejected=server_rejected + len(conformed.rejects),
        alpha=alpha,
        seed=seed,
    )
    labelled = int(kept["labelled"].sum()) if len(kept) else 0
    return _Judged(report, len(rows), labelled, _guardrails(rows["flags"]), notes)


def _predictions(
    kept: pd.DataFrame, reference: ReferenceProfile, notes: list[str]
) -> np.ndarray | None:
    """The logged model output of the judged rows, or None (with a note) where some lack it."""
    values: np.ndarray | None
    if reference.task == "regression" or reference.classes is None:
        values = pd.to_numeric(kept["prediction"], errors="coerce").to_numpy(dtype=float)
        missing = int(np.isnan(values).sum())
    else:
        k = len(reference.classes)
        lists = list(kept["probabilities"])
        missing = sum(not isinstance(p, list) or len(p) != k for p in lists)
        values = np.asarray(lists, dtype=float).reshape(len(lists), k) if not missing else None
    if missing:
        notes.append(
            f"{missing} logged row(s) have no usable model output, so prediction drift and "
            "performance were not judged."
        )
        return None
    return values


def _guardrails(flags: pd.Series) -> dict[str, Any]:
    """Rows flagged by per-prediction guardrails, by rule and by action."""
    rules: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    flagged = 0
    for found in flags:
        if not isinstance(found, dict) or not found:
            continue
        flagged += 1
        for rule, action in found.items():
            rules[str(rule)] += 1
            actions[str(action)] += 1
    return {"flagged": flagged, "rules": dict(rules), "actions": dict(actions)}


def _window_bounds(
    start: datetime | None, until: datetime, window: timedelta
) -> list[tuple[datetime, datetime]]:
    if window <= timedelta(0):
        raise ConfigError(f"window must be positive, got {window}; pass e.g. 1d or 6h.")
    if start is None:
        return []
    count = math.ceil((until - start) / window)
    if count > MAX_WINDOWS:
        raise ConfigError(
            f"the range {_iso(start)} to {_iso(until)} holds {count} windows of {window}; at "
            f"most {MAX_WINDOWS} are judged. Pass a longer --window or a later --since."
        )
    bounds = []
    at = start
    while at < until:
        bounds.append((at, min(at + window, until)))
        at += window
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < window / 100:
        # a sliver left by "since" and "until" read a moment apart joins the window before it
        bounds[-2:] = [(bounds[-2][0], until)]
    return bounds


def _aligned(first: datetime, window: timedelta) -> datetime:
    """``first`` rounded down to a whole multiple of ``window`` since 1970 (UTC days, hours)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return first - (first - epoch) % window


def _judge_window(
    logged: LoggedWindow,
    start: datetime,
    end: datetime,
    reference: ReferenceProfile,
    schema: Schema,
    alpha: float,
    seed: int,
) -> tuple[WindowSummary, _Judged]:
    at = logged.rows["at"]
    mask = ((at >= pd.Timestamp(start)) & (at < pd.Timestamp(end))).to_numpy(dtype=bool)
    part = LoggedWindow(
        logged.rows.loc[mask].reset_index(drop=True),
        logged.inputs.loc[mask].reset_index(drop=True) if len(logged.inputs) else logged.inputs,
    )
    judged = _judge(part, reference, schema, alpha, seed)
    report = judged.report
    reasons = report.reasons if judged.rows_logged else ["No predictions were logged."]
    summary = WindowSummary(
        start,
        end,
        report.status,
        report.rows,
        judged.rows_logged,
        report.rows_rejected,
        judged.labelled,
        judged.guardrails["flagged"],
        list(reasons),
        [f.name for f in report.drift.drifted],
    )
    return summary, judged


def _save(
    ops: Operations,
    name: str,
    version: int | None,
    start: datetime | None,
    end: datetime,
    judged: _Judged,
) -> int:
    document = {
        **judged.report.to_dict(),
        "rows_logged": judged.rows_logged,
        "labelled": judged.labelled,
        "guardrails": judged.guardrails,
        "notes": judged.notes,
    }
    return ops.save_monitor_run(
        name,
        version=version,
        window_start=start,
        window_end=end,
        status=judged.report.status,
        rows=judged.report.rows,
        labelled=judged.labelled,
        flagged=int(judged.guardrails["flagged"]),
        report=_json_ready(document),
    )


def _ref(name: str, version: int | None) -> str:
    return name if version is None else f"{name}@{version}"


def _nothing_logged(name: str, version: int | None, since: datetime | None, until: datetime) -> str:
    span = f"between {_iso(since)} and {_iso(until)}" if since else f"before {_iso(until)}"
    return (
        f"No predictions were logged for {_ref(name, version)} {span}, so there is nothing to "
        "judge (status ok, insufficient data). Predictions are logged when this version serves "
        f"(`mlwright serve {name}@ALIAS`) or scores batches from the registry; check that they "
        "use this registry, or widen the range with --since/--until."
    )


def _json_ready(value: Any) -> Any:
    """``value`` with non-finite floats as None and NumPy scalars unwrapped (JSON columns)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- feedback ------------------------------------------------------------------------------------
@dataclass
class FeedbackResult:
    """What ``store_feedback`` did: rows received, labels stored, how many matched a logged
    prediction, and the rows set aside (``invalid``: the input rows with ``_row``, ``_reason``)."""

    name: str
    received: int
    stored: int
    matched: int
    unmatched: list[str]
    invalid: pd.DataFrame
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the first 100 unmatched ids and invalid rows)."""
        shown = self.invalid.head(100)
        document: dict[str, Any] = _json_ready(
            {
                "name": self.name,
                "received": self.received,
                "stored": self.stored,
                "matched": self.matched,
                "unmatched": len(self.unmatched),
                "unmatched_request_ids": self.unmatched[:100],
                "invalid": len(self.invalid),
                "invalid_rows": [
                    {"row": int(r), "reason": str(why)}
                    for r, why in zip(shown["_row"], shown["_reason"], strict=True)
                ],
                "duplicates": self.duplicates,
            }
        )
        return document


def store_feedback(
    registry: Registry, name: str, labels: pd.DataFrame, *, source: str | None = None
) -> FeedbackResult:
    """Store the ground truth in ``labels`` (columns ``request_id`` and ``actual``) for the
    logged predictions of ``name``; a later label for the same request replaces the earlier.

    Rows without a request id or an actual value are set aside with the reason, not stored.
    Labels whose request id is not in the log (yet) are stored and counted as unmatched.

    Example:
        >>> store_feedback(reg, "churn", pd.read_csv("labels.csv")).to_dict()
    """
    missing = [c for c in ("request_id", "actual") if c not in labels.columns]
    if missing:
        raise DataError(
            f"the labels have no column(s) {missing}; columns are {list(labels.columns)[:20]}. "
            "Expected a request_id column (the id each prediction was answered with) and an "
            "actual column (the true outcome), e.g. a CSV with the header 'request_id,actual'."
        )
    ids = labels["request_id"].map(_text)
    actual = labels["actual"].map(lambda v: None if _text(v) is None else v)
    reasons = pd.Series("", index=labels.index, dtype=object)
    reasons[ids.isna()] = "request_id is missing"
    too_long = ids.notna() & (ids.fillna("").str.len() > _MAX_REQUEST_ID)
    reasons[too_long] = f"request_id is longer than {_MAX_REQUEST_ID} characters"
    reasons[actual.isna() & (reasons == "")] = "actual is missing"
    bad = (reasons != "").to_numpy(dtype=bool)
    invalid = labels.loc[bad].copy()
    invalid.insert(0, "_row", np.flatnonzero(bad).astype(np.int64))
    invalid["_reason"] = reasons[bad].to_numpy()
    good_ids = list(ids[~bad])
    stored = registry.operations.add_labels(name, good_ids, list(actual[~bad]), source=source)
    return FeedbackResult(
        name,
        len(labels),
        stored.stored,
        stored.matched,
        list(stored.unmatched),
        invalid.reset_index(drop=True),
        duplicates=len(good_ids) - len(set(good_ids)),
    )


def _text(value: Any) -> str | None:
    """``value`` as stripped text, None when missing or blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # request ids read as numbers: 17.0 is "17"
    text = str(value).strip()
    return text or None
