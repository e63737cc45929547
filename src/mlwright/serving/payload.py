"""Request bodies: the size limit, the content types accepted, and CSV/Parquet decoding."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from starlette.requests import Request

from mlwright.serving.problems import ApiError

__all__ = ["BodyKind", "body_kind", "read_body", "read_csv", "read_parquet"]

BodyKind = str  # "json", "csv" or "parquet"

_KINDS = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/octet-stream": "parquet",
}
SUPPORTED = (
    "application/json, text/csv, application/vnd.apache.parquet "
    "(or application/x-parquet, application/octet-stream)"
)


def body_kind(content_type: str | None) -> BodyKind:
    """Which decoder a Content-Type needs; a missing one is taken as JSON."""
    if not content_type:
        return "json"
    media = content_type.split(";", 1)[0].strip().lower()
    kind = _KINDS.get(media)
    if kind is None and media.endswith("+json"):
        kind = "json"
    if kind is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body's Content-Type '{media}' is not one this server reads.",
            expected=SUPPORTED,
            hint="Send JSON rows with 'Content-Type: application/json', or a file as text/csv "
            "or application/vnd.apache.parquet.",
        )
    return kind


def _too_large(limit: int, size: int | None) -> ApiError:
    got = f"{size / 1048576:.1f} MiB" if size is not None else "more than that"
    return ApiError(
        413,
        "body_too_large",
        f"the request body is {got}, over the {limit / 1048576:g} MiB limit.",
        expected=f"a body of at most {limit} bytes",
        hint="Split the rows over several requests, or start the server with a larger "
        "--max-body-mb.",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it passes ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(
                400,
                "invalid_content_length",
                f"the Content-Length header '{length}' is not a number.",
                expected="the body's size in bytes",
                hint="Let the HTTP client set Content-Length.",
            ) from None
        if declared > limit:
            raise _too_large(limit, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


def _unreadable(kind: str, exc: BaseException, expected: str) -> ApiError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ApiError(
        422,
        f"invalid_{kind}",
        f"the {kind.upper() if kind == 'csv' else kind.capitalize()} body cannot be read: "
        f"{detail[:200]}.",
        expected=expected,
        hint="Check that the body is a whole file of the type named by Content-Type.",
    )


def read_csv(body: bytes) -> pd.DataFrame:
    """Every value as text, as `mlwright predict` reads a CSV (conform parses them)."""
    try:
        return pd.read_csv(
            io.BytesIO(body), dtype=str, keep_default_na=False, encoding="utf-8", engine="c"
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _unreadable("csv", exc, "UTF-8 CSV text with a header row of column names") from None


def _flat(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _flat(t.value_type)
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_temporal(t)
        or pa.types.is_null(t)
        or pa.types.is_decimal(t)
    )


def read_parquet(body: bytes) -> pd.DataFrame:
    """A Parquet file of flat columns (numbers, text, booleans, dates); no pickle is involved."""
    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable("parquet", exc, "a Parquet file") from None
    nested = [f.name for f in table.schema if not _flat(f.type)]
    if nested:
        raise ApiError(
            422,
            "invalid_parquet",
            f"Parquet column(s) {nested[:10]} hold nested values (lists, structs or binary).",
            expected="flat columns of numbers, text, booleans or dates",
            hint="Flatten those columns before sending.",
        )
    try:
        frame: pd.DataFrame = table.to_pandas()
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        raise _unreadable("parquet", exc, "a Parquet file") from None
    frame.columns = pd.Index([str(c) for c in frame.columns])
    return frame
