"""The OpenAPI description of /predict, built from the served model's schema.

Requests are checked by ``rows.RowValidator`` (fast, no object per row); the pydantic models here
only describe the same rules to clients, so the two are built from the same ``_rule`` types.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from mlwright.data.schema import Role, Schema
from mlwright.serving.rows import RowValidator

__all__ = ["feedback_request_body", "predict_request_body", "predict_response_schema"]

_REF = "#/components/schemas/{model}"
Scalar = str | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _row_model(validator: RowValidator) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for i, (name, rule) in enumerate(validator.rules.items()):
        kinds = tuple(
            sorted(rule.types, key=lambda t: ["bool", "int", "float", "str"].index(t.__name__))
        )
        annotation: Any = kinds[0] if len(kinds) == 1 else kinds[0] | kinds[1]
        for kind in kinds[2:]:
            annotation = annotation | kind
        col = rule.column
        description = f"{col.role.value} column, as {rule.expected}."
        if col.role is Role.CATEGORICAL and col.n_unique:
            description += f" {col.n_unique} distinct values in training."
        if not rule.required:
            description += f" Not used by the model ({col.reason or col.role.value}); optional."
        default = ... if rule.required else None
        fields[f"c{i}"] = (annotation | None, Field(default, alias=name, description=description))
    return create_model("Row", __base__=_Strict, **fields)


def predict_request_body(schema: Schema) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI ``requestBody`` of /predict and the component schemas it refers to."""
    validator = RowValidator(schema)
    row: Any = _row_model(validator)
    names = tuple(validator.rules)
    column_name: Any = Literal[names] if names else str

    class SplitFrame(_Strict):
        columns: list[column_name] = Field(min_length=1)
        data: list[list[Scalar]] = Field(min_length=1)
        index: list[int | str] | None = None

    rows_request: Any = create_model(
        "RowsRequest", __base__=_Strict, rows=(list[row], Field(min_length=1))
    )
    records_request: Any = create_model(
        "RecordsRequest", __base__=_Strict, dataframe_records=(list[row], Field(min_length=1))
    )
    split_request: Any = create_model(
        "SplitRequest", __base__=_Strict, dataframe_split=(SplitFrame, ...)
    )
    adapter: TypeAdapter[Any] = TypeAdapter(rows_request | records_request | split_request)
    json_schema = adapter.json_schema(ref_template=_REF)
    components = json_schema.pop("$defs", {})
    columns_csv = ", ".join(schema.feature_names)
    body = {
        "required": True,
        "description": "Rows to score: JSON in one of three shapes (rows, or MLflow's "
        "dataframe_records / dataframe_split), or a CSV or Parquet file with a header of "
        f"column names. Feature columns: {columns_csv}.",
        "content": {
            "application/json": {"schema": json_schema},
            "text/csv": {"schema": {"type": "string", "description": "CSV with a header row"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
    return body, components


class ModelRef(BaseModel):
    """The model version that answered."""

    name: str
    version: int | None = Field(description="Registry version; null when serving a folder.")


class Reject(BaseModel):
    """A row that could not be scored."""

    row: int = Field(description="Position of the row in the request, from 0.")
    reason: str


class PredictResponse(BaseModel):
    """One entry per request row in ``predictions``, ``probabilities`` and ``request_ids``."""

    predictions: list[Any] = Field(
        description="The predicted label (classifiers) or value (regression); null for a row "
        "that could not be scored (see rejects)."
    )
    probabilities: list[dict[str, float] | None] | None = Field(
        None,
        description="Classifiers: per row, an object mapping each class label (as text) to its "
        "probability; null for a rejected row. Absent for regression.",
    )
    rejects: list[Reject] = Field(description="Rows that could not be scored, with reasons.")
    model: ModelRef
    request_ids: list[str] = Field(
        description="One id per row: the request id (X-Request-ID) and the row position; send "
        "it back with the true value to POST /feedback."
    )
    guardrails: list[dict[str, Any] | None] | None = Field(
        None,
        description="Present when guardrails are on: per row, null when no rule fired, else "
        'the rules that fired and their action (e.g. {"low_confidence": "flag"}), with '
        '"review": true when the row is routed to a human, "model_prediction" when the '
        'prediction was replaced by the default, and "reasons".',
    )


def predict_response_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of a /predict answer, and its component schemas."""
    json_schema = PredictResponse.model_json_schema(ref_template=_REF)
    return json_schema, json_schema.pop("$defs", {})


class Label(_Strict):
    """The true value for one predicted row."""

    request_id: str = Field(
        min_length=1, max_length=120, description="A row id from the predict answer's request_ids."
    )
    actual: str | float | bool = Field(description="The true value (class label or number).")


class FeedbackRequest(_Strict):
    """Labels for predicted rows."""

    labels: list[Label] = Field(min_length=1)


def feedback_request_body() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI ``requestBody`` of /feedback and the component schemas it refers to."""
    adapter: TypeAdapter[Any] = TypeAdapter(FeedbackRequest | Label)
    json_schema = adapter.json_schema(ref_template=_REF)
    components = json_schema.pop("$defs", {})
    body = {
        "required": True,
        "description": "Ground truth: a list of labels, or one label object. Labels whose "
        "prediction is not logged yet are stored and join it later.",
        "content": {"application/json": {"schema": json_schema}},
    }
    return body, components
