"""Typed feature values straight from plain Python values, without a pandas round trip per column.

``conform`` turns any frame into typed features with a dozen pandas operations per column: about
10 ms for one row of 20 columns, more than a compact model takes to predict it. Values a server
reads from JSON (``serving.rows`` checked their types) or takes from a few rows of a frame
(``Model.predict``) mostly convert here with plain Python; a column holding anything unusual (a
date, padded text, a spelling that needs number parsing, a value that fails) goes through
``convert_column``, conform's own converter, so the result and the reject reasons are always
exactly those of ``conform(pd.DataFrame(columns))``.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlwright.data.conform import convert_column, describe_value
from mlwright.data.inference import FALSE_WORDS, TRUE_WORDS
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.data.values import MISSING_MARKERS, number_token

__all__ = ["TypedRows", "frame_of_arrays", "typed_features"]


@dataclass
class TypedRows:
    """The typed features of the usable rows (index: their positions) and why others are not;
    ``columns`` holds the same values as arrays, for checks cheaper than a pandas column."""

    features: pd.DataFrame
    keep: np.ndarray
    reasons: dict[int, str]
    columns: dict[str, np.ndarray]


class _Fallback(Exception):
    """This column needs conform's full converter."""


_PLAIN_NUMBER_PATTERN = r"-?[0-9]+(?:\.[0-9]+)?"
_PLAIN_NUMBER = re.compile(_PLAIN_NUMBER_PATTERN)

# what a column may be: plain values, a frame's NumPy numbers, or a frame's Arrow text
Values: TypeAlias = list[Any] | np.ndarray | pa.Array


def _as_list(values: Values) -> list[Any]:
    if isinstance(values, np.ndarray):
        return cast(list[Any], values.tolist())
    if isinstance(values, pa.Array):
        return cast(list[Any], values.to_pylist())
    return values


def _number(v: Any) -> Any:
    if v is None:
        return math.nan
    if type(v) is str:
        # plain decimal text ("689.35", as CSV-fed clients send it) is what conform makes of it;
        # anything else ("1,234", "$5", " 5", "abc") goes to conform's parser and its reasons
        if not _PLAIN_NUMBER.fullmatch(v):
            raise _Fallback
        return float(v)
    return v


def _numbers(values: Values) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        out = values.astype(np.float64)  # a frame's own numbers: no value to parse
    elif isinstance(values, pa.Array) and (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        # a frame's text: _number's check and parse, by Arrow over the whole column
        plain = pc.match_substring_regex(values, f"^{_PLAIN_NUMBER_PATTERN}$")
        if not pc.all(plain, skip_nulls=True, min_count=0).as_py():
            raise _Fallback
        out = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False))
    else:
        out = np.array([_number(v) for v in _as_list(values)], dtype=np.float64)
    if not np.isfinite(out[~np.isnan(out)]).all():
        raise _Fallback
    return out


def _truths(col: ColumnSchema) -> frozenset[str]:
    truths = frozenset(t.casefold() for t in col.true_values) | TRUE_WORDS
    if truths & FALSE_WORDS or truths & MISSING_MARKERS:
        raise _Fallback  # an odd spelling set: let conform decide
    return truths


def _booleans(values: list[Any], col: ColumnSchema) -> np.ndarray:
    truths = _truths(col)
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None:
            out[i] = math.nan
            continue
        if type(v) is str:
            if v != v.strip():
                raise _Fallback
            token = v.casefold()
        else:
            token = number_token(v).casefold()
        if token in MISSING_MARKERS:
            out[i] = math.nan
        elif token in truths:
            out[i] = 1.0
        elif token in FALSE_WORDS:
            out[i] = 0.0
        else:
            raise _Fallback  # number parsing, or a failed value: conform words the reason
    return out


def _texts(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
        elif type(v) is not str or v != v.strip():
            raise _Fallback
        else:
            out[i] = np.nan if v.casefold() in MISSING_MARKERS else v
    return out


def _fast(values: Values, col: ColumnSchema) -> np.ndarray:
    if col.role is Role.BOOLEAN or col.parse == "bool":
        return _booleans(_as_list(values), col)
    if col.role is Role.NUMERIC or col.parse == "number":
        return _numbers(values)
    if col.role is Role.DATETIME or col.parse == "datetime":
        raise _Fallback
    return _texts(_as_list(values))


def typed_features(columns: Mapping[str, Values], schema: Schema, n_rows: int) -> TypedRows:
    """Typed features of ``columns`` (feature name -> one JSON value per row), as ``conform``.

    Parameters
    ----------
    columns:
        Every feature column of ``schema``, each a list of ``n_rows`` JSON scalars, or a
        frame's column of them: NumPy numbers, or Arrow text (numeric columns take either
        without a Python value per row).
    schema:
        The model's schema.
    n_rows:
        The number of rows.

    Returns
    -------
    The features of the rows that can be scored, indexed by row position, and the reason for
    each row that cannot (as in ``Conformed.rejects``).

    Example:
        >>> typed = typed_features({"tenure": [3, None], ...}, model.schema_, 2)
    """
    typed: dict[str, np.ndarray] = {}
    reasons: dict[int, list[str]] = defaultdict(list)
    for col in schema.features:
        values = columns[col.name]
        try:
            typed[col.name] = _fast(values, col)
            continue
        except _Fallback:
            pass
        raw = pd.DataFrame({col.name: _as_list(values)}).iloc[:, 0]
        converted = convert_column(raw, col)
        typed[col.name] = converted.values.to_numpy()
        for row in np.flatnonzero(converted.failed):
            value = describe_value(raw.iloc[row], converted.problem)
            reasons[int(row)].append(f"column '{col.name}': {value}")
    keep = np.arange(n_rows)
    if reasons:
        keep = np.setdiff1d(keep, np.fromiter(reasons, dtype=np.int64))
        typed = {name: values[keep] for name, values in typed.items()}
    features = frame_of_arrays(typed, schema.feature_names, keep)
    return TypedRows(features, keep, {row: "; ".join(r) for row, r in reasons.items()}, typed)


@functools.lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """One (immutable) column Index per schema: building pandas' string Index takes ~25 us."""
    return pd.Index(names)


def frame_of_arrays(
    arrays: dict[str, np.ndarray], names: list[str], index: np.ndarray
) -> pd.DataFrame:
    """The columns ``names`` of ``arrays`` as a frame, each array as it is: object arrays stay
    object (as ``conform`` keeps them), not pandas' inferred string dtype, and nothing is copied.

    pandas has no public constructor for that short of a Series per column, which cost ~0.8 ms
    of a one-row, 19-column request (most of the server's own scoring time); its
    ``DataFrame._from_arrays`` without checks, which its own readers use, takes 0.1 ms. That is
    used for 1-D NumPy columns of numbers, booleans and objects only (the blocks pandas keeps as
    they are), and the public path for anything else or a pandas without it.
    """
    columns = [arrays[name] for name in names]
    build = getattr(pd.DataFrame, "_from_arrays", None)
    plain = all(
        type(a) is np.ndarray and a.ndim == 1 and a.dtype.kind in "biufO" and len(a) == len(index)
        for a in columns
    )
    if build is not None and plain:
        frame: pd.DataFrame = build(
            columns,
            columns=_column_index(tuple(names)),
            index=pd.Index(index),
            verify_integrity=False,
        )
        return frame
    frame = pd.DataFrame(
        {
            name: pd.Series(a, dtype=getattr(a, "dtype", None))
            for name, a in zip(names, columns, strict=True)
        },
        columns=names,
        copy=False,
    )
    frame.index = pd.Index(index)
    return frame
