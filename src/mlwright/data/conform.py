"""Turn any frame into the typed frame a Schema describes, setting aside rows that do not fit.

A value is never dropped silently: a row holding a value that cannot be converted to its column's
type (``'abc'`` in a numeric column, an unparseable date, an infinite number) goes to ``rejects``
with a reason naming the column and the value.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlwright.data.inference import FALSE_WORDS, TRUE_WORDS, column_names
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.data.values import (
    Distinct,
    distinct_texts,
    is_text_dtype,
    parse_datetimes,
    parse_numbers,
    spread,
)
from mlwright.errors import DataError, MlwrightWarning, SchemaMismatch

__all__ = [
    "Conformed",
    "Converted",
    "conform",
    "conform_target",
    "convert_column",
    "describe_value",
]


@dataclass
class Conformed:
    """The typed features and target of the rows that could be used, and the rows set aside."""

    features: pd.DataFrame
    target: pd.Series | None
    rejects: pd.DataFrame
    row_positions: np.ndarray
    warnings: list[str] = field(default_factory=list)
    weight: np.ndarray | None = None


@dataclass
class Converted:
    """One column converted to its typed form, with what went wrong where."""

    values: pd.Series  # typed values, same index as the input
    missing: np.ndarray  # NaN/None or a missing marker
    failed: np.ndarray  # non-missing values that cannot be converted (infinite numbers included)
    problem: str  # what a failed value is not, e.g. "is not a number"
    markers: dict[str, int]  # missing markers written as text, and how many of each


def _markers_used(s: pd.Series, distinct: Distinct | None = None) -> dict[str, int]:
    """How many values of ``s`` are written-out missing markers (``''``, ``'NA'``, ``'?'``)."""
    if not is_text_dtype(s):
        return {}
    codes, texts, marker = distinct or distinct_texts(s)
    if not marker.any():
        return {}
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    out: dict[str, int] = {}
    for i in np.flatnonzero(marker & (counts > 0)):
        out[str(texts[i])] = out.get(str(texts[i]), 0) + int(counts[i])
    return out


def _strings(s: pd.Series, distinct: Distinct | None = None) -> tuple[pd.Series, np.ndarray]:
    """Stripped text as ``object`` with NaN for missing values, and the missing mask."""
    codes, texts, marker = distinct or distinct_texts(s)
    missing = (codes < 0) | spread(marker, codes, False)
    values = spread(np.where(marker, np.nan, texts).astype(object), codes, np.nan)
    return pd.Series(values, index=s.index, name=s.name, dtype=object), missing


def _booleans(
    s: pd.Series, col: ColumnSchema, distinct: Distinct | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1.0/0.0/NaN values, the missing mask and the failed mask of a boolean column."""
    if pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, np.zeros(len(s), dtype=bool)
    codes, texts, marker = distinct or distinct_texts(s)
    folded = [str(t).casefold() for t in texts]
    truths = {t.casefold() for t in col.true_values} | TRUE_WORDS
    numbers, _ = parse_numbers(pd.Series(texts, dtype=object))
    lookup = np.full(len(texts), np.nan)
    for i, token in enumerate(folded):
        if marker[i]:
            continue
        if token in truths or numbers[i] == 1.0:
            lookup[i] = 1.0
        elif token in FALSE_WORDS or numbers[i] == 0.0:
            lookup[i] = 0.0
    values = spread(lookup, codes, np.nan)
    missing = (codes < 0) | spread(marker, codes, False)
    failed = ~missing & np.isnan(values)
    return values, missing, failed


def convert_column(s: pd.Series, col: ColumnSchema) -> Converted:
    """Convert one raw column to the typed form its schema entry describes."""
    # text columns are factorised once: markers, parsing and stripping read the distinct values
    distinct = distinct_texts(s) if is_text_dtype(s) else None
    markers = _markers_used(s, distinct)
    if col.role is Role.BOOLEAN or col.parse == "bool":
        values, missing, failed = _booleans(s, col, distinct)
        spellings = "/".join(sorted({*col.true_values, "yes", "no"}, key=str.casefold))
        typed = pd.Series(values, index=s.index, name=s.name, dtype=np.float64)
        return Converted(typed, missing, failed, f"is not a yes/no value ({spellings})", markers)
    if col.role is Role.NUMERIC or col.parse == "number":
        numbers, failed = parse_numbers(s, distinct)
        missing = np.isnan(numbers) & ~failed
        failed = failed | np.isinf(numbers)
        typed = pd.Series(numbers, index=s.index, name=s.name, dtype=np.float64)
        return Converted(typed, missing, failed, "is not a finite number", markers)
    if col.role is Role.DATETIME or col.parse == "datetime":
        dates, failed = parse_datetimes(s, col.datetime_format, col.dayfirst)
        missing = np.asarray(dates.isna().to_numpy(), dtype=bool) & ~failed
        expected = f"format {col.datetime_format}" if col.datetime_format else "a date"
        problem = f"is not a date (expected {expected})"
        return Converted(dates, missing, failed, problem, markers)
    text, missing = _strings(s, distinct)
    return Converted(text, missing, np.zeros(len(s), dtype=bool), "", markers)


def _number_problem(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "is not a number"
    return "is not a finite number" if np.isinf(number) else "is not a number"


def describe_value(value: object, problem: str) -> str:
    """A raw value and what is wrong with it, for a reject reason (``'abc' is not a number``)."""
    if isinstance(value, np.generic):
        value = value.item()
    shown = repr(value.strip()) if isinstance(value, str) else repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if problem == "is not a finite number":
        problem = _number_problem(value)
    return f"{shown} {problem}"


def _target_values(s: pd.Series, col: ColumnSchema) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Typed target (float64 numbers, stripped strings or booleans), missing and failed masks."""
    if col.parse == "number":
        numbers, failed = parse_numbers(s)
        missing = np.isnan(numbers) & ~failed
        failed = failed | np.isinf(numbers)
        numbers = np.where(failed, np.nan, numbers)
        return pd.Series(numbers, index=s.index, name=s.name, dtype=np.float64), missing, failed
    if col.parse == "bool":
        values, missing, failed = _booleans(s, col)
        labels = pd.Series(values == 1.0, index=s.index, name=s.name, dtype=object)
        labels[np.isnan(values)] = np.nan
        return labels, missing, failed
    text, missing = _strings(s)
    return text, missing, np.zeros(len(s), dtype=bool)


def _finish_target(values: pd.Series) -> pd.Series:
    """Whole-number float targets become int64 so class labels read 0/1, not 0.0/1.0."""
    if values.dtype == np.float64 and len(values) and values.notna().all():
        array = values.to_numpy()
        if np.all(array == np.round(array)) and np.all(np.abs(array) < 2**53):
            return values.astype(np.int64)
    return values


def conform_target(s: pd.Series, schema_col: ColumnSchema) -> pd.Series:
    """The target as typed labels: numbers as float64 (int64 when all whole), else stripped strings.

    Missing, unparseable and infinite values become NaN (the series is then float64).
    """
    values, _, _ = _target_values(s, schema_col)
    return _finish_target(values)


def conform(
    df: pd.DataFrame,
    schema: Schema,
    *,
    require_target: bool = False,
    weight: str | None = None,
) -> Conformed:
    """Convert ``df`` to the typed frame ``schema`` describes, setting aside rows that cannot be.

    Parameters
    ----------
    df:
        Raw rows: strings from CSV or native dtypes.
    schema:
        The schema inferred from the training data.
    require_target:
        When True (training, evaluation), the target column must be present and rows whose
        target is missing or not finite are set aside.
    weight:
        A column of row weights: it must be present, rows whose weight is missing, negative
        or not a number are set aside, and ``Conformed.weight`` holds the rest.

    Example:
        >>> conformed = conform(raw, schema)
        >>> conformed.features.dtypes, conformed.rejects[["_row", "_reason"]]
    """
    names = column_names(df)
    position = {name: i for i, name in enumerate(names)}
    expected = schema.feature_names
    absent = [n for n in expected if n not in position]
    if absent:
        raise SchemaMismatch(
            f"the data is missing column(s) {absent}; the model expects {expected}. "
            "Add them (values may be blank) or score with data that has the training columns."
        )
    notes: list[str] = []
    known = {c.name for c in schema.columns} | ({weight} if weight else set())
    extra = [n for n in names if n not in known]
    if extra:
        shown = extra if len(extra) <= 10 else [*extra[:10], "..."]
        sentence = f"ignored {len(extra)} column(s) not seen in training: {shown}."
        notes.append(sentence)
        warnings.warn(sentence, MlwrightWarning, stacklevel=2)

    n = len(df)
    reasons: dict[int, list[str]] = defaultdict(list)
    typed: dict[str, pd.Series] = {}
    markers: dict[str, dict[str, int]] = {}
    for col in schema.features:
        raw = df.iloc[:, position[col.name]]
        converted = convert_column(raw, col)
        typed[col.name] = converted.values
        if converted.markers:
            markers[col.name] = converted.markers
        for row in np.flatnonzero(converted.failed):
            reasons[int(row)].append(
                f"column '{col.name}': {describe_value(raw.iloc[row], converted.problem)}"
            )

    target: pd.Series | None = None
    if schema.target in position:
        target_col = schema[schema.target]
        raw_target = df.iloc[:, position[schema.target]]
        target, t_missing, t_failed = _target_values(raw_target, target_col)
        if require_target:
            for row in np.flatnonzero(t_missing):
                reasons[int(row)].append("target missing")
            for row in np.flatnonzero(t_failed):
                value = describe_value(raw_target.iloc[row], "is not a finite number")
                reasons[int(row)].append(f"target '{schema.target}': {value}")
    elif require_target:
        raise DataError(
            f"target column '{schema.target}' not found; columns are {names[:30]}. "
            f"Data for training or evaluation needs the '{schema.target}' column."
        )

    weights: np.ndarray | None = None
    if weight is not None:
        if weight not in position:
            raise DataError(
                f"weight column '{weight}' not found; columns are {names[:30]}. "
                "Name a column holding a non-negative number per row, or drop the weight setting."
            )
        raw_weight = df.iloc[:, position[weight]]
        weights = pd.to_numeric(raw_weight, errors="coerce").to_numpy(dtype=float)
        for row in np.flatnonzero(~np.isfinite(weights) | (weights < 0)):
            value = describe_value(raw_weight.iloc[row], "is not a non-negative number")
            reasons[int(row)].append(f"weight '{weight}': {value}")

    bad = np.zeros(n, dtype=bool)
    bad[list(reasons)] = True
    keep = np.flatnonzero(~bad)
    if reasons:
        # positional frame first: the input index may hold duplicates, which must not align
        features = pd.DataFrame(
            {name: values.iloc[keep].reset_index(drop=True) for name, values in typed.items()},
            columns=expected,
        )
        features.index = df.index[keep]
    else:  # every column carries the input's index unchanged: nothing to take
        features = pd.DataFrame(typed, columns=expected)
        features.index = df.index
    if target is not None:
        target = _finish_target(target.iloc[keep])
    rejects = df.iloc[np.flatnonzero(bad)].copy()
    rejects["_row"] = np.flatnonzero(bad).astype(np.int64)
    rejects["_reason"] = pd.Series(
        ["; ".join(reasons[int(r)]) for r in np.flatnonzero(bad)], index=rejects.index, dtype=object
    )
    if markers:
        notes.append(_marker_sentence(markers))
    if bad.any():
        notes.append(
            f"set aside {int(bad.sum())} of {n} row(s) that could not be used; see rejects."
        )
    kept_weights = None if weights is None else weights[keep]
    return Conformed(features, target, rejects, keep.astype(np.int64), notes, kept_weights)


def _marker_sentence(markers: dict[str, dict[str, int]]) -> str:
    total = sum(sum(m.values()) for m in markers.values())
    spellings = sorted({k for m in markers.values() for k in m})
    shown = ", ".join(f"'{name}' ({sum(m.values())})" for name, m in list(markers.items())[:8])
    more = f" and {len(markers) - 8} more" if len(markers) > 8 else ""
    return (
        f"treated {total} value(s) written as {spellings} as missing in {len(markers)} "
        f"column(s): {shown}{more}."
    )
