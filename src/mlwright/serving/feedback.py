"""Ground truth sent to ``POST /feedback``: checked here, stored by ``Operations.add_labels``.

Accepted bodies::

    {"labels": [{"request_id": "3f2a...-0", "actual": "Yes"}, ...]}
    {"request_id": "3f2a...-0", "actual": "Yes"}                         (one label)

``request_id`` is a row id the predict answer returned (``request_ids``), 1-120 characters;
``actual`` is the true value (text, a number or true/false). A malformed body is refused (422)
with one message per field; a body with some bad labels stores the good ones and reports the
others under ``invalid`` with their position and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from mlwright.serving.problems import ApiError, FieldProblem

__all__ = ["LabelBatch", "parse_labels"]

MAX_REQUEST_ID = 120  # as the prediction log stores them
_EXAMPLE = '{"labels": [{"request_id": "<an id from request_ids>", "actual": "Yes"}]}'
_SCALARS = (str, int, float, bool)


@dataclass
class LabelBatch:
    """The usable labels (request ids, actual values, and their positions in the body) and the
    positions of the unusable ones with reasons."""

    received: int
    request_ids: list[str] = field(default_factory=list)
    actuals: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)


def _malformed(what: str, fields: list[FieldProblem] | None = None) -> ApiError:
    return ApiError(
        422,
        "invalid_feedback",
        what,
        expected=f"a JSON object such as {_EXAMPLE}, or one label object",
        hint="Send the request ids that /predict returned in request_ids, each with the actual "
        "value.",
        fields=fields or [],
    )


def _problem(item: Any) -> str | None:
    """Why one label cannot be stored, or None when it can."""
    if not isinstance(item, dict):
        return f"expected an object with request_id and actual, got {type(item).__name__}"
    unknown = sorted(set(item) - {"request_id", "actual"})
    if unknown:
        return f"unknown key(s) {unknown}; a label has request_id and actual only"
    rid = item.get("request_id")
    if rid is None:
        return "request_id is missing"
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return f"request_id must be text, got {type(rid).__name__}"
    text = str(rid).strip()
    if not 1 <= len(text) <= MAX_REQUEST_ID:
        return f"request_id must be 1-{MAX_REQUEST_ID} characters, got {len(text)}"
    if "actual" not in item:
        return "actual is missing"
    actual = item["actual"]
    if actual is None:
        return "actual is null; send the true value (or leave the label out until it is known)"
    if not isinstance(actual, _SCALARS):
        return f"actual must be text, a number or true/false, got {type(actual).__name__}"
    return None


def parse_labels(body: bytes) -> LabelBatch:
    """The labels of a /feedback body; raises ApiError (400/422) when it is malformed or when
    no label in it is usable."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            400,
            "invalid_json",
            f"the body is not valid JSON: {exc}.",
            expected=_EXAMPLE,
            hint="Check the quoting and commas.",
        ) from None
    if isinstance(document, dict) and "labels" in document:
        extra = sorted(set(document) - {"labels"})
        items = document["labels"]
        problems = [FieldProblem((key,), "unknown key; expected labels only") for key in extra]
        if not isinstance(items, list) or not items:
            problems.append(FieldProblem(("labels",), "expected a non-empty list of labels"))
        if problems:
            raise _malformed("the feedback body is malformed.", problems)
        loc: tuple[str, ...] = ("labels",)
    elif isinstance(document, dict) and "request_id" in document:
        items, loc = [document], ()
    else:
        found = type(document).__name__
        keys = f" with keys {sorted(document)[:10]}" if isinstance(document, dict) else ""
        raise _malformed(f"the feedback body is a JSON {found}{keys}.")
    batch = LabelBatch(received=len(items))
    for i, item in enumerate(items):
        reason = _problem(item)
        if reason is None:
            batch.request_ids.append(str(item["request_id"]).strip())
            batch.actuals.append(item["actual"])
            batch.positions.append(i)
        else:
            batch.invalid.append({"row": i, "reason": reason})
    if not batch.request_ids:
        fields = [FieldProblem((*loc, bad["row"]), bad["reason"]) for bad in batch.invalid]
        raise _malformed(f"none of the {len(items)} label(s) can be stored.", fields)
    return batch
