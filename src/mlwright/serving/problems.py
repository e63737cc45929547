"""ApiError: an HTTP error whose JSON body says what happened, what was expected and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from mlwright.errors import MlwrightError

__all__ = ["ApiError", "FieldProblem", "error_body"]

_MAX_FIELDS = 50  # a request with thousands of bad values gets the first ones and a count


@dataclass(frozen=True)
class FieldProblem:
    """One bad value or column: where it is (``loc``) and what is wrong with it."""

    loc: tuple[str | int, ...]
    message: str
    type: str = "value_error"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"loc": list(self.loc), "message": self.message, "type": self.type}


@dataclass
class ApiError(Exception):
    """An error answered to the client as ``status`` with a JSON body (see ``error_body``).

    ``message`` says what happened, ``expected`` what the server expected instead and ``hint``
    what to do about it; ``fields`` lists per-value problems (validation errors).
    """

    status: int
    code: str
    message: str
    expected: str = ""
    hint: str = ""
    fields: list[FieldProblem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_error(
        cls, exc: MlwrightError, expected: str, hint: str = "Fix the input as the message says."
    ) -> ApiError:
        """The answer for an mlwright error raised while handling a request (its own status)."""
        return cls(exc.http_status, exc.code, str(exc), expected=expected, hint=hint)

    def body(self, request_id: str | None = None) -> bytes:
        """The JSON body of the response."""
        return error_body(
            self.code,
            self.message,
            expected=self.expected,
            hint=self.hint,
            fields=self.fields,
            request_id=request_id,
        )


def error_body(
    code: str,
    message: str,
    *,
    expected: str = "",
    hint: str = "",
    fields: list[FieldProblem] | None = None,
    request_id: str | None = None,
) -> bytes:
    """``{"error": {"code", "message", "expected", "hint", "fields"?, "request_id"}}`` as bytes."""
    error: dict[str, Any] = {"code": code, "message": message, "expected": expected, "hint": hint}
    if fields:
        error["fields"] = [f.to_dict() for f in fields[:_MAX_FIELDS]]
        if len(fields) > _MAX_FIELDS:
            error["fields_not_shown"] = len(fields) - _MAX_FIELDS
    if request_id is not None:
        error["request_id"] = request_id
    return orjson.dumps({"error": error})
