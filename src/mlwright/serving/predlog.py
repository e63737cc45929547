"""The prediction log hook: every answered predict request is handed to a ``PredictionLogger``.

The server calls ``logger.log(record)`` once per request, on the event loop, after the answer is
built and before it is sent. An implementation must therefore return at once (queue the record
and write it elsewhere). ``NullPredictionLogger`` drops records (the default);
``RegistryPredictionLogger`` writes one row per scored row into the registry's prediction log
(``registry.operations.PredictionLog``): the event loop only queues the record, and the writer
thread turns it into rows (``logged_rows``) and inserts them in batches.

A logger may also have ``start() -> list[str]``, ``close()`` and ``stats() -> dict``: the app
starts it with its lifespan, closes it (writing what is buffered) on a graceful shutdown, and
shows its stats in ``/health`` and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import pandas as pd

from mlwright.serving.guardrails import RULES

if TYPE_CHECKING:  # the registry is imported only when a server logs to one
    from mlwright.registry import Registry
    from mlwright.registry.operations import LoggedRow, PredictionLog

__all__ = [
    "NullPredictionLogger",
    "PredictionLogger",
    "PredictionRecord",
    "RegistryPredictionLogger",
    "input_rows",
    "logged_rows",
]


@dataclass(frozen=True)
class PredictionRecord:
    """One predict request: who asked, when, which model answered, with what, and the answer.

    ``inputs`` is the body as parsed (the JSON envelope, or a DataFrame for CSV/Parquet);
    ``outputs`` is the JSON answer sent (predictions, probabilities, rejects, request_ids and,
    with guardrails on, guardrails).
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


class RegistryPredictionLogger:
    """Logs every scored row into the prediction log of model ``name`` in ``registry``.

    Parameters
    ----------
    registry:
        The registry whose database holds the log (the model must be registered there).
    name:
        The registered model name the rows belong to.
    buffer_rows, flush_interval, retention_days:
        As ``PredictionLog``: a crash loses at most ``buffer_rows`` rows or ``flush_interval``
        seconds of traffic; rows older than ``retention_days`` are deleted.

    Example:
        >>> logger = RegistryPredictionLogger(open_registry(), "churn")
        >>> create_app(RegistrySource("churn@production"), prediction_logger=logger)
    """

    def __init__(
        self,
        registry: Registry,
        name: str,
        *,
        buffer_rows: int = 1000,
        flush_interval: float = 1.0,
        retention_days: float | None = None,
    ) -> None:
        from mlwright.registry.operations import PredictionLog

        self.registry = registry
        self.name = name
        self.writer: PredictionLog = PredictionLog(
            registry,
            name,
            source="rest",
            buffer_rows=buffer_rows,
            flush_interval=flush_interval,
            retention_days=retention_days,
        )

    @property
    def bound(self) -> str:
        """What a crash can lose, for the start-up line."""
        w = self.writer
        return f"a crash loses at most {w.buffer_rows} rows / {w.flush_interval:g} s"

    def start(self) -> list[str]:
        """Start the writer; one message per earlier writer of this model that died unflushed."""
        return self.writer.start()

    def log(self, record: PredictionRecord) -> None:
        """Queue the record; its rows are made and written on the writer thread."""
        n_rows = len(record.outputs["request_ids"])
        self.writer.submit(record.model_version, lambda: logged_rows(record), n_rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record queued so far is written."""
        return self.writer.flush(timeout)

    def close(self) -> None:
        """Write what is buffered and stop the writer (a graceful shutdown)."""
        self.writer.close()

    def stats(self) -> dict[str, Any]:
        """Rows written, dropped and queued, failures, the last error and the buffer bound."""
        return {"model": self.name, **self.writer.stats()}


def input_rows(inputs: Any) -> Iterator[dict[str, Any]]:
    """The request's rows as received, one JSON-ready dict per row, in order."""
    if isinstance(inputs, pd.DataFrame):
        text = inputs.to_json(orient="records", date_format="iso", default_handler=str)
        yield from orjson.loads(text)
        return
    if not isinstance(inputs, dict) or len(inputs) != 1:
        raise ValueError(f"unexpected request inputs of type {type(inputs).__name__}")
    ((key, value),) = inputs.items()
    if key == "dataframe_split":
        columns = value["columns"]
        for values in value["data"]:
            yield dict(zip(columns, values, strict=True))
    else:  # "rows" or "dataframe_records"
        yield from value


def logged_rows(record: PredictionRecord) -> list[LoggedRow]:
    """One log row per request row: its request id, inputs, the model's prediction and class
    probabilities (in class order), the reject reason and the guardrail flags.

    Under the guardrails' "default" action the answer sent was the default; the log keeps the
    model's own prediction, and the flags say the answer was replaced.
    """
    from mlwright.registry.operations import LoggedRow

    out = record.outputs
    at = datetime.fromtimestamp(record.timestamp, UTC)
    probabilities = out.get("probabilities")
    guardrails = out.get("guardrails")
    reasons = {reject["row"]: reject["reason"] for reject in out["rejects"]}
    rows = []
    for i, (request_id, inputs) in enumerate(
        zip(out["request_ids"], input_rows(record.inputs), strict=True)
    ):
        prediction = out["predictions"][i]
        proba = None if probabilities is None else probabilities[i]
        entry = None if guardrails is None else guardrails[i]
        flags = None
        if entry is not None:
            flags = {rule: entry[rule] for rule in RULES if rule in entry}
            prediction = entry.get("model_prediction", prediction)
        rows.append(
            LoggedRow(
                request_id=request_id,
                at=at,
                inputs=inputs,
                prediction=prediction,
                probabilities=None if proba is None else list(proba.values()),
                rejected=reasons.get(i),
                flags=flags,
            )
        )
    return rows
