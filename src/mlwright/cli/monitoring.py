"""``mlwright monitor`` and ``mlwright feedback``: judge logged predictions, join ground truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlwright.api import feedback as store_feedback
from mlwright.api import monitor
from mlwright.cli.output import emit
from mlwright.cli.registry import JSON_HELP, REGISTRY_HELP
from mlwright.errors import ConfigError
from mlwright.monitoring import FeedbackResult, LoggedMonitorResult

__all__ = ["register"]

_STYLE = {"ok": "bold green", "warning": "bold yellow", "alert": "bold red"}
_LEVEL = {"ok": 0, "warning": 1, "alert": 2}
EXIT_FAILED_CHECK = 2


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("monitor")(monitor_cmd)
    app.command("feedback")(feedback_cmd)


def monitor_cmd(
    ref: str = typer.Argument(..., help="NAME@ALIAS or NAME@VERSION, e.g. churn@production."),
    since: str = typer.Option(
        None,
        "--since",
        help="Start: ISO time (no zone means UTC) or a duration back from now, e.g. 24h "
        "[default: [monitoring] since, 7d].",
    ),
    until: str = typer.Option(None, "--until", help="End (excluded): ISO time [default: now]."),
    window: str = typer.Option(
        None, "--window", help="Also judge and store windows of this length: 1d, 6h, 30m."
    ),
    alpha: float = typer.Option(
        None, "--alpha", help="False-alarm rate of a range where nothing changed [0.01]."
    ),
    store: bool = typer.Option(
        True, "--store/--no-store", help="Save the verdicts and judge the alert rules."
    ),
    fail_on: str = typer.Option(
        None,
        "--fail-on",
        help="Exit with status 2 when the status is this bad or worse: warning or alert "
        "(for cron jobs); the report is printed either way.",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Judge the predictions a model version logged: per-feature drift, data quality and
    performance (realized where labels arrived, estimated where not) against its training data.

    Prints the status (ok, warning or alert) with its reasons; alert rules of [alerts] in
    mlwright.toml are judged, logged and sent to the webhook once per episode. The exit status is
    0 whatever the verdict (it is a report) unless --fail-on says otherwise; 1 on errors.

    Example:
        mlwright monitor churn@production --since 2026-03-01 --window 1d
        mlwright monitor churn@production --since 24h --json --fail-on alert
    """
    if fail_on is not None and fail_on not in ("warning", "alert"):
        raise ConfigError(f"--fail-on must be warning or alert, got '{fail_on}'.")
    result = monitor(
        ref,
        since=since,
        until=until,
        window=window,
        alpha=alpha,
        store=store,
        registry=registry,
    )
    emit(as_json, result.to_dict(), *_monitor_view(result))
    if fail_on is not None and _LEVEL[result.status] >= _LEVEL[fail_on]:
        raise typer.Exit(EXIT_FAILED_CHECK)


def _monitor_view(result: LoggedMonitorResult) -> list[RenderableType]:
    report = result.report
    version = "" if result.version is None else f"@{result.version}"
    span = f"{_when(result.since) if result.since else 'start'} → {_when(result.until)}"
    head = Text.assemble(
        (f"{result.name}{version}", "bold"),
        f"  {span}  ·  {report.rows} rows judged of {result.rows_logged} logged"
        f" ({report.rows_rejected} rejected), {result.labelled} labelled",
    )
    status = Text.assemble(("status: ", "bold"), (result.status.upper(), _STYLE[result.status]))
    reasons = Text("\n".join(f"• {r}" for r in result.reasons))
    views: list[RenderableType] = [head, status, reasons]
    if report.rows:
        views.append(_features_table(result))
    if report.performance is not None and report.performance.checks:
        views.append(_performance_table(result))
    guard = result.guardrails
    if guard.get("flagged"):
        rules = ", ".join(f"{k} {v}" for k, v in sorted(guard["rules"].items()))
        views.append(Text(f"guardrails: {guard['flagged']} row(s) flagged ({rules})"))
    if result.windows:
        views.append(_windows_table(result))
    for event in result.alerts:
        views.append(_alert_line(event.to_dict()))
    views += [Text(note, style="dim") for note in result.notes]
    return views


def _features_table(result: LoggedMonitorResult) -> Table:
    table = Table(title="Drift per input column")
    for column in ("column", "drifted", "test", "p-value (threshold)", "PSI (alert at)", "change"):
        table.add_column(column)
    drifts = list(result.report.features)
    if result.report.prediction is not None:
        drifts.append(result.report.prediction)
    for f in drifts:
        d = f.to_dict()
        flag = (
            Text("yes", "bold red")
            if d["drifted"]
            else (Text("minor", "yellow") if d["minor_drift"] else Text("no", "green"))
        )
        name = "(prediction)" if f.role == "prediction" else d["name"]
        table.add_row(
            name,
            flag,
            d["test"],
            f"{_num(d['p_value'])} ({_num(d['threshold'])})",
            f"{_num(d['psi'])} ({d['psi_threshold']:g})",
            d["change"] or (d["note"] or ""),
        )
    return table


def _performance_table(result: LoggedMonitorResult) -> Table:
    performance = result.report.performance
    assert performance is not None
    table = Table(title=f"Performance ({performance.labelled_rows} labelled rows)")
    for column in ("metric", "kind", "value", "training", "dropped"):
        table.add_column(column)
    for kind, checks in (("realized", performance.realized), ("estimated", performance.estimated)):
        for m in checks:
            d = m.to_dict()
            dropped = Text("yes", "bold red") if d["dropped"] else Text("no", "green")
            table.add_row(m.name, kind, _num(d["value"]), _num(d["reference"]), dropped)
    return table


def _windows_table(result: LoggedMonitorResult) -> Table:
    table = Table(title="Windows")
    for column in ("start (UTC)", "status", "rows", "labelled", "drifted", "reason"):
        table.add_column(column)
    for w in result.windows:
        table.add_row(
            _when(w.start),
            Text(w.status, _STYLE[w.status]),
            str(w.rows_logged),
            str(w.labelled),
            ", ".join(w.drifted),
            w.reasons[0] if w.reasons else "",
        )
    return table


def _alert_line(event: dict[str, Any]) -> Text:
    style, label = {
        "opened": ("bold red", "alert opened"),
        "open": ("red", "alert still open"),
        "cleared": ("green", "alert cleared"),
    }[event["event"]]
    delivery = event["delivery"]
    sent = ""
    if delivery is not None:
        sent = (
            f" · webhook delivered ({delivery['attempts']} attempt(s))"
            if delivery["ok"]
            else f" · webhook FAILED: {delivery['error']}"
        )
    elif event["event"] == "open":
        sent = " · sent when it opened, not repeated"
    return Text.assemble((f"{label}: ", style), event["message"], sent)


def feedback_cmd(
    name: str = typer.Argument(..., help="Model name in the registry, e.g. churn."),
    source: str = typer.Argument(
        ...,
        metavar="FILE",
        help="CSV/Parquet/JSON Lines file with columns request_id and actual, or a database "
        "URL with --query.",
    ),
    query: str = typer.Option(
        None, "--query", help="SELECT returning request_id and actual (database sources)."
    ),
    rejects: Path = typer.Option(
        None,
        "--rejects",
        help="Where rows without a request id or actual value go [FILE.rejects.csv beside a "
        "file, ./feedback.rejects.csv for a database].",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Join ground truth to logged predictions by request id; a later label replaces an earlier.

    Labels for request ids not (yet) in the log are kept and counted as unmatched. Rows without
    a request id or an actual value are written to the rejects file with the reason.

    Example:
        mlwright feedback churn labels.csv
        mlwright feedback churn postgresql://analyst@db/crm \\
            --query "select request_id, churned as actual from outcomes"
    """
    result = store_feedback(name, source, query=query, registry=registry)
    written = None
    if len(result.invalid):
        written = rejects or _rejects_path(source, query)
        _write_rejects(result.invalid, written)
    document = {**result.to_dict(), "rejects_file": None if written is None else str(written)}
    emit(as_json, document, *_feedback_view(result, written))


def _rejects_path(source: str, query: str | None) -> Path:
    if query or "://" in source:
        return Path("feedback.rejects.csv")
    path = Path(source)
    return path.with_name(path.stem + ".rejects.csv")


def _write_rejects(invalid: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    invalid.to_csv(tmp, index=False)
    tmp.replace(path)


def _feedback_view(result: FeedbackResult, written: Path | None) -> list[RenderableType]:
    lines = [
        Text.assemble(
            ("Labels for ", "bold"),
            (result.name, "bold green"),
            f": {result.received} received, {result.stored} stored, {result.matched} matched a "
            f"logged prediction, {len(result.unmatched)} unmatched",
        )
    ]
    if result.unmatched:
        shown = ", ".join(result.unmatched[:5]) + (" …" if len(result.unmatched) > 5 else "")
        lines.append(
            Text(
                f"unmatched request ids (kept; they match once the prediction is logged): {shown}",
                style="yellow",
            )
        )
    if result.duplicates:
        lines.append(Text(f"{result.duplicates} repeated request id(s): the last label is kept."))
    if written is not None:
        reasons = result.invalid["_reason"].value_counts()
        why = "; ".join(f"{n} {r}" for r, n in reasons.items())
        lines.append(
            Text(f"{len(result.invalid)} row(s) set aside ({why}) → {written}", style="yellow")
        )
    return [Group(*lines)]


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"
