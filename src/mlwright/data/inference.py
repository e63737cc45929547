"""Schema and task inference: what each column is, and what kind of problem the target poses."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.data.values import (
    detect_datetime_format,
    distinct_texts,
    is_text_dtype,
    number_token,
    parse_numbers,
)
from mlwright.errors import DataError

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "check_frame", "detect_task", "infer_schema"]

TaskName = Literal["binary", "multiclass", "regression"]

TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})

NUMERIC_SHARE = 0.95  # of non-missing values that must parse as numbers
DATETIME_SHARE = 0.95  # of non-missing values that must parse as dates
TARGET_NUMERIC_SHARE = 0.99
_ID_NAME_CASED = re.compile(r"[a-z](?:Id|ID)$")


@dataclass
class _Facts:
    """What is known about one column's non-missing values."""

    n_rows: int
    n_present: int
    texts: np.ndarray  # distinct stripped texts, missing markers removed
    counts: np.ndarray  # rows holding each of ``texts``
    numbers: np.ndarray | None = None  # float value of each of ``texts``, NaN if not a number

    @property
    def n_unique(self) -> int:
        return len(self.texts)

    @property
    def unique_share(self) -> float:
        return self.n_unique / max(self.n_present, 1)

    def values(self) -> np.ndarray:
        """The distinct values as numbers (parsed once, then cached)."""
        if self.numbers is None:
            self.numbers, _ = parse_numbers(pd.Series(self.texts, dtype=object))
        return self.numbers


def column_names(df: pd.DataFrame) -> list[str]:
    """The column names as strings; DataError when any name is used twice."""
    names = [str(c) for c in df.columns]
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise DataError(
            f"duplicate column name(s) {dupes}: each column needs a unique name. "
            "Rename or drop the duplicates."
        )
    return names


def check_frame(df: pd.DataFrame) -> None:
    """Raise DataError for a frame with no columns, no rows or duplicate column names."""
    if df.shape[1] == 0:
        raise DataError(
            "the data has no columns. Expected a table with a header row and at least a feature "
            "and a target column; check the file and its separator."
        )
    names = column_names(df)
    if len(df) == 0:
        raise DataError(
            f"the data has no rows (columns are {names[:10]}). Expected at least 2 rows; "
            "check the file or the query."
        )


def infer_schema(df: pd.DataFrame, target: str) -> Schema:
    """Infer the role of every column of ``df``, with ``target`` as the column to predict.

    Example:
        >>> infer_schema(pd.DataFrame({"x": ["1", "2"], "y": ["a", "b"]}), "y")["x"].role
        <Role.NUMERIC: 'numeric'>
    """
    check_frame(df)
    names = [str(c) for c in df.columns]
    if target not in names:
        shown = names if len(names) <= 30 else [*names[:30], "..."]
        raise DataError(
            f"target column '{target}' not found; columns are {shown}. Pass target= one of these."
        )
    if len(df) < 2:
        raise DataError(
            f"the data has {len(df)} row; at least 2 rows are needed to learn anything. "
            "Pass more rows."
        )
    columns = []
    for position, name in enumerate(names):
        s = df.iloc[:, position]
        if name == target:
            columns.append(_infer_target(s, name))
        else:
            columns.append(infer_column(s, name))
    return Schema(columns=columns, target=target)


def _facts(s: pd.Series) -> _Facts:
    """Distinct non-missing values of ``s`` with their counts."""
    if not is_text_dtype(s) and pd.api.types.is_numeric_dtype(s.dtype):
        numbers = s.to_numpy(dtype=np.float64, na_value=np.nan)
        present = numbers[~np.isnan(numbers)]
        distinct, counts = np.unique(present, return_counts=True)
        # spelled-out tokens are only needed for few values (constant, boolean checks)
        small = len(distinct) <= 64
        texts = np.array([number_token(v) for v in distinct] if small else distinct, dtype=object)
        return _Facts(len(s), len(present), texts, counts, numbers=distinct)
    codes, texts, marker = distinct_texts(s)
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=len(texts))
    if is_text_dtype(s):
        keep = ~marker
    else:
        keep = np.ones(len(texts), dtype=bool)
    # distinct *values*: " a" and "a" count once
    merged = pd.Series(counts[keep]).groupby(texts[keep], sort=False).sum()
    return _Facts(
        n_rows=len(s),
        n_present=int(merged.sum()),
        texts=np.asarray(merged.index, dtype=object),
        counts=merged.to_numpy(dtype=np.int64),
    )


def _base(s: pd.Series, name: str, role: Role, facts: _Facts) -> ColumnSchema:
    return ColumnSchema(
        name=name,
        role=role,
        dtype=str(s.dtype),
        missing_fraction=round(1.0 - facts.n_present / max(facts.n_rows, 1), 6),
        n_unique=facts.n_unique,
    )


def infer_column(s: pd.Series, name: str) -> ColumnSchema:
    """The schema of one feature column: its role, how to parse it and why it is dropped."""
    facts = _facts(s)
    col = _base(s, name, Role.CATEGORICAL, facts)
    if facts.n_present == 0:
        col.role, col.reason = Role.CONSTANT, "all values missing"
        return col
    if facts.n_unique == 1:
        value = str(facts.texts[0])
        shown = value if len(value) <= 40 else value[:37] + "..."
        col.role, col.reason = Role.CONSTANT, f"only one value '{shown}'"
        return col
    if pd.api.types.is_bool_dtype(s.dtype):
        col.role, col.parse, col.true_values = Role.BOOLEAN, "bool", ["True"]
        return col
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        col.role, col.parse = Role.DATETIME, "datetime"
        return col
    true_values = _boolean_spellings(facts)
    if true_values is not None:
        col.role, col.parse, col.true_values = Role.BOOLEAN, "bool", true_values
        return col
    if not is_text_dtype(s) or _numeric_share(facts) >= NUMERIC_SHARE:
        col.parse = "number"
        reason = _number_identifier_reason(name, facts)
        if reason is not None:
            col.role, col.reason = Role.IDENTIFIER, reason
        else:
            col.role = Role.NUMERIC
        return col
    if _looks_like_dates(facts):
        fmt, dayfirst, share = detect_datetime_format(s)
        if share >= DATETIME_SHARE:
            col.role, col.parse = Role.DATETIME, "datetime"
            col.datetime_format, col.dayfirst = fmt, dayfirst
            return col
    return _text_role(col, name, facts)


def _numeric_share(facts: _Facts) -> float:
    ok = facts.counts[~np.isnan(facts.values())].sum()
    return float(ok / max(facts.n_present, 1))


def _boolean_spellings(facts: _Facts) -> list[str] | None:
    """Raw spellings meaning True when the values are a yes/no, true/false, 1/0 pair; else None."""
    if facts.n_unique > 8:
        return None
    texts = [str(t) for t in facts.texts]
    folded = {t.casefold() for t in texts}
    if folded <= TRUE_WORDS | FALSE_WORDS and folded & TRUE_WORDS and folded & FALSE_WORDS:
        return sorted(t for t in texts if t.casefold() in TRUE_WORDS)
    values = facts.values()
    if not np.isnan(values).any() and set(values.tolist()) == {0.0, 1.0}:
        return sorted(t for t, v in zip(texts, values, strict=True) if v == 1.0)
    return None


def _id_suffix(name: str) -> bool:
    """``id`` at the end as its own word: ``tweet_id``, ``customerID``, ``PassengerId``, ``Id``."""
    lower = name.casefold()
    if lower in {"id", "uuid", "guid"}:
        return True
    if re.search(r"[^a-z0-9](id|uuid|guid)$", lower):
        return True
    return bool(_ID_NAME_CASED.search(name))


def _number_identifier_reason(name: str, facts: _Facts) -> str | None:
    values = facts.values()
    finite = values[np.isfinite(values)]
    if len(finite) == 0 or not np.all(finite == np.round(finite)):
        return None  # real-valued numbers are measurements, not identifiers
    share = facts.unique_share
    if _id_suffix(name) and share >= 0.1 and facts.n_unique > 10:
        return (
            f"the name looks like an identifier and it has {facts.n_unique} distinct whole "
            f"numbers in {facts.n_present} rows"
        )
    if share >= 0.999 and facts.n_present >= 100:
        span = float(finite.max() - finite.min() + 1)
        if span <= 3 * facts.n_unique:
            return (
                f"unique per row ({facts.n_unique} distinct whole numbers in {facts.n_present} "
                "rows, nearly consecutive): a row number or key carries no signal that generalises"
            )
    return None


def _word_stats(facts: _Facts) -> tuple[float, float]:
    """Row-weighted mean words and characters per value, on up to 2,000 distinct values."""
    texts, counts = facts.texts, facts.counts
    if len(texts) > 2000:
        chosen = np.random.default_rng(0).choice(len(texts), 2000, replace=False)
        texts, counts = texts[chosen], counts[chosen]
    series = pd.Series(texts, dtype=object).astype(str)
    words = series.str.count(r"\S+").to_numpy(dtype=np.float64)
    chars = series.str.len().to_numpy(dtype=np.float64)
    weight = counts / max(counts.sum(), 1)
    return float((words * weight).sum()), float((chars * weight).sum())


def _text_role(col: ColumnSchema, name: str, facts: _Facts) -> ColumnSchema:
    """Free text, identifier or categorical, for string values that are not numbers or dates."""
    words, chars = _word_stats(facts)
    share = facts.unique_share
    if facts.n_unique >= 20 and share >= 0.3 and (words >= 3 or chars >= 40):
        col.role = Role.TEXT
        return col
    if _id_suffix(name) and share >= 0.1 and facts.n_unique > 10:
        col.role = Role.IDENTIFIER
        col.reason = (
            f"the name looks like an identifier and it has {facts.n_unique} distinct values "
            f"in {facts.n_present} rows"
        )
        return col
    if share >= 0.95 and facts.n_present >= 20:
        col.role = Role.IDENTIFIER
        col.reason = (
            f"nearly unique per row ({facts.n_unique} distinct values in {facts.n_present} "
            "rows): a key carries no signal that generalises"
        )
        return col
    col.role = Role.CATEGORICAL
    return col


def _looks_like_dates(facts: _Facts) -> bool:
    sample = pd.Series(facts.texts[:200], dtype=object).astype(str)
    has_digit = sample.str.contains(r"\d", regex=True)
    return bool(has_digit.mean() >= 0.8)


def _infer_target(s: pd.Series, name: str) -> ColumnSchema:
    facts = _facts(s)
    col = _base(s, name, Role.TARGET, facts)
    if facts.n_present == 0:
        raise DataError(
            f"target column '{name}' has no values (all {facts.n_rows} are missing). "
            "Expected labels or numbers to learn from; pass another target= or fill it in."
        )
    if facts.n_unique == 1:
        raise DataError(
            f"target column '{name}' holds only one value '{facts.texts[0]}', so there is "
            "nothing to learn. Expected at least 2 classes or varying numbers; pass another "
            "target= or add rows with other values."
        )
    if pd.api.types.is_bool_dtype(s.dtype):
        col.parse, col.true_values = "bool", ["True"]
    elif not is_text_dtype(s) or _numeric_share(facts) >= TARGET_NUMERIC_SHARE:
        col.parse = "number"
    return col


def detect_task(y: pd.Series) -> TaskName:
    """The task a conformed target poses: ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Labels that are not numbers give binary (2 classes) or multiclass; numbers give binary when
    there are 2 distinct values, multiclass for a few whole numbers (at most 20, and at most a
    quarter of the row count), otherwise regression.
    """
    present = y[y.notna()]
    n_distinct = int(present.nunique())
    if pd.api.types.is_bool_dtype(present.dtype) or not pd.api.types.is_numeric_dtype(
        present.dtype
    ):
        return "binary" if n_distinct <= 2 else "multiclass"
    if n_distinct <= 2:
        return "binary"
    values = present.to_numpy(dtype=np.float64)
    whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if whole and n_distinct <= 20 and n_distinct * 4 <= len(present):
        return "multiclass"
    return "regression"
