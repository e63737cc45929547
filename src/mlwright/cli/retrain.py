"""``mlwright retrain``: apply the retraining policy once (for cron, or by hand)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from mlwright.api import registry as open_registry
from mlwright.api import resolve_settings
from mlwright.cli.output import emit
from mlwright.cli.registry import REGISTRY_HELP
from mlwright.operate import RetrainDecision, retrain

__all__ = ["register"]

_STYLE = {"promoted": "bold green", "kept": "bold yellow", "skipped": "bold"}


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("retrain")(retrain_cmd)


def retrain_cmd(
    name: str = typer.Argument(..., help="Model name in the registry, e.g. churn."),
    alias: str = typer.Option(
        None, "--alias", help="Alias of the champion [retrain.alias: production]."
    ),
    if_needed: bool = typer.Option(
        False,
        "--if-needed",
        help="Retrain only when a trigger of [retrain] fired (schedule, on_alert, "
        "min_new_labels); otherwise record a skip. For cron.",
    ),
    time_limit: float = typer.Option(
        None, "--time-limit", help="Seconds to train the challenger [the champion's]."
    ),
    shadow: str = typer.Option(
        None,
        "--shadow",
        help="Train nothing: compare the champion with this version (NAME@ALIAS), which scored "
        "live traffic as a shadow (mlwright serve --shadow), on the labelled requests both "
        'scored [retrain.compare = "shadow", retrain.shadow].',
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    project: Path = typer.Option(
        None, "--project", help="Project file to read (default: ./mlwright.toml when present)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """Train a challenger, compare it with the champion on the newest labelled rows, and
    promote it only if it is significantly better; the decision goes to the audit log.

    Prints the decision (promoted, kept or skipped), the evidence and the reason. The exit
    code is 0 for each decision, and 1 when the run failed (e.g. the source could not be read).
    With --shadow the challenger is a registered version that scored the live requests silently
    (mlwright serve NAME@ALIAS --shadow ...), judged on the same rule on real outcomes.

    Example:
        mlwright retrain churn --if-needed --json
        mlwright retrain churn --alias production --time-limit 300
        mlwright retrain churn --shadow churn@challenger
    """
    settings = resolve_settings(project_file=project, retrain={"time_limit": time_limit})
    reg = open_registry(registry)
    try:
        decision = retrain(
            reg, name, alias=alias, if_needed=if_needed, settings=settings, shadow=shadow
        )
    finally:
        reg.close()
    emit(as_json, decision.to_dict(), *_shown(decision))
    if decision.error is not None:
        raise typer.Exit(1)  # recorded, but a failure: cron and schedulers should see it


def _shown(decision: RetrainDecision) -> list[Table | Text]:
    head = Text.assemble(
        (f"{decision.decision.upper()} ", _STYLE[decision.decision]),
        f"{decision.name}@{decision.alias}",
    )
    table = Table(show_header=False, box=None)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("champion", _version(decision.champion))
    table.add_row("challenger", _version(decision.challenger))
    if decision.trigger:
        table.add_row("trigger", "; ".join(decision.trigger))
    evidence = decision.evidence
    if evidence is not None:
        table.add_row(
            evidence["metric"],
            f"challenger {_num(evidence['score_a'])} · champion {_num(evidence['score_b'])} · "
            f"difference {_num(evidence['difference'])} "
            f"[{_num(evidence['low'])}, {_num(evidence['high'])}] · p {_num(evidence['p_value'])}",
        )
        compared = "shared labelled requests" if "shared" in decision.data else "held-out rows"
        table.add_row(compared, f"{decision.holdout_rows:,}")
    data = decision.data
    if data.get("compare") == "shadow":
        table.add_row("shadow", str(data.get("shadow")))
    if "mode" in data:
        parts = [f"{data['mode']}"]
        if data.get("source") is not None:
            parts.append(f"{data['source']:,} source rows")
        parts.append(f"{data.get('feedback', 0):,} labelled feedback rows")
        if "rows_set_aside" in data:
            parts.append(f"{data['rows_set_aside']:,} set aside")
        table.add_row("training data", " · ".join(parts))
    timing = f"{decision.seconds:.1f} s"
    if decision.train_seconds is not None:
        timing += f" ({decision.train_seconds:.1f} s training)"
    table.add_row("time", timing)
    return [head, table, Text(decision.reason)]


def _version(version: int | None) -> str:
    return "—" if version is None else f"version {version}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
