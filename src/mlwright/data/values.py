"""Understanding messy raw values: missing markers, numbers written as text, dates in any format.

Every function takes a pandas Series as the loader delivers it: raw strings from CSV, or native
dtypes from Parquet, SQL and DataFrames. String work is done once per distinct value, so a column
of 50,000 rows with 3 distinct values costs 3 parses, not 50,000.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "MISSING_MARKERS",
    "Distinct",
    "detect_datetime_format",
    "distinct_texts",
    "is_missing",
    "is_text_dtype",
    "number_token",
    "parse_datetimes",
    "parse_numbers",
    "spread",
]

MISSING_MARKERS: frozenset[str] = frozenset(
    {"", "?", "na", "n/a", "nan", "null", "none", "unknown", "-", "--", "missing", "#n/a"}
)

_CURRENCY = "$€£¥₹₽₩₺¢"
_NUMBERISH = re.compile(r"[\d\s,.%()+\-eE" + _CURRENCY + "]+")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS_COMMA = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_THOUSANDS_SPACE = re.compile(r"\d{1,3}(?: \d{3})+(?:\.\d*)?")
_INFINITY = {"inf": np.inf, "+inf": np.inf, "-inf": -np.inf, "infinity": np.inf}
_INFINITY.update({"+infinity": np.inf, "-infinity": -np.inf})

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_LIKE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?"  # 2015-02-24, 2015/2/24, 2015-02
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 24-02-2015, 02/24/15
    r"|\d{1,2}[\s-]*" + _MONTH + r"[\s,-]*\d{2,4}"  # 24 Feb 2015, 24-feb-15
    r"|" + _MONTH + r"\s*\d{1,2}(?:st|nd|rd|th)?,?\s*\d{2,4})"  # February 24, 2015
    r"(?:[\sT].*)?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}")

_DATE_PARTS = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%m/%d/%Y",  # month-first before day-first: ties on "/" go to the US reading
    "%d/%m/%Y",
    "%d-%m-%Y",  # day-first before month-first: ties on "-" and "." go to the European one
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%m-%y",
    "%d.%m.%y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y-%m",
]
_TIME_PARTS = [
    "",
    " %H:%M",
    " %H:%M:%S",
    " %H.%M",
    " %H:%M:%S.%f",
    "T%H:%M",
    "T%H:%M:%S",
    "T%H:%M:%S.%f",
    " %I:%M %p",
    " %I:%M:%S %p",
]
DATETIME_FORMATS = [d + t for d in _DATE_PARTS for t in _TIME_PARTS]

# datetime64[ns] holds 1677-09-21 .. 2262-04-11; later or earlier dates cannot be represented
_NS_MIN = pd.Timestamp("1677-09-22")
_NS_MAX = pd.Timestamp("2262-04-10")


def is_text_dtype(s: pd.Series) -> bool:
    """True when ``s`` holds Python objects or strings rather than a native numeric/date dtype."""
    dtype = s.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _is_number_dtype(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) and not is_text_dtype(s))


def _is_datetime_dtype(s: pd.Series) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(s.dtype))


def number_token(value: Any) -> str:
    """The text of one raw value; integer-valued floats lose their ``.0`` (``1.0`` -> ``'1'``)."""
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


class Distinct(NamedTuple):
    """A column factorised once: ``texts[codes]`` is each row's stripped text (code ``-1``:
    NaN/None), and ``marker`` flags the distinct texts that are missing markers."""

    codes: np.ndarray
    texts: np.ndarray
    marker: np.ndarray


def distinct_texts(s: pd.Series) -> Distinct:
    """Codes into the distinct values of ``s`` (``-1``: NaN/None), those values stripped, and
    which of them are missing markers.

    String work runs over the distinct values in plain Python: for the few hundred values a
    column usually has, that is several times faster than a pandas string method's overhead.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    texts = np.array(
        [v.strip() if isinstance(v, str) else number_token(v) for v in uniques.tolist()],
        dtype=object,
    )
    return Distinct(np.asarray(codes, dtype=np.intp), texts, _marker_mask(texts))


def spread(per_distinct: np.ndarray, codes: np.ndarray, fill: Any) -> np.ndarray:
    """Per-row values from per-distinct-value ones; ``fill`` where the code is ``-1`` (NaN)."""
    # code -1 picks the appended fill value
    extended = np.empty(len(per_distinct) + 1, dtype=per_distinct.dtype)
    extended[:-1] = per_distinct
    extended[-1] = fill
    out: np.ndarray = extended[codes]
    return out


def _marker_mask(texts: np.ndarray) -> np.ndarray:
    return np.fromiter(
        (str(t).casefold() in MISSING_MARKERS for t in texts), dtype=bool, count=len(texts)
    )


def is_missing(s: pd.Series) -> np.ndarray:
    """Mask of values that are NaN/None or a missing marker such as ``''``, ``'?'`` or ``'N/A'``."""
    if not is_text_dtype(s):
        return np.asarray(s.isna().to_numpy(), dtype=bool)
    codes, _, marker = distinct_texts(s)
    return np.asarray((codes < 0) | spread(marker, codes, False), dtype=bool)


def _parse_number_text(text: str) -> float:
    t = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    negative = t.startswith("(") and t.endswith(")")
    if negative:
        t = t[1:-1].strip()
    percent = t.endswith("%")
    if percent:
        t = t[:-1].strip()
    sign = ""
    if t[:1] in ("+", "-"):
        sign, t = t[0], t[1:].strip()
    t = t.strip(_CURRENCY).strip()
    if not sign and t[:1] in ("+", "-"):
        sign, t = t[0], t[1:].strip()
    if _THOUSANDS_COMMA.fullmatch(t):
        t = t.replace(",", "")
    elif _THOUSANDS_SPACE.fullmatch(t):
        t = t.replace(" ", "")
    if _PLAIN_NUMBER.fullmatch(t):
        value = float(t)
    elif t.casefold() in _INFINITY:
        value = float(_INFINITY[t.casefold()])
    else:
        return float("nan")
    if sign == "-":
        value = -value
    if negative:
        value = -value
    return value / 100.0 if percent else value


def _parse_number_texts(texts: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Float value of each text, NaN where it is not a number or where ``skip`` is set."""
    if len(texts) == 0:
        return np.zeros(0, dtype=np.float64)
    values = np.array(pd.to_numeric(texts, errors="coerce"), dtype=np.float64)
    for pos in np.flatnonzero(np.isnan(values) & ~skip):
        text = str(texts[pos])
        if _NUMBERISH.fullmatch(text) or text.casefold() in _INFINITY:
            values[pos] = _parse_number_text(text)
    values[skip] = np.nan
    return values


def parse_numbers(s: pd.Series, distinct: Distinct | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values of ``s`` and a mask of non-missing values that are not numbers.

    Understands ``'1,234'``, ``'1 234'``, ``'$12.50'``, ``'€3'``, ``'45%'`` (0.45), ``'(12)'``
    (an accounting negative) and ``'-3.5e2'``; native numbers pass through. ``'inf'`` and
    infinite numbers come back as ``±inf``: callers decide what to do with them. ``distinct``:
    ``distinct_texts(s)`` when the caller has it already.
    """
    n = len(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64), np.zeros(n, dtype=bool)
    if _is_number_dtype(s):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64), np.zeros(n, dtype=bool)
    if _is_datetime_dtype(s):
        return np.full(n, np.nan), np.asarray(s.notna().to_numpy(), dtype=bool)
    codes, texts, marker = distinct or distinct_texts(s)
    parsed = _parse_number_texts(texts, skip=marker)
    bad = ~marker & np.isnan(parsed)
    values = spread(parsed.astype(np.float64), codes, np.nan)
    return values, spread(bad, codes, False)


def _to_naive_ns(values: pd.Series) -> pd.Series:
    """Datetimes as naive ``datetime64[ns]`` (zoned ones in UTC); out-of-range ones become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    inside = values.isna() | ((values >= _NS_MIN) & (values <= _NS_MAX))
    values = values.where(inside)
    return values.astype("datetime64[ns]")


def _parse_date_texts(texts: np.ndarray, fmt: str | None, dayfirst: bool) -> pd.Series:
    """Parse distinct date texts: the format first, then ISO 8601, then any date-like text."""
    out = pd.Series(pd.NaT, index=range(len(texts)), dtype="datetime64[ns]")
    if len(texts) == 0:
        return out
    series = pd.Series(texts, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt is not None:
            parsed = pd.to_datetime(series, format=fmt, errors="coerce")
            out = _to_naive_ns(parsed)
        todo = out.isna()
        if todo.any():
            iso = pd.to_datetime(series[todo], format="ISO8601", errors="coerce", utc=True)
            out[todo] = _to_naive_ns(iso)
        todo = out.isna() & series.str.fullmatch(_DATE_LIKE).fillna(False).astype(bool)
        if todo.any():
            mixed = pd.to_datetime(
                series[todo], format="mixed", dayfirst=dayfirst, errors="coerce", utc=True
            )
            out[todo] = _to_naive_ns(mixed)
    return out


def parse_datetimes(s: pd.Series, fmt: str | None, dayfirst: bool) -> tuple[pd.Series, np.ndarray]:
    """Naive ``datetime64[ns]`` values of ``s`` and a mask of non-missing values that are not dates.

    Text is parsed with ``fmt`` when given; values that do not fit it are tried as ISO 8601 and
    then as any recognisable date (``dayfirst`` settles ``01/02/2020``). Zoned values are
    converted to UTC. The result keeps the index of ``s``.
    """
    if _is_datetime_dtype(s):
        return _to_naive_ns(s.copy()), np.zeros(len(s), dtype=bool)
    codes, texts, marker = distinct_texts(s)
    parsed = _parse_date_texts(np.where(marker, "", texts), fmt, dayfirst).to_numpy()
    bad = ~marker & pd.isna(parsed)
    values = spread(parsed.astype("datetime64[ns]"), codes, np.datetime64("NaT", "ns"))
    failed = spread(bad, codes, False)
    result = pd.Series(values, index=s.index, name=s.name, dtype="datetime64[ns]")
    return result, np.asarray(failed, dtype=bool)


def _dayfirst_evidence(texts: pd.Series) -> bool | None:
    """True if some ``a/b/yyyy`` has ``a > 12`` and none ``b > 12``; None if there are none."""
    parts = texts.str.extract(_DAY_MONTH).dropna()
    if parts.empty:
        return None
    first = parts[0].astype(int)
    second = parts[1].astype(int)
    return bool((first > 12).any() and not (second > 12).any())


def detect_datetime_format(s: pd.Series) -> tuple[str | None, bool, float]:
    """The date format of a text column: ``(format, dayfirst, fraction of values parsed)``.

    The format is None for ISO 8601 text with varying precision or for mixed formats; ``dayfirst``
    is decided from values whose first part is over 12. The fraction counts rows, missing
    markers excluded. Native datetime columns give ``(None, False, 1.0)``.
    """
    if _is_datetime_dtype(s):
        return None, False, 1.0
    if not is_text_dtype(s):
        return None, False, 0.0
    codes, texts, marker = distinct_texts(s)
    keep = ~marker
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))[keep].astype(np.float64)
    texts = texts[keep]
    if len(texts) == 0:
        return None, False, 0.0
    if len(texts) > 2000:
        chosen = np.random.default_rng(0).choice(len(texts), 2000, replace=False)
        texts, counts = texts[chosen], counts[chosen]
    total = counts.sum()
    sample = pd.Series(texts, dtype=object)
    like = sample.str.fullmatch(_DATE_LIKE).fillna(False).to_numpy(dtype=bool)
    if counts[like].sum() < 0.5 * total:
        return None, False, float(counts[like].sum() / total)
    best: tuple[str | None, bool, float] = (None, False, 0.0)
    for fmt in _plausible_formats(sample[like]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        fraction = float(counts[parsed.notna().to_numpy()].sum() / total)
        if fraction > best[2]:
            dayfirst = "%d" in fmt and "%m" in fmt and fmt.index("%d") < fmt.index("%m")
            best = (fmt, dayfirst, fraction)
    if best[2] >= 0.999:
        return best
    evidence = _dayfirst_evidence(sample[like])
    dayfirst = best[1] if evidence is None else evidence
    parsed_any = _parse_date_texts(texts, None, dayfirst).notna().to_numpy()
    fraction = float(counts[parsed_any].sum() / total)
    if fraction > best[2] + 1e-9:
        return None, dayfirst, fraction
    return best


def _plausible_formats(sample: pd.Series) -> list[str]:
    """Candidate formats that parse at least some of the first 50 values."""
    head = sample.iloc[:50]
    if head.empty:
        return []
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in DATETIME_FORMATS:
            if pd.to_datetime(head, format=fmt, errors="coerce").notna().any():
                found.append(fmt)
    return found
