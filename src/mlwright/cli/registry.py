"""``mlwright register`` and ``mlwright models list|show|promote|archive|restore|history``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from mlwright.api import register as register_model
from mlwright.api import registry as open_registry
from mlwright.cli.output import emit
from mlwright.errors import ConfigError
from mlwright.registry import Event, ModelVersion, parse_ref

__all__ = ["REGISTRY_HELP", "register"]

REGISTRY_HELP = (
    "Registry folder or database URL (default: $MLWRIGHT_REGISTRY or ./mlwright-registry)."
)
JSON_HELP = "Print one JSON document on stdout instead of tables."

models_app = typer.Typer(
    name="models",
    help="List, inspect, promote, archive and audit registered models.\n\n"
    "Example:\n\n"
    "    mlwright models promote churn@3 --alias production --reason 'beats v2'",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("register")(register_cmd)
    models_app.command("list")(list_cmd)
    models_app.command("show")(show_cmd)
    models_app.command("promote")(promote_cmd)
    models_app.command("archive")(archive_cmd)
    models_app.command("restore")(restore_cmd)
    models_app.command("history")(history_cmd)
    app.add_typer(models_app)


def register_cmd(
    model_dir: Path = typer.Argument(..., help="Folder of a saved model (mlwright train --out)."),
    name: str = typer.Option(..., "--name", "-n", help="Model name in the registry, e.g. churn."),
    alias: str = typer.Option(None, "--alias", help="Also point this alias at the new version."),
    reason: str = typer.Option(None, "--reason", help="Why, for the audit log."),
    parent: int = typer.Option(
        None, "--parent", help="Version this one derives from (default: production, else latest)."
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Store a saved model as the next version of --name, with its lineage.

    Example:
        mlwright register models/churn --name churn --alias staging
    """
    version = register_model(
        model_dir, name, registry=registry, alias=alias, reason=reason, parent=parent
    )
    emit(as_json, version.to_dict(), _registered(version))


def _registered(version: ModelVersion) -> Text:
    text = Text.assemble(("Registered ", "bold"), (version.ref, "bold green"))
    if version.aliases:
        text.append(f" ({', '.join(version.aliases)})")
    text.append(f"\nartifact sha256:{version.digest[:16]}… · parent: {version.parent_version}")
    return text


def list_cmd(
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the registered models with their newest version and aliases.

    Example:
        mlwright models list --registry postgresql+psycopg://ml@db/registry
    """
    reg = open_registry(registry)
    found = reg.models()
    table = Table(title=f"Models in {reg.url}")
    for column in ("name", "versions", "latest", "aliases", "updated (UTC)"):
        table.add_column(column)
    for m in found:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(m.name, str(m.versions), str(m.latest), aliases, _when(m.updated_at))
    emit(as_json, {"models": [m.to_dict() for m in found]}, table)


def show_cmd(
    ref: str = typer.Argument(..., help="NAME (every version) or NAME@ALIAS / NAME@VERSION."),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a model's versions, or one version's lineage and metrics.

    Example:
        mlwright models show churn@production
    """
    reg = open_registry(registry)
    if "@" not in ref:
        rows = reg.versions(ref)
        table = Table(title=f"Versions of {ref}")
        for column in ("version", "status", "aliases", "metric", "cv score", "created", "by"):
            table.add_column(column)
        for v in rows:
            table.add_row(
                str(v.version),
                v.status,
                ", ".join(v.aliases),
                v.metric or "",
                _score(v),
                _when(v.created_at),
                v.created_by,
            )
        emit(as_json, {"name": ref, "versions": [v.to_dict() for v in rows]}, table)
        return
    name, selector = parse_ref(ref)
    version = reg.get(name, selector, allow_archived=True)
    table = Table(title=f"{version.ref}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("status", version.status)
    table.add_row("aliases", ", ".join(version.aliases) or "—")
    table.add_row("created", f"{_when(version.created_at)} by {version.created_by}")
    table.add_row("parent version", str(version.parent_version))
    table.add_row("task / metric", f"{version.task} / {version.metric}")
    table.add_row("cross-validated", _score(version))
    source = version.source
    table.add_row("data", f"{source.get('source')} · {source.get('rows')} rows")
    table.add_row("data fingerprint", str(source.get("fingerprint")))
    table.add_row("artifact", f"sha256:{version.digest}")
    table.add_row("mlwright", str(version.code.get("mlwright")))
    emit(as_json, version.to_dict(), table)


def promote_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME@ALIAS) to promote."),
    alias: str = typer.Option("production", "--alias", help="Alias to point at it."),
    reason: str = typer.Option(..., "--reason", help="Why, for the audit log (required)."),
    expected: int = typer.Option(
        None,
        "--expected",
        help="Only if the alias still points at this version (0: only if it is unset).",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Point an alias at a version (promote, or roll back to an earlier one).

    Example:
        mlwright models promote churn@3 --alias production --reason "beats v2 on March data"
    """
    name, selector = parse_ref(ref)
    event = open_registry(registry).promote(name, selector, alias, reason=reason, expected=expected)
    line = f"{name}@{alias}: " + (
        f"version {event.previous_version} → {event.version}"
        if event.previous_version is not None
        else f"now version {event.version}"
    )
    emit(as_json, event.to_dict(), Text(line, style="bold green"))


def archive_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION to archive."),
    reason: str = typer.Option(None, "--reason", help="Why, for the audit log."),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Archive a version: kept for audit, no longer promotable or picked as latest.

    Example:
        mlwright models archive churn@1 --reason "superseded by v3"
    """
    name, selector = parse_ref(ref)
    event = open_registry(registry).archive(name, selector, reason=reason)
    emit(as_json, event.to_dict(), Text(f"archived {name}@{event.version}"))


def restore_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION to restore."),
    reason: str = typer.Option(None, "--reason", help="Why, for the audit log."),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Undo archive.

    Example:
        mlwright models restore churn@1 --reason "needed for the audit rerun"
    """
    name, selector = parse_ref(ref)
    event = open_registry(registry).restore(name, selector, reason=reason)
    emit(as_json, event.to_dict(), Text(f"restored {name}@{event.version}"))


def history_cmd(
    name: str = typer.Argument(..., help="Model name."),
    alias: str = typer.Option(None, "--alias", help="Only moves of this alias."),
    at: str = typer.Option(
        None,
        "--at",
        help="ISO date/time: which version served --alias (default production) then, "
        "who promoted it and why.",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The audit log of a model: registrations, promotions, archives, who and why.

    Example:
        mlwright models history churn --at 2026-03-01 --alias production
    """
    reg = open_registry(registry)
    if at is not None:
        start, end = _parse_time(at)
        target = alias or "production"
        first = reg.serving_at(name, start, target)
        moves = [e for e in reg.history(name, alias=target) if start < e.at <= end]
        served = ([first] if first is not None else []) + moves
        last = served[-1] if served else None
        current = None if last is None or last.action == "remove_alias" else last.version
        document = {
            "name": name,
            "alias": target,
            "from": start.isoformat(),
            "until": end.isoformat(),
            "version": current,
            "events": [e.to_dict() for e in served],
        }
        if not served:
            text = Text(f"{name}@{target} named no version at {at}.")
        else:
            text = Text(
                "\n".join(
                    f"{name}@{target} was version {e.version} from {_when(e.at)}, "
                    f"promoted by {e.actor}" + (f": {e.reason}" if e.reason else " (no reason)")
                    if e.action != "remove_alias"
                    else f"{name}@{target} was removed at {_when(e.at)} by {e.actor}"
                    for e in served
                )
            )
        emit(as_json, document, text)
        return
    entries = reg.history(name, alias=alias)
    emit(as_json, {"name": name, "events": [e.to_dict() for e in entries]}, _events(name, entries))


def _events(name: str, entries: list[Event]) -> Table:
    table = Table(title=f"History of {name}")
    for column in ("when (UTC)", "who", "action", "version", "alias", "from", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            _when(e.at),
            e.actor,
            e.action,
            "" if e.version is None else str(e.version),
            e.alias or "",
            "" if e.previous_version is None else str(e.previous_version),
            e.reason or "",
        )
    return table


def _parse_time(text: str) -> tuple[datetime, datetime]:
    """A moment, or for a bare date the whole day: (start, end), in UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--at '{text}' is not an ISO date or time; write e.g. 2026-03-01 (the whole day) "
            "or 2026-03-01T14:30:00+01:00 (no zone means UTC)."
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if len(text.strip()) == 10:  # a date: every version that served during that day
        return when, when + timedelta(days=1) - timedelta(microseconds=1)
    return when, when


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _score(version: ModelVersion) -> str:
    primary = version.metrics.get("primary")
    metric = version.metrics.get("cv", {}).get(primary or "", {})
    value = metric.get("value")
    if value is None:
        return ""
    low, high = metric.get("low"), metric.get("high")
    interval = f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None else ""
    return f"{value:.4g}{interval}"
