"""The ``mlwright`` command: one module per verb group, each a thin shell over the Python API."""

from __future__ import annotations

import sys
import traceback
import warnings
from typing import Any

import click
import typer

from mlwright.cli import data as data_cmds
from mlwright.cli import deploy as deploy_cmds
from mlwright.cli import monitoring as monitoring_cmds
from mlwright.cli import registry as registry_cmds
from mlwright.cli import report as report_cmds
from mlwright.cli import retrain as retrain_cmds
from mlwright.cli import serving as serving_cmds
from mlwright.cli import training as training_cmds
from mlwright.errors import MlwrightError
from mlwright.progress import stderr_console

__all__ = ["app", "main"]

app = typer.Typer(
    name="mlwright",
    help="mlwright: from a file or a SQL query to an evaluated, saved model and its predictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
) -> None:
    """mlwright: train, evaluate and use models from tabular data."""


training_cmds.register(app)
data_cmds.register(app)
serving_cmds.register(app)
deploy_cmds.register(app)
registry_cmds.register(app)
retrain_cmds.register(app)
monitoring_cmds.register(app)
report_cmds.register(app)

_EXIT_ERROR = 1
_EXIT_INTERNAL = 3

# Typer 0.2x raises its own copy of click's exceptions (typer._click) and its own Exit/Abort;
# older Typer raises click's. Catch both.
try:
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - Typer before it vendored click
    _typer_click = click.exceptions  # type: ignore[misc]
_USAGE_ERRORS = (click.ClickException, _typer_click.ClickException)
_EXITS = (click.exceptions.Exit, typer.Exit)
_ABORTS = (click.exceptions.Abort, typer.Abort)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; an error is one line on stderr and a non-zero exit (``--debug``: traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    err = stderr_console()

    def show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
        err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)

    warnings.showwarning = show_warning
    try:
        code = app(args=args, prog_name="mlwright", standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, here
            sys.exit(code)
    except MlwrightError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(_EXIT_ERROR)
    except _EXITS as exc:
        sys.exit(exc.exit_code)
    except _USAGE_ERRORS as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _ABORTS:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # the CLI edge: anything unexpected still gets one clear line
        if debug:
            traceback.print_exc()
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}: {exc}. "
            "Rerun with --debug for the traceback and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(_EXIT_INTERNAL)
