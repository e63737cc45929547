"""Reading training data: DataFrames, files (CSV and other delimited text, Parquet, JSON Lines,
Excel; plain or compressed) and, through :mod:`mlwright.data.sql`, database queries.

A file's real format is read from its first bytes and must agree with its extension. Delimited
text is read with every column as a string and no missing-value conversion, so that raw values
such as ``"?"``, ``"NA"``, ``"1,234"`` or blanks reach schema inference as written.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import importlib
import io
import lzma
import os
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import charset_normalizer
import pandas as pd

from mlwright.data.sql import check_url, read_sql, stream_sql
from mlwright.errors import ConfigError, DataError, MlwrightWarning, SourceError
from mlwright.progress import progress_bar
from mlwright.settings import DataSettings

__all__ = ["SUPPORTED_EXTENSIONS", "DataStream", "read_data", "stream_data"]

# extension -> format read
_FORMATS = {
    ".csv": "text",
    ".tsv": "text",
    ".tab": "text",
    ".psv": "text",
    ".txt": "text",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(e for e in _FORMATS if e != ".xls") + tuple(
    _COMPRESSIONS
)
_TEXT_FORMATS = {"text", "jsonl", "json"}
_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 20
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PAR1", "parquet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"%PDF", "pdf"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\x7fELF", "elf"),
    (b"ARROW1", "arrow"),
)
_KIND_NAMES = {
    "gzip": "gzip-compressed data",
    "bz2": "bzip2-compressed data",
    "xz": "xz-compressed data",
    "zstd": "zstd-compressed data",
    "zip": "a zip archive",
    "xlsx": "an Excel workbook (.xlsx)",
    "xls": "a legacy Excel workbook (.xls)",
    "parquet": "a Parquet file",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "pdf": "a PDF document",
    "sqlite": "an SQLite database",
    "elf": "an executable program",
    "arrow": "an Arrow IPC file",
    "duckdb": "a DuckDB database",
    "text": "text (CSV or similar)",
    "binary": "binary data",
}
_EXPECTED = {
    "gzip": "gzip-compressed data",
    "bz2": "bzip2-compressed data",
    "xz": "xz-compressed data",
    "zstd": "zstd-compressed data",
    "zip": "a zip archive",
    "parquet": "a Parquet file (which starts with the bytes 'PAR1')",
    "xlsx": "an Excel workbook (.xlsx)",
    "xls": "a legacy Excel workbook",
    "text": "text",
    "jsonl": "JSON Lines text",
    "json": "JSON text",
}
_WESTERN = {"cp1252", "latin_1", "iso8859_15"}


@dataclass(frozen=True)
class _FileKind:
    """What a file is meant to be, from its extension."""

    format: str  # text, jsonl, json, parquet, xlsx, xls, or "" (from the zip member's name)
    compression: str | None


def read_data(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    query: str | None = None,
    settings: DataSettings | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Read a DataFrame, a data file or a SQL query into a new DataFrame.

    Parameters
    ----------
    source:
        A DataFrame (copied), a path to a CSV/TSV/delimited text, Parquet, JSON Lines or Excel
        file (text formats optionally ``.gz``/``.bz2``/``.xz``/``.zip``/``.zst`` compressed), or
        a database URL such as ``postgresql+psycopg://user@host/db``.
    query:
        The SELECT to run when ``source`` is a database URL; ignored for files.
    settings:
        ``chunk_size`` and ``sql_timeout`` come from here; defaults to ``DataSettings()``.
    progress:
        Show a progress bar on stderr; None shows it only when stderr is a terminal.

    Returns
    -------
    The data with string column names. Delimited text keeps every value as a string.

    Example:
        >>> df = read_data("examples/telco_churn/train.csv")
    """
    settings = settings if settings is not None else DataSettings()
    if isinstance(source, pd.DataFrame):
        return _with_checked_columns(source.copy(), "the DataFrame")
    if isinstance(source, str) and "://" in source:
        url = check_url(source)
        if not query:
            raise ConfigError(
                f"database source '{url.render_as_string(hide_password=True)}' needs a query; "
                "expected a SELECT that returns the rows. Pass --query on the command line, "
                "query= in Python, or set [data] query in mlwright.toml."
            )
        frame = read_sql(source, query, settings=settings, progress=progress)
        return _with_checked_columns(frame, "the query result")
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(
            f"cannot read data from a {type(source).__name__}; expected a file path, "
            "a pandas DataFrame or a database URL. Pass one of these."
        )
    return _read_file(Path(source), settings, progress)


class DataStream:
    """A data source read chunk by chunk, so that memory stays bounded by the chunk size.

    Iterate once for DataFrames of at most ``chunk_size`` rows with string column names;
    ``total_rows`` is known up front for Parquet (None otherwise) and ``fraction_read()`` says how
    far through the source the reader is (by bytes for text files), when that is known. Use it as
    a context manager, so that the file or the database transaction closes even on errors.
    """

    def __init__(
        self,
        name: str,
        chunks: Generator[pd.DataFrame, None, None],
        *,
        total_rows: int | None = None,
        fraction: Callable[[], float | None] | None = None,
    ) -> None:
        self.name = name
        self.total_rows = total_rows
        self._chunks = chunks
        self._fraction = fraction

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self._chunks

    def fraction_read(self) -> float | None:
        """Share of the source read so far (0 to 1), or None when it cannot be known."""
        return None if self._fraction is None else self._fraction()

    def close(self) -> None:
        """Close the file or end the database transaction; safe to call twice."""
        self._chunks.close()

    def __enter__(self) -> DataStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def stream_data(
    source: str | os.PathLike[str],
    *,
    query: str | None = None,
    settings: DataSettings | None = None,
) -> DataStream:
    """Read a data file or a SQL query in chunks of ``settings.chunk_size`` rows.

    Accepts what :func:`read_data` accepts except DataFrames, with the same checks and the same
    values: Parquet through ``iter_batches``, delimited text and JSON Lines through pandas'
    chunked readers, SQL through a server-side cursor. A JSON array or an Excel workbook cannot
    be read in parts; they are read whole and handed out in chunks.

    Parameters
    ----------
    source:
        A path to a data file, or a database URL with ``query``.
    query:
        The SELECT to run when ``source`` is a database URL; ignored for files.
    settings:
        ``chunk_size`` and ``sql_timeout`` come from here; defaults to ``DataSettings()``.

    Returns
    -------
    A :class:`DataStream`; the file is checked now, its rows are read as it is iterated.

    Example:
        >>> with stream_data("examples/telco_churn/test.csv") as stream:
        ...     rows = sum(len(chunk) for chunk in stream)
    """
    settings = settings if settings is not None else DataSettings()
    if isinstance(source, str) and "://" in source:
        url = check_url(source)
        shown = url.render_as_string(hide_password=True)
        if not query:
            raise ConfigError(
                f"database source '{shown}' needs a query; expected a SELECT that returns the "
                "rows. Pass --query on the command line, query= in Python, or set [data] query "
                "in mlwright.toml."
            )
        chunks = stream_sql(source, query, settings=settings)
        return DataStream(f"query on {url.host or Path(str(url.database)).name}", _sql(chunks))
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(
            f"cannot stream data from a {type(source).__name__}; expected a file path or a "
            "database URL. Pass one of these."
        )
    return _stream_file(Path(source), settings)


def _sql(chunks: Iterator[pd.DataFrame]) -> Generator[pd.DataFrame, None, None]:
    try:
        for chunk in chunks:
            if len(chunk):
                yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _with_checked_columns(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    names = [c if isinstance(c, str) else str(c) for c in frame.columns]
    _check_duplicates(names, what, "Rename the columns so that each name is used once.")
    frame.columns = pd.Index(names, dtype=object)
    return frame


def _check_duplicates(names: Sequence[str], what: str, fix: str) -> None:
    counts = Counter(names)
    dups = [f"'{n}' ({k} times)" for n, k in counts.items() if k > 1]
    if dups:
        raise DataError(
            f"{what} has duplicate column names: {', '.join(dups)}; expected each column name "
            f"once. {fix}"
        )


# --- files ---------------------------------------------------------------------------------------


def _read_file(path: Path, settings: DataSettings, progress: bool | None) -> pd.DataFrame:
    kind, size = _checked_kind(path)
    if kind.format == "parquet":
        return _read_parquet(path, settings, progress)
    if kind.format == "xlsx":
        return _read_excel(path, progress)
    return _read_text(path, kind, size, settings, progress)


def _checked_kind(path: Path) -> tuple[_FileKind, int]:
    """The file's kind from its extension, checked against its first bytes, and its size."""
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SourceError(
            f"file '{path}' not found (looked for {path.absolute()}); expected an existing data "
            "file. Check the path and the current directory."
        ) from None
    except OSError as exc:
        raise SourceError(f"cannot read file '{path}': {exc.strerror}. Check the path.") from None
    if path.is_dir():
        raise SourceError(f"'{path}' is a folder; expected a data file. Pass a file inside it.")
    kind = _kind_from_extension(path)
    if size == 0:
        raise DataError(f"file '{name}' is empty; expected a header line and at least one data row")
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise SourceError(f"cannot read file '{path}': {exc.strerror}. Check the path.") from None
    actual = _magic(head)
    if actual == "zip" and _is_xlsx(path):
        actual = "xlsx"
    outer = kind.compression or kind.format
    if outer == "xls" and actual == "xls":
        raise SourceError(
            f"file '{name}' is a legacy Excel workbook (.xls), which mlwright does not read; "
            "expected .xlsx, CSV or Parquet. Save it as .xlsx or CSV from Excel."
        )
    if kind.compression is None and kind.format in _TEXT_FORMATS:
        if actual is not None:
            _mismatch(name, path, actual, kind.format)
    elif actual != outer:
        _mismatch(name, path, actual or _text_or_binary(head), outer)
    return kind, size


def _kind_from_extension(path: Path) -> _FileKind:
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in _COMPRESSIONS:
        inner = suffixes[-2] if len(suffixes) > 1 and suffixes[-2] in _FORMATS else ""
        if _FORMATS.get(inner, "text") not in _TEXT_FORMATS:
            raise SourceError(
                f"file '{path.name}' is a compressed {inner} file, which mlwright does not read; "
                f"expected compression only around text formats (CSV, JSON Lines). "
                f"Decompress it first."
            )
        default = "" if last == ".zip" else "text"
        return _FileKind(_FORMATS.get(inner, default), _COMPRESSIONS[last])
    if last in _FORMATS:
        return _FileKind(_FORMATS[last], None)
    raise SourceError(
        f"file '{path.name}' has the extension '{last or '(none)'}', which mlwright does not "
        f"read; expected one of {', '.join(SUPPORTED_EXTENSIONS)}. Rename the file if it is "
        "one of these formats, or convert it to CSV or Parquet."
    )


def _magic(head: bytes) -> str | None:
    for prefix, kind in _MAGIC:
        if head.startswith(prefix):
            return kind
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bz2"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return None


def _text_or_binary(head: bytes) -> str:
    return "binary" if _looks_binary(head) else "text"


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(sample) > 0.02


def _is_xlsx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _mismatch(name: str, path: Path, actual: str, expected: str) -> None:
    ext = "".join(path.suffixes[-2:]) if len(path.suffixes) > 1 else path.suffix
    raise SourceError(
        f"file '{name}' has the extension '{ext}' but its content looks like "
        f"{_KIND_NAMES.get(actual, actual)}; expected {_EXPECTED.get(expected, expected)}. "
        "Check that this is the right file, or rename it to match its content."
    )


def _stream_file(path: Path, settings: DataSettings) -> DataStream:
    kind, size = _checked_kind(path)
    if kind.format == "parquet":
        return _stream_parquet(path, settings.chunk_size)
    if kind.format == "xlsx":
        return _slices(path.name, _read_excel(path, False), settings.chunk_size)
    plan = _text_plan(path, kind)
    if plan.is_array:
        return _slices(path.name, _read_json_array(path, kind, plan.encoding), settings.chunk_size)
    position = [0]
    chunks = _stream_text(path, kind, plan, settings.chunk_size, position)
    return DataStream(path.name, chunks, fraction=lambda: min(1.0, position[0] / size))


def _slices(name: str, frame: pd.DataFrame, chunk_size: int) -> DataStream:
    def chunks() -> Generator[pd.DataFrame, None, None]:
        for start in range(0, len(frame), chunk_size):
            yield frame.iloc[start : start + chunk_size].reset_index(drop=True)

    return DataStream(name, chunks(), total_rows=len(frame))


def _stream_text(
    path: Path, kind: _FileKind, plan: _TextPlan, chunk_size: int, position: list[int]
) -> Generator[pd.DataFrame, None, None]:
    """Yield the chunks of a text file; ``position[0]`` follows the bytes read from disk."""
    reader = _csv_chunks if plan.format == "text" else _jsonl_chunks
    rows = 0
    try:
        with _open_stream(path, kind.compression) as (stream, raw):
            wrapper = io.TextIOWrapper(stream, encoding=plan.encoding, newline="")
            for chunk in reader(wrapper, plan.sample, path, chunk_size):
                position[0] = raw.tell()
                if len(chunk) == 0:
                    continue
                chunk.columns = pd.Index([str(c) for c in chunk.columns], dtype=object)
                rows += len(chunk)
                yield chunk
    except UnicodeDecodeError as exc:
        # already-yielded rows cannot be read again in another encoding, as read_data does
        raise SourceError(
            f"file '{path.name}' is not valid {plan.encoding} text after row {rows} "
            f"({exc.reason}); expected one text encoding for the whole file. Re-save it as UTF-8."
        ) from None
    except _CORRUPT as exc:
        raise _corrupt(path.name, kind, exc) from None
    if rows == 0:
        raise DataError(
            f"file '{path.name}' has a header but no data rows; expected at least one data row. "
            "Check that the file was fully written."
        )


def _stream_parquet(path: Path, chunk_size: int) -> DataStream:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def unreadable(exc: BaseException) -> SourceError:
        return SourceError(
            f"cannot read Parquet file '{path.name}': {_first_line(exc)}; expected a complete, "
            "valid Parquet file. Re-export it, or check that it was fully copied."
        )

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(exc) from None
    names = list(pf.schema_arrow.names)
    _check_duplicates(names, f"file '{path.name}'", "Rewrite the file with unique names.")
    total = int(pf.metadata.num_rows)
    _check_rows(pd.DataFrame(columns=names, index=range(min(total, 1))), path.name)

    def chunks() -> Generator[pd.DataFrame, None, None]:
        try:
            for batch in pf.iter_batches(batch_size=chunk_size):
                frame: pd.DataFrame = batch.to_pandas()
                frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
                yield frame
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(exc) from None
        finally:
            pf.close()

    return DataStream(path.name, chunks(), total_rows=total)


# --- parquet and excel ---------------------------------------------------------------------------


def _read_parquet(path: Path, settings: DataSettings, progress: bool | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        _check_duplicates(names, f"file '{path.name}'", "Rewrite the file with unique names.")
        batches = []
        with progress_bar(progress) as bar:
            task = bar.add_task(f"reading {path.name}", total=pf.metadata.num_rows)
            for batch in pf.iter_batches(batch_size=settings.chunk_size):
                batches.append(batch)
                bar.advance(task, batch.num_rows)
        table = pa.Table.from_batches(batches, schema=pf.schema_arrow)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(
            f"cannot read Parquet file '{path.name}': {_first_line(exc)}; expected a complete, "
            "valid Parquet file. Re-export it, or check that it was fully copied."
        ) from None
    frame: pd.DataFrame = table.to_pandas()
    return _check_rows(frame, path.name)


def _read_excel(path: Path, progress: bool | None) -> pd.DataFrame:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise SourceError(
            f"cannot read Excel file '{path.name}': {_first_line(exc)}; expected a valid .xlsx "
            "workbook. Open and re-save it in Excel, or export the sheet to CSV."
        ) from None
    try:
        sheet = book.worksheets[0]
        if len(book.worksheets) > 1:
            warnings.warn(
                f"file '{path.name}' has {len(book.worksheets)} sheets; read only the first, "
                f"'{sheet.title}'. Move the data to the first sheet to read another one.",
                MlwrightWarning,
                stacklevel=5,
            )
        rows: list[tuple[Any, ...]] = []
        with progress_bar(progress) as bar:
            task = bar.add_task(f"reading {path.name}", total=sheet.max_row)
            for row in sheet.iter_rows(values_only=True):
                if any(v is not None for v in row):
                    rows.append(tuple(row))
                bar.advance(task)
    finally:
        book.close()
    if not rows:
        raise DataError(
            f"file '{path.name}' is empty; expected a header line and at least one data row"
        )
    header, body = rows[0], rows[1:]
    keep = [i for i, h in enumerate(header) if h is not None or any(r[i] is not None for r in body)]
    names = [str(header[i]) if header[i] is not None else f"Unnamed: {i}" for i in keep]
    _check_duplicates(names, f"file '{path.name}'", "Rename the columns in the header row.")
    frame = pd.DataFrame([[r[i] for i in keep] for r in body], columns=names)
    return _check_rows(frame.infer_objects(), path.name)


def _check_rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DataError(f"file '{name}' has no columns; expected a header and data rows.")
    if len(frame) == 0:
        raise DataError(
            f"file '{name}' has a header but no data rows; expected at least one data row. "
            "Check that the file was fully written."
        )
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    return frame


# --- text: CSV and friends, JSON Lines -----------------------------------------------------------


@contextmanager
def _open_stream(path: Path, compression: str | None) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Yield (decompressed bytes, the raw file underneath, for progress by position)."""
    raw = path.open("rb")
    try:
        stream: IO[bytes]
        if compression is None:
            stream = raw
        elif compression == "gzip":
            stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw))
        elif compression == "bz2":
            stream = bz2.BZ2File(raw)
        elif compression == "xz":
            stream = lzma.LZMAFile(raw)
        elif compression == "zip":
            archive = zipfile.ZipFile(raw)
            stream = archive.open(_zip_member(archive, path))
        else:
            stream = _zstd_reader(raw, path)
        yield stream, raw
    finally:
        raw.close()


def _zip_member(archive: zipfile.ZipFile, path: Path) -> str:
    members = [
        n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")
    ]
    if len(members) != 1:
        raise SourceError(
            f"zip archive '{path.name}' holds {len(members)} files ({', '.join(members[:5])}); "
            "expected exactly one data file. Unzip it and pass the file you want."
        )
    return members[0]


def _zstd_reader(raw: IO[bytes], path: Path) -> IO[bytes]:
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        raise SourceError(
            f"file '{path.name}' is zstd-compressed and the 'zstandard' package is not "
            "installed; expected it for .zst files. Run `pip install zstandard`, or decompress "
            "the file first."
        ) from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw)
    return reader


_CORRUPT = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)


@dataclass(frozen=True)
class _TextPlan:
    """How to read a text file: its format, its encoding and a decoded sample of its start."""

    format: str  # text, jsonl or json
    encoding: str
    sample: str
    is_array: bool  # a JSON array of records, which is read whole


def _read_text(
    path: Path, kind: _FileKind, size: int, settings: DataSettings, progress: bool | None
) -> pd.DataFrame:
    name = path.name
    plan = _text_plan(path, kind)
    encoding, text, fmt = plan.encoding, plan.sample, plan.format
    if plan.is_array:
        return _read_json_array(path, kind, encoding)
    try:
        try:
            frame = _read_chunks(path, kind, size, encoding, text, fmt, settings, progress)
        except UnicodeDecodeError:
            if encoding != "utf-8":
                raise
            # the sample was UTF-8 but a later part is not: guess from where it breaks
            encoding = _encoding_of_later_part(path, kind, fmt)
            frame = _read_chunks(path, kind, size, encoding, text, fmt, settings, progress)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"file '{name}' is not valid {encoding} text throughout ({exc.reason}); expected one "
            "text encoding for the whole file. Re-save it as UTF-8."
        ) from None
    except _CORRUPT as exc:
        raise _corrupt(name, kind, exc) from None
    return _check_rows(frame, name)


def _text_plan(path: Path, kind: _FileKind) -> _TextPlan:
    """Check a text file's start (format inside archives, emptiness) and detect its encoding."""
    name = path.name
    try:
        with _open_stream(path, kind.compression) as (stream, _):
            member = getattr(stream, "name", "") if kind.compression == "zip" else ""
            sample = stream.read(_SAMPLE_BYTES)
            complete = len(sample) < _SAMPLE_BYTES or not stream.read(1)
    except _CORRUPT as exc:
        raise _corrupt(name, kind, exc) from None
    fmt = kind.format or _FORMATS.get(Path(str(member)).suffix.lower(), "text")
    if fmt not in _TEXT_FORMATS:
        raise SourceError(
            f"zip archive '{name}' holds '{member}', which is not a text format; expected CSV or "
            "JSON Lines inside a zip. Unzip it and pass the file itself."
        )
    inner = _magic(sample[:64])
    if inner is not None and kind.compression is not None:
        raise SourceError(
            f"file '{name}' contains {_KIND_NAMES.get(inner, inner)} once decompressed; "
            f"expected {_EXPECTED[fmt]}. Decompress it and pass the file itself."
        )
    if not sample.strip():
        raise DataError(f"file '{name}' is empty; expected a header line and at least one data row")
    encoding = _detect_encoding(sample, name, fmt)
    text = _decode_sample(sample, encoding, complete)
    return _TextPlan(fmt, encoding, text, fmt == "json" and text.lstrip().startswith("["))


def _read_chunks(
    path: Path,
    kind: _FileKind,
    size: int,
    encoding: str,
    sample: str,
    fmt: str,
    settings: DataSettings,
    progress: bool | None,
) -> pd.DataFrame:
    reader = _csv_chunks if fmt == "text" else _jsonl_chunks
    chunks = []
    with progress_bar(progress) as bar:
        task = bar.add_task(f"reading {path.name}", total=size)
        with _open_stream(path, kind.compression) as (stream, raw):
            wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="")
            for chunk in reader(wrapper, sample, path, settings.chunk_size):
                chunks.append(chunk)
                bar.update(task, completed=raw.tell())
        bar.update(task, completed=size)
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _encoding_of_later_part(path: Path, kind: _FileKind, fmt: str) -> str:
    with _open_stream(path, kind.compression) as (stream, _):
        data = stream.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        window = data[max(0, exc.start - 65_536) : exc.start + 65_536]
    else:  # pragma: no cover - the caller saw a decoding error
        return "utf-8"
    return _detect_encoding(window, path.name, fmt, skip_utf8=True)


def _corrupt(name: str, kind: _FileKind, exc: BaseException) -> SourceError:
    what = _KIND_NAMES.get(kind.compression or "", "a file")
    return SourceError(
        f"cannot read '{name}': {_first_line(exc)}; expected complete {what}. The file may be "
        "truncated or corrupt: copy or export it again."
    )


def _detect_encoding(sample: bytes, name: str, fmt: str, *, skip_utf8: bool = False) -> str:
    """The encoding of a text sample; warns when it is not UTF-8."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if sample.startswith(bom):
            if enc.startswith("utf-8"):
                return enc
            return _warn_encoding(name, enc)
    if not skip_utf8:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    guess = _utf16_without_bom(sample) or _guess_encoding(sample)
    wide = guess is not None and codecs.lookup(guess).name.startswith(("utf-16", "utf-32"))
    if guess is None or (_looks_binary(sample) and not wide):
        actual = _magic(sample[:64]) or "binary"
        raise SourceError(
            f"file '{name}' does not decode as text in any common encoding (it looks like "
            f"{_KIND_NAMES.get(actual, actual)}); expected {_EXPECTED[fmt]}. Check that this is "
            "the right file, or re-save it as UTF-8."
        )
    return _warn_encoding(name, guess)


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: mostly-ASCII text has a zero in every other byte."""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 8:
        return None
    for zeros, other, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) > 0.7 * len(zeros) and other.count(0) < 0.05 * len(other):
            usable = sample[: len(sample) - len(sample) % 2]
            return encoding if _decodes(usable, encoding) else None
    return None


def _guess_encoding(sample: bytes) -> str | None:
    """The most likely encoding of a non-UTF-8 sample, or None when nothing fits.

    Western text (mostly ASCII letters with some accented ones) is read as Windows-1252, a
    superset of latin-1: on short samples charset-normalizer often picks a wrong sibling.
    """
    if _looks_western(sample):
        return "cp1252"
    matches = list(charset_normalizer.from_bytes(sample[: 256 * 1024]))
    if not matches:
        return None
    known = [m for m in matches if m.language != "Unknown"] or matches
    least = min(m.chaos for m in known)
    top = [m for m in known if m.chaos <= least + 0.01]
    for match in top:
        if _WESTERN & {match.encoding, *match.could_be_from_charset}:
            return "cp1252" if _decodes(sample, "cp1252") else "latin_1"
    encoding: str = top[0].encoding
    return encoding


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _looks_western(sample: bytes) -> bool:
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    extra = [c for c in text if ord(c) > 127]
    if not extra or not all(c.isalpha() or c in _WESTERN_SYMBOLS for c in extra):
        return False
    letters = sum(1 for c in text if c.isalpha())
    return sum(1 for c in extra if c.isalpha()) <= 0.3 * letters


_WESTERN_SYMBOLS = frozenset("€£¥¢°©®™±§¶«»¿¡·–—‘’“”…×÷µ\xa0")


def _warn_encoding(name: str, encoding: str) -> str:
    label = {"cp1252": "cp1252 (Windows Western European, a superset of latin-1)"}.get(
        encoding, encoding
    )
    warnings.warn(
        f"file '{name}' is not UTF-8; read it with the encoding {label}. Check a few values "
        "with accents, or re-save the file as UTF-8 to silence this warning.",
        MlwrightWarning,
        stacklevel=6,
    )
    return encoding


def _decode_sample(sample: bytes, encoding: str, complete: bool) -> str:
    text: str = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        sample, final=complete
    )
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text.lstrip("\ufeff")


def _sniff_delimiter(text: str, path: Path) -> str:
    """The delimiter among , ; tab | that splits the sample into the most consistent columns."""
    lines = text.splitlines(keepends=True)[:200]
    preferred = {".tsv": "\t", ".tab": "\t", ".psv": "|"}.get(
        next((s.lower() for s in reversed(path.suffixes) if s.lower() in _FORMATS), ""), ","
    )
    best, best_score = preferred, (False, 0.0, 0, False)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO("".join(lines)), delimiter=delim) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        width = counts[0]
        consistency = sum(1 for c in counts if c == width) / len(counts)
        score = (width > 1, consistency, width, delim == preferred)
        if score > best_score:
            best, best_score = delim, score
    return best


def _csv_chunks(
    handle: IO[str], sample: str, path: Path, chunk_size: int
) -> Iterator[pd.DataFrame]:
    delim = _sniff_delimiter(sample, path)
    header = next(csv.reader(io.StringIO(sample), delimiter=delim), [])
    _check_duplicates(
        header, f"file '{path.name}'", "Rename the columns in the header line of the file."
    )
    try:
        reader = pd.read_csv(
            handle,
            sep=delim,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            chunksize=chunk_size,
        )
        with reader:
            yield from reader
    except pd.errors.EmptyDataError:
        raise DataError(
            f"file '{path.name}' is empty; expected a header line and at least one data row"
        ) from None
    except pd.errors.ParserError as exc:
        raise SourceError(
            f"cannot parse '{path.name}' as delimited text (delimiter {delim!r}): "
            f"{_first_line(exc)}; expected the same number of fields on every line as in the "
            "header. Fix that line, or quote values that contain the delimiter."
        ) from None


def _jsonl_chunks(
    handle: IO[str], sample: str, path: Path, chunk_size: int
) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_json(
            cast(Any, handle),  # pandas-stubs only type bytes buffers for chunked JSON Lines
            lines=True,
            chunksize=chunk_size,
            dtype=False,  # keep JSON's own types; no date guessing from column names
        )
        with reader:
            yield from reader
    except UnicodeDecodeError:
        raise
    except ValueError as exc:
        raise SourceError(
            f"cannot parse '{path.name}' as JSON Lines: {_first_line(exc)}; expected one JSON "
            "object per line. Fix the line, or convert the file to CSV."
        ) from None


def _read_json_array(path: Path, kind: _FileKind, encoding: str) -> pd.DataFrame:
    try:
        with _open_stream(path, kind.compression) as (stream, _):
            handle = io.TextIOWrapper(stream, encoding=encoding)
            frame = pd.read_json(handle, orient="records", dtype=False)
    except ValueError as exc:
        raise SourceError(
            f"cannot parse '{path.name}' as a JSON array of records: {_first_line(exc)}; "
            'expected [{"column": value, ...}, ...] or JSON Lines. Fix or convert the file.'
        ) from None
    return _check_rows(frame, path.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(".")
