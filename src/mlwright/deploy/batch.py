"""Batch scoring: stream a file or a query through a Model chunk by chunk, with bounded memory.

Each chunk is scored with one vectorised ``Model.score`` call; predictions and rejected rows are
written as they come, to temporary files renamed into place only when every row is done. Rows
keep their number in the input (``row`` in the output, ``_row`` in the rejects) across chunks.

With a ``BatchLog`` every row (rejects included) also goes to the model's prediction log, with
the request id ``batch-<run id>-<row>``, written as a ``request_id`` column beside the output so
that labels can be joined later (``mlwright feedback``). The log is written chunk by chunk on a
background thread while the next chunk is scored; at most two chunks wait for it, so memory
stays bounded. A run that fails part-way leaves its earlier chunks in the log (they were scored,
though the output file was not kept).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
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

if TYPE_CHECKING:  # the registry is imported only when a run logs to one
    from mlwright.registry.operations import LoggedRow, PredictionLog

__all__ = ["BatchLog", "BatchSummary", "default_rejects_path", "score_file", "score_stream"]

_MAX_WARNINGS = 20
_LOG_WAIT_S = 600.0  # how long the scorer waits for the log to take the previous chunk


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
    prediction_log: dict[str, Any] | None = None

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
            "prediction_log": self.prediction_log,
        }


def new_run_id() -> str:
    """A batch run id: the UTC time and a random suffix (``20250131T120000-1a2b3c``)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class BatchLog:
    """Where a batch run logs its rows: a started ``PredictionLog`` (source "batch") of the
    model, the registry version scored (None for a folder) and the run id.

    Example:
        >>> writer = PredictionLog(registry, "churn", source="batch"); writer.start()
        >>> score_file(model, "new.parquet", Path("out.parquet"), log=BatchLog(writer, 3))
        >>> writer.close()
    """

    writer: PredictionLog
    version: int | None
    run_id: str = field(default_factory=new_run_id)
    submitted: int = 0

    def request_ids(self, rows: pd.Index | Any) -> list[str]:
        """The request ids of input row numbers ``rows``."""
        return [f"batch-{self.run_id}-{int(row)}" for row in rows]

    def add(
        self, chunk: pd.DataFrame, scored: pd.DataFrame, rejected: pd.DataFrame, model: Model
    ) -> list[str]:
        """Queue the chunk's rows for the log (after the previous chunk is written); returns a
        warning when the log fell behind and rows were dropped."""
        notes = []
        if not self.writer.flush(_LOG_WAIT_S):
            notes.append(
                f"the prediction log did not write a chunk within {_LOG_WAIT_S:g} s; later rows "
                "may be missing from it (see prediction_log.dropped)"
            )
        start = int(chunk.index[0])
        classes = model.classes_ if model.task_ != "regression" else None

        def make() -> list[LoggedRow]:
            return _logged_rows(self, chunk, scored, rejected, classes)

        if not self.writer.submit(self.version, make, len(chunk)):
            notes.append(f"the prediction log's queue was full: rows {start}.. were not logged")
        self.submitted += len(chunk)
        return notes

    def summary(self) -> dict[str, Any]:
        """Rows submitted, written and dropped, and the request id pattern."""
        self.writer.flush(_LOG_WAIT_S)
        stats = self.writer.stats()
        return {
            "model": self.writer.name,
            "version": self.version,
            "run_id": self.run_id,
            "request_ids": f"batch-{self.run_id}-<row>",
            "rows": self.submitted,
            "written": stats["written"],
            "dropped": stats["dropped"],
        }


def _logged_rows(
    log: BatchLog,
    chunk: pd.DataFrame,
    scored: pd.DataFrame,
    rejected: pd.DataFrame,
    classes: list[Any] | None,
) -> list[LoggedRow]:
    """One log row per input row of ``chunk`` (run on the log's writer thread)."""
    from mlwright.registry.operations import LoggedRow

    at = datetime.now(UTC)
    start, n = int(chunk.index[0]), len(chunk)
    text = chunk.to_json(orient="records", date_format="iso", default_handler=str)
    inputs: list[dict[str, Any]] = orjson.loads(text)
    predictions: list[Any] = [None] * n
    probabilities: list[list[float] | None] = [None] * n
    positions = (scored["row"].to_numpy() - start).tolist()
    labels = scored["prediction"].tolist()
    proba = scored[[f"proba_{c}" for c in classes]].to_numpy().tolist() if classes else None
    for j, i in enumerate(positions):
        predictions[i] = labels[j]
        if proba is not None:
            probabilities[i] = proba[j]
    offsets = (rejected["_row"].to_numpy() - start).tolist()
    reasons = dict(zip(offsets, rejected["_reason"].tolist(), strict=True))
    ids = log.request_ids(range(start, start + n))
    return [
        LoggedRow(ids[i], at, inputs[i], predictions[i], probabilities[i], reasons.get(i))
        for i in range(n)
    ]


def default_rejects_path(output: Path | None) -> Path:
    """Where rejects go when no path is given: beside the output, or ./mlwright-rejects.csv."""
    if output is None:
        return Path("mlwright-rejects.csv")
    return output.with_name(output.stem + ".rejects.csv")


def score_file(
    model: Model,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | IO[str],
    *,
    rejects: str | os.PathLike[str] | None = None,
    query: str | None = None,
    settings: DataSettings | None = None,
    progress: bool | None = None,
    log: BatchLog | None = None,
) -> BatchSummary:
    """Score a data file or a SQL query in chunks and write the predictions as they come.

    Parameters
    ----------
    model:
        A trained or loaded Model.
    source:
        A CSV/TSV/Parquet/JSON Lines/Excel file, or a database URL with ``query``.
    output:
        A .csv, .tsv, .parquet or .jsonl path, as text or a Path (written via a temporary file
        renamed at the end), or an open text stream such as ``sys.stdout`` for CSV.
    rejects:
        Where rows that cannot be scored go, with ``_row`` and ``_reason`` (default: beside
        ``output`` as ``<stem>.rejects.csv``, or ./mlwright-rejects.csv); written only if any.
    query:
        The SELECT to run when ``source`` is a database URL.
    settings:
        ``chunk_size`` (rows per chunk) and ``sql_timeout`` (per fetch); default ``DataSettings()``.
    progress:
        Show a progress bar on stderr; None shows it only when stderr is a terminal.
    log:
        Log every row into the model's prediction log and add a ``request_id`` column to the
        output and the rejects (default: no log).

    Returns
    -------
    A :class:`BatchSummary`.

    Example:
        >>> model = mlwright.load("models/churn")
        >>> score_file(model, "big.parquet", "scored.parquet").rows_per_second
    """
    if isinstance(output, str | os.PathLike):
        out_path: Path | None = Path(output)
        sink_at = open_sink(Path(output))
    else:
        out_path, sink_at = None, stdout_sink(output)
    rejects_path = Path(rejects) if rejects is not None else default_rejects_path(out_path)
    with ExitStack() as stack:
        stream = stack.enter_context(stream_data(source, query=query, settings=settings))
        sink = stack.enter_context(sink_at)
        rejects_sink = stack.enter_context(open_sink(rejects_path))
        summary = score_stream(model, stream, sink, rejects_sink, progress=progress, log=log)
    return summary


def score_stream(
    model: Model,
    stream: DataStream,
    sink: TableSink,
    rejects: TableSink,
    *,
    progress: bool | None = None,
    log: BatchLog | None = None,
) -> BatchSummary:
    """Score every chunk of ``stream`` into ``sink``, rejected rows into ``rejects``; commit both.

    Nothing is committed when an error (or Ctrl-C) stops the run. ``rejects`` is committed only
    when some row was set aside. With ``log``, every row also goes to the prediction log.
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
            if log is not None:
                scored.insert(1, "request_id", log.request_ids(scored["row"]))
                if len(rejected):
                    rejected.insert(0, "request_id", log.request_ids(rejected["_row"]))
                # from here on the frames are only read (the log's thread reads them too)
                notes.add(log.add(chunk, scored, rejected, model))
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
        prediction_log=None if log is None else log.summary(),
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
