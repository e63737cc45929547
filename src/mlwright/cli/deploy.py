"""``mlwright export``: a saved model as a Docker build folder that serves it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from mlwright.api import locate
from mlwright.cli.output import emit
from mlwright.deploy import export_docker

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("export")(export_cmd)


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
