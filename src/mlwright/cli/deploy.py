"""``mlwright predict`` (batch scoring, logged to the registry) and ``mlwright export`` (a saved
model as a Docker build folder that serves it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from mlwright.api import load, locate, resolve_settings
from mlwright.cli.output import emit
from mlwright.cli.predlog import log_name
from mlwright.deploy import BatchLog, export_docker, score_file
from mlwright.errors import ConfigError
from mlwright.progress import stderr_console
from mlwright.settings import PredictionLogSettings, load_settings

if TYPE_CHECKING:
    from mlwright.registry import ModelVersion

__all__ = ["register"]

DATA_HELP = "A file (CSV/TSV/Parquet/JSON Lines/Excel) or a database URL used with --query."


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("predict")(predict_cmd)
    app.command("export")(export_cmd)


def predict_cmd(
    model_ref: str = typer.Argument(
        ...,
        metavar="MODEL",
        help="Folder of a saved model, or a registry reference NAME@ALIAS / NAME@VERSION.",
    ),
    data: str = typer.Argument(..., help=DATA_HELP),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Write predictions here (.csv, .tsv, .parquet, .jsonl); default: CSV on stdout.",
    ),
    rejects: Path = typer.Option(
        None,
        "--rejects",
        help="Write rows that could not be scored here, with reasons "
        "(default: next to --output, or ./mlwright-rejects.csv).",
    ),
    query: str = typer.Option(None, "--query", "-q", help="SELECT to run when DATA is a URL."),
    chunk_size: int = typer.Option(
        None, "--chunk-size", min=1, help="Rows read and scored at a time [data.chunk_size]."
    ),
    registry: str = typer.Option(
        None, "--registry", help="Registry URL or folder for NAME@ALIAS [MLWRIGHT_REGISTRY]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    log: bool = typer.Option(
        None,
        "--log/--no-log",
        help="Log every row into the registry [prediction_log.enabled: on for NAME@ALIAS].",
        show_default=False,
    ),
    log_as: str = typer.Option(
        None, "--log-as", help="Log a model folder's rows under this registered NAME."
    ),
    project: Path = typer.Option(
        None, "--project", help="Project file to read (default: ./mlwright.toml when present)."
    ),
) -> None:
    """Predict DATA with a saved model, streamed in chunks; unscorable rows go to a rejects file.

    Memory stays bounded by --chunk-size however big DATA is. Output and rejects are written
    to temporary files and renamed when every row is done, so an interrupted run leaves no
    partial file behind.

    A registry reference logs every row (rejects too) into the registry's prediction log, as
    batch run <id> with request ids batch-<id>-<row>, and adds a request_id column to the
    output and the rejects, so labels can be joined later with `mlwright feedback`; --no-log
    turns it off. A model folder logs only with --log-as NAME.

    Example:
        mlwright predict models/churn examples/telco_churn/test.csv -o scored.csv
        mlwright predict churn@production big.parquet -o scored.parquet --chunk-size 100000
    """
    if output is None and as_json:
        raise ConfigError("--json prints a summary on stdout, so predictions need -o FILE.")
    model_dir, version = locate(model_ref, registry=registry)
    model = load(model_dir)
    settings = resolve_settings(model.settings, data={"query": query, "chunk_size": chunk_size})
    options = load_settings(project).prediction_log
    batch_log = _batch_log(model_ref, version, options, log=log, log_as=log_as,
                           registry=registry, chunk_size=settings.data.chunk_size)  # fmt: skip
    try:
        summary = score_file(
            model,
            data,
            output if output is not None else sys.stdout,
            rejects=rejects,
            query=settings.data.query,
            settings=settings.data,
            progress=settings.progress,
            log=batch_log,
        )
    finally:
        if batch_log is not None:
            batch_log.writer.close()
            batch_log.writer.ops.registry.close()
    if as_json:
        emit(True, summary.to_dict())
        return
    line = f"scored {summary.scored} of {summary.rows} rows"
    if output:
        line += f" → {output}"
    if summary.rejects_file:
        line += f"; {summary.rejected} set aside with reasons → {summary.rejects_file}"
    line += f" ({summary.rows_per_second:,.0f} rows/s)"
    err = stderr_console()
    err.print(line, highlight=False, soft_wrap=True)
    if summary.prediction_log is not None:
        logged = summary.prediction_log
        lost = f"; {logged['dropped']} could not be logged" if logged["dropped"] else ""
        err.print(
            f"logged {logged['written']} rows for '{logged['model']}' as batch run "
            f"{logged['run_id']} (request ids {logged['request_ids']}, in the request_id "
            f"column){lost}",
            highlight=False,
            soft_wrap=True,
        )


def _batch_log(
    model_ref: str,
    version: ModelVersion | None,
    options: PredictionLogSettings,
    *,
    log: bool | None,
    log_as: str | None,
    registry: str | None,
    chunk_size: int,
) -> BatchLog | None:
    """The started prediction log of a batch run, or None when the run does not log."""
    registered = None if version is None else version.name
    name = log_name(
        registered, model_ref, enabled=options.enabled, log=log, log_as=log_as, verb="predict with"
    )
    if name is None:
        return None
    number = None if version is None else version.version
    from mlwright.registry import open_registry
    from mlwright.registry.operations import PredictionLog

    reg = open_registry(registry)
    try:
        writer = PredictionLog(
            reg,
            name,
            source="batch",
            buffer_rows=options.buffer_rows,
            flush_interval=options.flush_interval_s,
            retention_days=options.retention_days,
            max_queued_rows=3 * chunk_size,  # two chunks in flight, never dropped
        )
        messages = writer.start()
    except BaseException:
        reg.close()
        raise
    for message in messages:  # earlier runs that died with rows unwritten
        stderr_console().print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    return BatchLog(writer, number)


def export_cmd(
    model_ref: str = typer.Argument(
        ...,
        metavar="MODEL",
        help="Folder of a saved model, or a registry reference NAME@ALIAS / NAME@VERSION.",
    ),
    docker: Path = typer.Option(
        ..., "--docker", help="Folder to write the Dockerfile, requirements and model into."
    ),
    registry: str = typer.Option(
        None, "--registry", help="Registry URL or folder for NAME@ALIAS [MLWRIGHT_REGISTRY]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """Write a Docker build folder that serves MODEL over HTTP, without training dependencies.

    The folder holds a Dockerfile, a slim requirements.txt pinned to the model's recorded
    library versions, a wheel of this mlwright, a verified copy of the model and a README.

    Example:
        mlwright export models/churn --docker build/churn-image
        mlwright export churn@production --docker build/churn-image
    """
    model_dir, _ = locate(model_ref, registry=registry)
    result = export_docker(model_dir, docker)
    document = result.to_dict()
    emit(
        as_json,
        document,
        Text.assemble(("Docker build folder written to ", "bold"), (str(docker), "bold green")),
        Text(f"learners: {', '.join(result.learners)} · base image {result.base_image}"),
        Text(f"requirements: {', '.join(result.requirements)}", style="dim"),
        Text(f"build: {result.build_command}"),
        Text(f"run:   {result.run_command}"),
    )
