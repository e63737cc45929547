"""Tables written part by part: Parquet, CSV/TSV and JSON Lines, complete or not at all.

A file sink writes to a hidden temporary file next to its destination and renames it into place
only on ``commit()``; a crash or Ctrl-C leaves the destination as it was (absent, or the previous
complete file), never a truncated file that looks complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pandas as pd

from mlwright.errors import ConfigError, DataError

__all__ = ["TableSink", "open_sink", "stdout_sink"]

# file extension -> format written
_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def open_sink(path: Path) -> TableSink:
    """A sink writing ``path`` in the format its extension names.

    Raises ``ConfigError`` for an extension mlwright does not write.

    Example:
        >>> with open_sink(Path("scored.parquet")) as sink:
        ...     sink.write(frame)
        ...     sink.commit()
    """
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ConfigError(
            f"cannot write predictions as '{suffix or path.name}'; expected a .csv, .tsv, "
            ".parquet or .jsonl file name. Change the file name's extension."
        )
    return TableSink(_FORMATS[suffix], path=path)


def stdout_sink(stream: IO[str]) -> TableSink:
    """A sink writing CSV to an open text stream (stdout): nothing to rename, so no temp file."""
    return TableSink("csv", stream=stream)


class TableSink:
    """One table written in parts; the columns of the first part fix the columns of the file.

    Use it as a context manager: leaving the block without ``commit()`` (an error, Ctrl-C)
    removes the temporary file.
    """

    def __init__(
        self, fmt: str, *, path: Path | None = None, stream: IO[str] | None = None
    ) -> None:
        self.format = fmt
        self.path = path
        self.rows = 0
        self._stream = stream
        self._tmp = None if path is None else path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._handle: IO[str] | None = None
        self._writer: Any = None  # pyarrow.parquet.ParquetWriter, imported when used
        self._schema: Any = None
        self._columns: list[str] | None = None
        self._done = False

    @property
    def started(self) -> bool:
        """True once a part (even an empty one) has been written."""
        return self._columns is not None

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (its index is not written)."""
        columns = [str(c) for c in frame.columns]
        if self._columns is None:
            self._columns = columns
        elif columns != self._columns:
            raise DataError(
                f"a later part of the table has the columns {columns[:10]}, but the file was "
                f"started with {self._columns[:10]}; expected the same columns in every chunk. "
                "Check that the input keeps the same columns throughout."
            )
        if self.format == "parquet":
            self._write_parquet(frame)
        else:
            self._write_text(frame)
        self.rows += len(frame)

    def _write_text(self, frame: pd.DataFrame) -> None:
        header = self._handle is None
        if self._handle is None:
            if self._stream is not None:
                self._handle = self._stream
            else:
                assert self._tmp is not None
                self._tmp.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self._tmp.open("w", encoding="utf-8", newline="")
        if self.format == "jsonl":
            if len(frame):
                text = frame.to_json(orient="records", lines=True, date_format="iso")
                self._handle.write(text if text.endswith("\n") else text + "\n")
        else:
            sep = "\t" if self.format == "tsv" else ","
            frame.to_csv(self._handle, index=False, header=header, sep=sep)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            assert self._tmp is not None
            # a column that is empty in the first part has no type yet: text holds anything
            self._schema = pa.schema(
                [
                    f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                    for f in table.schema.remove_metadata()
                ]
            )
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
        try:
            table = table.select(self._schema.names).cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"a later chunk does not fit the Parquet column types set by the first "
                f"({str(exc).splitlines()[0]}); expected the same type per column throughout. "
                "Write CSV instead (-o FILE.csv), or make the input's column types consistent."
            ) from None
        self._writer.write_table(table)

    def commit(self) -> None:
        """Finish the file and move it into place (replacing an older file of that name)."""
        self._close()
        if self._tmp is not None and self._tmp.exists():
            assert self.path is not None
            os.replace(self._tmp, self.path)
        elif self._stream is not None and self._handle is not None:
            self._handle.flush()
        self._done = True

    def discard(self) -> None:
        """Drop what was written; the destination is left untouched."""
        self._close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
        self._done = True

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._handle is not None and self._handle is not self._stream:
            self._handle.close()
        self._handle = None if self._stream is None else self._handle

    def __enter__(self) -> TableSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._done:
            self.discard()
