"""``mlwright report`` and ``mlwright card``: the stakeholder report and the model card."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import typer

from mlwright.api import load, read_data
from mlwright.api import registry as open_registry
from mlwright.cli.output import stdout_console
from mlwright.cli.registry import REGISTRY_HELP
from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.progress import stderr_console
from mlwright.registry import ModelVersion, Registry
from mlwright.report import model_card, write_report
from mlwright.settings import load_settings

__all__ = ["register"]

_REPORT_SUFFIXES = (".html", ".htm", ".pdf")
_CARD_SUFFIXES = (".md", ".markdown")
_T = TypeVar("_T")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("report")(report_cmd)
    app.command("card")(card_cmd)


def report_cmd(
    ref: str = typer.Argument(
        ..., help="NAME@ALIAS or NAME@VERSION in the registry, or a saved model folder."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="File to write: .html or .pdf."),
    data: str = typer.Option(
        None,
        "--data",
        help="Labelled rows to measure on (a file, e.g. a test set) [default: the out-of-fold "
        "predictions kept with the model].",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
) -> None:
    """Write the report for people who are not engineers: what the model predicts, how good it
    is in plain words with 95% intervals, what drives it, where it is weak, data quality, the
    previous production version, behaviour since deployment; then the technical detail and the
    model card. One self-contained HTML file (no network needed), or a PDF (needs Chromium).

    Example:
        mlwright report churn@production -o report.html
        mlwright report churn@3 -o report.pdf --data test.csv
        mlwright report models/churn -o report.html
    """
    _check_suffix(output, _REPORT_SUFFIXES, "report.html")
    rows = None if data is None else read_data(data)
    with stderr_console().status(f"Writing the report of {ref}…"):
        path = _with_model(
            ref,
            registry,
            lambda model, reg, found: write_report(
                model,
                output,
                registry=reg,
                name=None if found is None else found.name,
                version=None if found is None else found.version,
                data=rows,
            ),
        )
    stdout_console().print(f"wrote {path} ({_size(path)})", highlight=False)


def card_cmd(
    ref: str = typer.Argument(
        ..., help="NAME@VERSION or NAME@ALIAS in the registry, or a saved model folder."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Markdown file to write (.md)."),
    sensitive: str = typer.Option(
        None,
        "--sensitive",
        help="Comma-separated columns to report per group, e.g. gender,age "
        "[default: [constraints] sensitive_columns].",
    ),
    data: str = typer.Option(
        None,
        "--data",
        help="Labelled rows to measure on (needed for sensitive columns the model does not use).",
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
) -> None:
    """Write the model card (Markdown): intended use, training and evaluation data, metrics with
    intervals, results per group of the sensitive columns, limitations, lineage and approvals.
    Fields only the owner can know come from the [card] section of ./mlwright.toml (or of the
    settings the model was trained with); left empty, they are marked "To be filled in by the
    model owner".

    Example:
        mlwright card churn@3 -o card.md --sensitive gender,SeniorCitizen
    """
    _check_suffix(output, _CARD_SUFFIXES, "card.md")
    columns = [c.strip() for c in (sensitive or "").split(",") if c.strip()]
    rows = None if data is None else read_data(data)

    project = load_settings().card  # ./mlwright.toml's [card], written after training too

    def card(model: Model, reg: Registry | None, found: ModelVersion | None) -> Path:
        filled = {k: v for k, v in project.model_dump().items() if v is not None}
        if filled:
            card_settings = model.settings.card.model_copy(update=filled)
            model.settings = model.settings.model_copy(update={"card": card_settings})
        text = model_card(
            model,
            registry=reg,
            name=None if found is None else found.name,
            version=None if found is None else found.version,
            sensitive=columns,
            data=rows,
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        return output

    with stderr_console().status(f"Writing the model card of {ref}…"):
        path = _with_model(ref, registry, card)
    stdout_console().print(f"wrote {path} ({_size(path)})", highlight=False)


def _with_model(
    ref: str,
    registry: str | None,
    work: Callable[[Model, Registry | None, ModelVersion | None], _T],
) -> _T:
    """Run ``work`` on the model ``ref`` names: a folder as given, or a registry reference
    (with the registry open, for its history)."""
    if Path(ref).exists() or "@" not in ref:
        return work(load(ref), None, None)
    with _opened(registry) as reg:
        found = reg.resolve(ref)
        return work(load(str(found.path)), reg, found)


@contextmanager
def _opened(location: str | None) -> Iterator[Registry]:
    reg = open_registry(location)
    try:
        yield reg
    finally:
        reg.close()


def _check_suffix(output: Path, allowed: tuple[str, ...], example: str) -> None:
    if output.suffix.lower() not in allowed:
        got = f"'{output.suffix}'" if output.suffix else "no suffix"
        raise ConfigError(
            f"-o {output} has {got}; expected a file ending in {' or '.join(allowed)}. "
            f"For example: -o {example}"
        )


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
