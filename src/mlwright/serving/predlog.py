"""The prediction log hook: every answered predict request is handed to a ``PredictionLogger``.

The server calls ``logger.log(record)`` once per request, on the event loop, after the answer is
built and before it is sent. An implementation must therefore return at once (queue the record
and write it elsewhere). The default logger drops records; the prediction log itself is built
separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["NullPredictionLogger", "PredictionLogger", "PredictionRecord"]


@dataclass(frozen=True)
class PredictionRecord:
    """One predict request: who asked, when, which model answered, with what, and the answer.

    ``inputs`` is the body as parsed (the JSON envelope, or a DataFrame for CSV/Parquet);
    ``outputs`` is the JSON answer sent (predictions, probabilities, rejects, request_ids).
    """

    request_id: str
    timestamp: float
    model_name: str
    model_version: int | None
    model_digest: str
    inputs: Any
    outputs: dict[str, Any]


class PredictionLogger(Protocol):
    """Receives each answered predict request; must not block."""

    def log(self, record: PredictionRecord) -> None:
        """Take one record."""
        ...


class NullPredictionLogger:
    """Drops every record (the default until a prediction log is configured)."""

    def log(self, record: PredictionRecord) -> None:
        """Do nothing."""
