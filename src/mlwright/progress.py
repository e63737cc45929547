"""Progress bars for long work, drawn on stderr so that ``--json`` output on stdout stays clean."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["progress_bar", "stderr_console"]


def stderr_console() -> Console:
    """A Rich console on stderr."""
    return Console(stderr=True)


@contextmanager
def progress_bar(enabled: bool | None = None) -> Iterator[Progress]:
    """Yield a Rich ``Progress`` on stderr; disabled (but still usable) when ``enabled`` is False.

    ``enabled=None`` shows the bar only when stderr is a terminal.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        disable=not show,
        transient=False,
    )
    with progress:
        yield progress
