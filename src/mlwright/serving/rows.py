"""Request rows: JSON bodies checked against the model's schema without a pydantic object per row.

Accepted JSON bodies (one of)::

    {"rows": [{"tenure": 12, "Contract": "Month-to-month", ...}, ...]}
    {"dataframe_records": [{...}, ...]}                                  (MLflow)
    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}        (MLflow; "index" ignored)

Every feature column must be present in every row (``null`` means the value is unknown); columns
the model does not know are refused, so a misspelt name is reported instead of ignored. Values are
checked against their column's JSON types (a number or numeric text for a numeric column, text for
a categorical one, ...; objects and lists never); a value of an accepted type that still cannot be
used (``"maybe"`` in a yes/no column, ``"abc"`` in a numeric one) makes its row a per-row reject
in the answer, with the reason, as ``Model.score`` does for files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.serving.problems import ApiError, FieldProblem

__all__ = ["ENVELOPES", "RowBatch", "RowValidator"]

ENVELOPES = ("rows", "dataframe_records", "dataframe_split")
_MAX_PROBLEMS = 200  # stop checking a hopeless request early
_ABSENT = object()


@dataclass
class RowBatch:
    """Rows of one request: feature values by column (JSON), or a frame (CSV, Parquet).

    ``inputs`` is what the client sent, for the prediction log.
    """

    n_rows: int
    columns: dict[str, list[Any]] | None = None
    frame: pd.DataFrame | None = None
    inputs: Any = None


@dataclass(frozen=True)
class _Rule:
    column: ColumnSchema
    types: frozenset[type]
    expected: str
    required: bool


def _rule(col: ColumnSchema) -> _Rule:
    numeric_dtype = col.dtype.startswith(("int", "uint", "float", "Int", "UInt", "Float"))
    if not col.role.is_feature:
        types, expected = {str, int, float, bool}, "text, a number, true/false or null"
    elif col.role is Role.NUMERIC:
        # numeric text ("1,234.5", "$12") is parsed as in files; an unparseable one rejects its row
        types, expected = {int, float, str}, "a number (or numeric text) or null"
    elif col.role is Role.BOOLEAN:
        spellings = "/".join(sorted({*col.true_values, "yes", "no"}, key=str.casefold))
        types = {bool, int, float, str}
        expected = f"true/false, 1/0, a yes/no word ({spellings}) or null"
    elif col.role is Role.DATETIME:
        fmt = f" in format {col.datetime_format}" if col.datetime_format else " (ISO 8601)"
        types, expected = {str}, f"a date as text{fmt} or null"
    elif numeric_dtype:
        types, expected = {str, int, float}, "text, a number or null"
    elif col.dtype in ("bool", "boolean"):
        types, expected = {str, bool}, "text, true/false or null"
    else:
        types, expected = {str}, "text or null"
    return _Rule(col, frozenset(types), expected, col.role.is_feature)


def _type_name(value: Any) -> str:
    names = {str: "text", int: "a number", float: "a number", bool: "a boolean"}
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{names.get(type(value), type(value).__name__)} {shown}"


class RowValidator:
    """Checks request rows against a schema and gathers the feature values by column."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.rules = {c.name: _rule(c) for c in schema.columns}
        self.features = schema.feature_names
        self._feature_rules = [self.rules[n] for n in self.features]

    # -- JSON --------------------------------------------------------------------------------
    def parse_json(self, body: bytes) -> RowBatch:
        """Rows from a JSON body in any accepted envelope; raises ApiError(422) with every
        problem found."""
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                400,
                "invalid_json",
                f"the body is not valid JSON: {exc}.",
                expected='a JSON object such as {"rows": [{"column": value, ...}]}',
                hint="Check the quoting and commas; NaN and Infinity are not JSON, send null.",
            ) from None
        if not isinstance(document, dict):
            raise self._envelope_error(f"the body is JSON {_type_name(document)}, not an object.")
        keys = [k for k in document if k in ENVELOPES]
        others = [k for k in document if k not in ENVELOPES]
        if len(keys) != 1 or others:
            found = ", ".join(repr(k) for k in document) or "no keys"
            raise self._envelope_error(f"the JSON object has {found}.")
        key = keys[0]
        if key == "dataframe_split":
            return self._from_split(document[key])
        return self._from_records(document[key], key)

    def _envelope_error(self, what: str) -> ApiError:
        return ApiError(
            422,
            "invalid_envelope",
            what,
            expected='exactly one of "rows": [...], "dataframe_records": [...] or '
            '"dataframe_split": {"columns": [...], "data": [[...]]}',
            hint='Wrap the rows, e.g. {"rows": [{"'
            + (self.features or ["column"])[0]
            + '": ...}]}.'
            " GET /metadata lists the columns.",
        )

    def _from_records(self, records: Any, key: str) -> RowBatch:
        if not isinstance(records, list) or not records:
            raise ApiError(
                422,
                "invalid_rows",
                f'"{key}" holds {"an empty list" if records == [] else _type_name(records)}.',
                expected="a non-empty list of objects, one per row, keyed by column name",
                hint="Send at least one row; GET /metadata lists the columns.",
                fields=[FieldProblem((key,), "expected a non-empty list of row objects")],
            )
        columns: dict[str, list[Any]] = {name: [] for name in self.features}
        problems: list[FieldProblem] = []
        for i, row in enumerate(records):
            if not isinstance(row, dict):
                problems.append(
                    FieldProblem((key, i), f"expected an object, got {_type_name(row)}")
                )
            else:
                self._check_row(row, (key, i), columns, problems)
            if len(problems) >= _MAX_PROBLEMS:
                break
        if problems:
            raise self._invalid(problems)
        return RowBatch(len(records), columns, inputs={key: records})

    def _check_row(
        self,
        row: dict[str, Any],
        loc: tuple[str | int, ...],
        columns: dict[str, list[Any]],
        problems: list[FieldProblem],
    ) -> None:
        seen = 0
        for rule in self._feature_rules:
            name = rule.column.name
            value = row.get(name, _ABSENT)
            if value is _ABSENT:
                problems.append(self._missing(rule, (*loc, name)))
                continue
            seen += 1
            if value is not None and type(value) not in rule.types:
                problems.append(self._wrong_type(rule, value, (*loc, name)))
            columns[name].append(value)
        if len(row) > seen:
            for name, value in row.items():
                known = self.rules.get(name)
                if known is None:
                    problems.append(self._unknown(name, (*loc, name)))
                elif not known.required and value is not None and type(value) not in known.types:
                    problems.append(self._wrong_type(known, value, (*loc, name)))

    def _from_split(self, split: Any) -> RowBatch:
        key = "dataframe_split"
        if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
            raise ApiError(
                422,
                "invalid_rows",
                f'"{key}" holds {_type_name(split)} without a "columns" list.',
                expected='{"columns": ["name", ...], "data": [[value, ...], ...]}',
                hint="Send pandas' DataFrame.to_dict(orient='split') output.",
                fields=[FieldProblem((key, "columns"), "expected a list of column names")],
            )
        extra = [k for k in split if k not in ("columns", "data", "index")]
        names: list[Any] = split["columns"]
        data = split.get("data")
        problems = [
            FieldProblem((key, k), "unknown key; expected columns, data, index") for k in extra
        ]
        problems += self._check_names(names, (key, "columns"))
        if not isinstance(data, list) or not data:
            problems.append(FieldProblem((key, "data"), "expected a non-empty list of row lists"))
        if problems:
            raise self._invalid(problems)
        assert isinstance(data, list)
        rules = [self.rules[n] for n in names]
        columns: dict[str, list[Any]] = {n: [] for n in self.features}
        targets = [columns.get(n) for n in names]
        width = len(names)
        for i, values in enumerate(data):
            if not isinstance(values, list) or len(values) != width:
                got = f"{len(values)} values" if isinstance(values, list) else _type_name(values)
                problems.append(
                    FieldProblem((key, "data", i), f"expected a list of {width} values, got {got}")
                )
            else:
                for j, value in enumerate(values):
                    rule = rules[j]
                    if value is not None and type(value) not in rule.types:
                        problems.append(self._wrong_type(rule, value, (key, "data", i, j)))
                    target = targets[j]
                    if target is not None:
                        target.append(value)
            if len(problems) >= _MAX_PROBLEMS:
                break
        if problems:
            raise self._invalid(problems)
        return RowBatch(len(data), columns, inputs={key: split})

    # -- files -------------------------------------------------------------------------------
    def check_frame(self, frame: pd.DataFrame, what: str) -> RowBatch:
        """A batch from a CSV or Parquet frame whose columns match the schema."""
        names = [str(c) for c in frame.columns]
        problems = self._check_names(names, ("columns",))
        if problems:
            raise self._invalid(problems, what)
        if len(frame) == 0:
            raise ApiError(
                422,
                "invalid_rows",
                f"the {what} has a header but no rows.",
                expected="at least one row under the header",
                hint="Send the rows to score below the header line.",
            )
        frame.columns = pd.Index(names)
        return RowBatch(len(frame), frame=frame.reset_index(drop=True), inputs=frame)

    def _check_names(self, names: list[Any], loc: tuple[str | int, ...]) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        seen: set[str] = set()
        for j, name in enumerate(names):
            if not isinstance(name, str):
                problems.append(
                    FieldProblem((*loc, j), f"expected a column name, got {_type_name(name)}")
                )
            elif name in seen:
                problems.append(FieldProblem((*loc, j), f"column '{name}' appears twice"))
            elif name not in self.rules:
                problems.append(self._unknown(name, (*loc, j)))
            seen.add(str(name))
        for rule in self._feature_rules:
            if rule.column.name not in seen:
                problems.append(self._missing(rule, (*loc, rule.column.name)))
        return problems

    # -- problems ----------------------------------------------------------------------------
    def _missing(self, rule: _Rule, loc: tuple[str | int, ...]) -> FieldProblem:
        role = rule.column.role.value
        return FieldProblem(
            loc,
            f"missing column '{rule.column.name}' ({role}); every feature column must be "
            f"present, as {rule.expected} (null when unknown)",
            "missing",
        )

    def _unknown(self, name: str, loc: tuple[str | int, ...]) -> FieldProblem:
        known = ", ".join(self.features[:30])
        return FieldProblem(
            loc,
            f"unknown column '{name}'; the model's columns are: {known}. Remove it or fix the name",
            "unknown_column",
        )

    def _wrong_type(self, rule: _Rule, value: Any, loc: tuple[str | int, ...]) -> FieldProblem:
        return FieldProblem(
            loc,
            f"expected {rule.expected} for column '{rule.column.name}', got {_type_name(value)}",
            "type_error",
        )

    def _invalid(self, problems: list[FieldProblem], what: str = "request") -> ApiError:
        first = problems[0].message
        return ApiError(
            422,
            "validation_error",
            f"{len(problems)}{'+' if len(problems) >= _MAX_PROBLEMS else ''} problem(s) in the "
            f"{what}; the first: {first}.",
            expected="rows whose columns and value types match the model's input schema",
            hint="Fix each field listed in 'fields'; GET /metadata (or /openapi.json) describes "
            "every column.",
            fields=problems,
        )
