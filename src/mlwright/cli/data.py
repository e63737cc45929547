"""``mlwright profile`` and ``mlwright init``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mlwright.api import profile, read_data, resolve_settings
from mlwright.cli.output import emit
from mlwright.data.conform import conform
from mlwright.data.inference import detect_task, infer_schema
from mlwright.errors import ConfigError
from mlwright.evaluation import default_metric
from mlwright.progress import stderr_console
from mlwright.settings import PROJECT_FILE, render_project_file

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("profile")(profile_cmd)
    app.command("init")(init_cmd)


def profile_cmd(
    data: str = typer.Argument(None, help="A file or a database URL used with --query."),
    target: str = typer.Option(None, "--target", "-t", help="The column to predict."),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the profile as JSON."),
    project: Path = typer.Option(None, "--project", help="Project file to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON on stdout."),
) -> None:
    """Summarise data quality: column roles, missing values, cardinality, leakage suspects.

    Example:
        mlwright profile examples/telco_churn/train.csv --target Churn
    """
    settings = resolve_settings(
        project_file=project, data={"source": data, "query": query, "target": target}
    )
    result = profile(settings=settings)
    document = result.to_dict()
    if output is not None:
        output.write_text(json.dumps(document, indent=2), encoding="utf-8")
    emit(as_json, document, result.to_rich())
    if output is not None and not as_json:
        stderr_console().print(f"profile written to {output}")


def init_cmd(
    data: str = typer.Argument(..., help="A file or a database URL used with --query."),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    path: Path = typer.Option(Path(PROJECT_FILE), "--path", help="Where to write the file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing project file."),
) -> None:
    """Write a commented mlwright.toml for DATA and --target, to review with the business.

    Example:
        mlwright init examples/telco_churn/train.csv --target Churn
    """
    if path.exists() and not force:
        raise ConfigError(f"'{path}' already exists; pass --force to overwrite it.")
    settings = resolve_settings(data={"query": query})
    df = read_data(data, settings=settings)
    schema = infer_schema(df, target)
    conformed = conform(df, schema, require_target=True)
    assert conformed.target is not None
    task = detect_task(conformed.target)
    text = render_project_file(
        source=data, target=target, query=query, task=task, metric=default_metric(task)
    )
    path.write_text(text, encoding="utf-8")
    stderr_console().print(f"wrote {path} ({task} task); review it, then run `mlwright train`")
