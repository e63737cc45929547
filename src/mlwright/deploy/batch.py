"""Batch scoring: stream a file or a query through a Model chunk by chunk, with bounded memory.

Each chunk is scored with one vectorised ``Model.score`` call; predictions and rejected rows are
written as they come, to temporary files renamed into place only when every row is done. Rows
keep their number in the input (``row`` in the output, ``_row`` in the rejects) across chunks.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from mlwright.data.schema import Role
from mlwright.data.sources import DataStream, stream_data
from mlwright.deploy.sinks import TableSink, open_sink, stdout_sink
from mlwright.errors import DataError
from mlwright.model import Model
from mlwright.progress import stderr_console
from mlwright.settings import DataSettings

__all__ = ["BatchSummary", "default_rejects_path", "score_file", "score_stream"]

_MAX_WARNINGS = 20


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: rows read, scored and set aside, where they went, how fast."""

    rows: int
    scored: int
    rejected: int
    chunks: int
    seconds: float
    output: str
    rejects_file: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        """Rows read per second, reading and writing included."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the ``--json`` document of ``mlwright predict``)."""
        return {
            "rows": self.rows,
            "scored": self.scored,
            "rejected": self.rejected,
            "output": self.output,
            "rejects_file": self.rejects_file,
            "warnings": self.warnings,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


def default_rejects_path(output: Path | None) -> Path:
    """Where rejects go when no path is given: beside the output, or ./mlwright-rejects.csv."""
    if output is None:
        return Path("mlwright-rejects.csv")
    return output.with_name(output.stem + ".rejects.csv")


def score_file(
    model: Model,
    source: str | os.PathLike[str],
    output: Path | IO[str],
    *,
    rejects: Path | None = None,
    query: str | None = None,
    settings: DataSettings | None = None,
    progress: bool | None = None,
) -> BatchSummary:
    """Score a data file or a SQL query in chunks and write the predictions as they come.

    Parameters
    ----------
    model:
        A trained or loaded Model.
    source:
        A CSV/TSV/Parquet/JSON Lines/Excel file, or a database URL with ``query``.
    output:
        A .csv, .tsv, .parquet or .jsonl path (written via a temporary file renamed at the end),
        or an open text stream such as ``sys.stdout`` for CSV.
    rejects:
        Where rows that cannot be scored go, with ``_row`` and ``_reason`` (default: beside
        ``output`` as ``<stem>.rejects.csv``, or ./mlwright-rejects.csv); written only if any.
    query:
        The SELECT to run when ``source`` is a database URL.
    settings:
        ``chunk_size`` (rows per chunk) and ``sql_timeout`` (per fetch); default ``DataSettings()``.
    progress:
        Show a progress bar on stderr; None shows it only when stderr is a terminal.

    Returns
    -------
    A :class:`BatchSummary`.

    Example:
        >>> model = mlwright.load("models/churn")
        >>> score_file(model, "big.parquet", Path("scored.parquet")).rows_per_second
    """
    out_path = output if isinstance(output, Path) else None
    rejects_path = rejects or default_rejects_path(out_path)
    with ExitStack() as stack:
        stream = stack.enter_context(stream_data(source, query=query, settings=settings))
        sink = stack.enter_context(
            open_sink(output) if isinstance(output, Path) else stdout_sink(output)
        )
        rejects_sink = stack.enter_context(open_sink(rejects_path))
        summary = score_stream(model, stream, sink, rejects_sink, progress=progress)
    return summary


def score_stream(
    model: Model,
    stream: DataStream,
    sink: TableSink,
    rejects: TableSink,
    *,
    progress: bool | None = None,
) -> BatchSummary:
    """Score every chunk of ``stream`` into ``sink``, rejected rows into ``rejects``; commit both.

    Nothing is committed when an error (or Ctrl-C) stops the run. ``rejects`` is committed only
    when some row was set aside.
    """
    ids = [c.name for c in model.schema.columns if c.role is Role.IDENTIFIER]
    notes = _Notes()
    start = time.perf_counter()
    rows = chunks = 0
    last: pd.DataFrame | None = None
    with _rows_progress(progress, stream) as advance:
        for chunk in stream:
            chunk.index = pd.RangeIndex(rows, rows + len(chunk))
            scored, rejected = _score_chunk(model, chunk, ids, notes)
            if len(scored):
                sink.write(scored)
            last = scored
            if len(rejected):
                rejects.write(rejected)
            rows += len(chunk)
            chunks += 1
            advance(len(chunk))
    if rows == 0 or last is None:
        raise DataError(
            f"{stream.name} holds no rows to score; expected at least one row. Check the file "
            "or the query's WHERE clause."
        )
    if not sink.started:
        sink.write(last)  # every row was set aside: still write the columns
    sink.commit()
    if rejects.rows:
        rejects.commit()
    else:
        rejects.discard()
    return BatchSummary(
        rows=rows,
        scored=sink.rows,
        rejected=rejects.rows,
        chunks=chunks,
        seconds=time.perf_counter() - start,
        output=str(sink.path) if sink.path is not None else "stdout",
        rejects_file=str(rejects.path) if rejects.rows else None,
        warnings=notes.lines(),
    )


def _score_chunk(
    model: Model, chunk: pd.DataFrame, ids: list[str], notes: _Notes
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The output rows (row number, identifiers, predictions) and the rejects of one chunk."""
    result = model.score(chunk)
    frame = result.frame
    present = [c for c in ids if c in chunk.columns]
    if present:
        frame = pd.concat([chunk.loc[frame.index, present], frame], axis=1)
    frame.insert(0, "row", frame.index.to_numpy(dtype="int64"))
    rejected = result.rejects
    if len(rejected):
        rejected = rejected.copy()
        rejected["_row"] = rejected["_row"].to_numpy() + int(chunk.index[0])
    notes.add(result.warnings)
    return frame, rejected


class _Notes:
    """Warnings of every chunk, each kind once: the first chunk's wording, then how often."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def add(self, lines: list[str]) -> None:
        for line in lines:
            if line.startswith("set aside "):
                continue  # the summary counts rejects over all chunks
            key = re.sub(r"\d+", "#", line)
            if key not in self._first and len(self._first) >= _MAX_WARNINGS:
                continue
            self._first.setdefault(key, line)
            self._count[key] = self._count.get(key, 0) + 1

    def lines(self) -> list[str]:
        out = []
        for key, line in self._first.items():
            n = self._count[key]
            out.append(
                line if n == 1 else f"{line} (counts from the first of {n} chunks with this)"
            )
        return out


class _RowsPerSecond(ProgressColumn):
    """Rows done (of the total, when known) and the rate."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        if task.total is not None:
            approx = "~" if task.fields.get("estimated") else ""
            done += f"/{approx}{int(task.total):,}"
        speed = f"{task.speed:,.0f} rows/s" if task.speed else ""
        return Text(f"{done} rows  {speed}", style="progress.data.speed")


@contextmanager
def _rows_progress(enabled: bool | None, stream: DataStream) -> Iterator[Any]:
    """Yield ``advance(rows)``, which moves a Rich progress bar on stderr."""
    show = sys.stderr.isatty() if enabled is None else enabled
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        disable=not show,
    )
    estimated = stream.total_rows is None
    task = bar.add_task(f"scoring {stream.name}", total=stream.total_rows, estimated=estimated)

    def advance(rows: int) -> None:
        bar.advance(task, rows)
        fraction = stream.fraction_read()
        if estimated and fraction:  # text files: the total from the share of bytes read
            done = bar.tasks[0].completed
            bar.update(task, total=max(done, round(done / fraction)))

    with bar:
        yield advance
