"""Shadow scoring: another version of the served model scores the live requests silently.

``mlwright serve churn@production --shadow churn@challenger`` loads the shadow reference beside
the served model, following its alias and checking its hashes as for the served one; a shadow
that fails to load is reported in ``/health`` and never touches the served model. After a
predict request is answered, its rows are queued for the shadow; one background thread scores
them and writes one prediction-log row each, under the shadow's version, with source "shadow"
and the request id of the live answer. Labels posted for the live answer (``POST /feedback``,
``mlwright feedback``) therefore join the shadow's prediction too, and ``mlwright retrain NAME
--shadow ...`` compares both versions on real outcomes (``operate.shadow``).

The shadow never slows or fails a live request and its outputs never reach the client: the
request path only appends to a queue bounded in rows, and when it is full the shadow's work is
dropped and counted. Rows scored, rejected, dropped and skipped, and failures, are in ``/health``
and ``/metrics``. While the shadow reference names the version being served (after it was
promoted, say) the shadow scores nothing: those rows are logged already.

Example:
    >>> config = ServingConfig(shadow="churn@challenger")
    >>> create_app(RegistrySource("churn@production"), config, prediction_logger=logger)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlwright.errors import ConfigError
from mlwright.serving.holder import ModelHolder
from mlwright.serving.metrics import ServingMetrics
from mlwright.serving.predlog import input_rows
from mlwright.serving.rows import RowBatch
from mlwright.serving.scoring import LoadedModel, Scored, merge_batches
from mlwright.serving.sources import ResolvedModel

if TYPE_CHECKING:  # the registry is imported only when a server logs to one
    from mlwright.registry import Registry
    from mlwright.registry.operations import LoggedRow

__all__ = ["ShadowScorer"]

log = logging.getLogger("mlwright.serving")

_MERGE_ROWS = 1024  # most rows of queued requests scored in one model call


class _ShadowSource:
    """The shadow reference, resolved in the registry the predictions are logged to."""

    def __init__(self, registry: Registry, ref: str) -> None:
        self.registry = registry
        self.ref = ref

    @property
    def description(self) -> str:
        """The reference, marked as the shadow."""
        return f"shadow {self.ref}"

    def resolve(self) -> ResolvedModel:
        """The version the shadow reference points at now."""
        version = self.registry.resolve(self.ref)
        return ResolvedModel(version.name, version.version, Path(version.path), version.digest)


class _ShadowLoads:
    """The shadow's loads, as ``ModelHolder`` reports them, in the server's metrics."""

    def __init__(self, metrics: ServingMetrics) -> None:
        self.reload_failures = Counter(
            "mlwright_shadow_model_reload_failures",
            "Shadow model versions that failed to load.",
            registry=metrics.registry,
        )
        self.info = Gauge(
            "mlwright_shadow_model_info",
            "The shadow model (value 1).",
            ["name", "version", "digest"],
            registry=metrics.registry,
        )

    def served(self, ref: ResolvedModel, loaded_at: float) -> None:
        """Record that ``ref`` is now the shadow."""
        self.info.clear()
        self.info.labels(ref.name, str(ref.version), ref.digest[:12]).set(1)


@dataclass(frozen=True)
class _Job:
    """One answered request for the shadow: its row ids, when, which model answered, the rows."""

    request_ids: list[str]
    at: float
    live: LoadedModel
    batch: RowBatch


class ShadowScorer:
    """Scores answered requests with the shadow version on a background thread and logs them.

    Parameters
    ----------
    registry:
        The registry the live predictions are logged to; the shadow is resolved there.
    name:
        The logged model's name; the shadow must be a version of it (labels join by model).
    ref:
        The shadow reference, ``NAME@ALIAS`` or ``NAME@VERSION``.
    metrics:
        The server's metrics, where the shadow's counters are exposed.
    poll_interval:
        Seconds between checks of the shadow reference (an alias may move).
    max_queued_rows:
        Rows that may wait for the shadow; more are dropped and counted.
    buffer_rows, flush_interval:
        The shadow's prediction log writer, as the live one's.

    Example:
        >>> shadow = ShadowScorer(registry, "churn", "churn@challenger", ServingMetrics())
        >>> shadow.start(); shadow.submit(["r-0"], time.time(), loaded, batch)
    """

    def __init__(
        self,
        registry: Registry,
        name: str,
        ref: str,
        metrics: ServingMetrics,
        *,
        poll_interval: float = 2.0,
        max_queued_rows: int = 20_000,
        buffer_rows: int = 1000,
        flush_interval: float = 1.0,
    ) -> None:
        from mlwright.registry import parse_ref
        from mlwright.registry.operations import SHADOW_SOURCE, PredictionLog

        shadow_name, _ = parse_ref(ref)
        if shadow_name != name:
            raise ConfigError(
                f"the shadow {ref} is not a version of '{name}', the model whose predictions "
                f"are logged; labels join predictions by model, so the shadow must be one. "
                f"Expected {name}@ALIAS or {name}@VERSION (register the challenger under "
                f"'{name}' first)."
            )
        self.ref = ref
        self.name = name
        self.max_queued_rows = max_queued_rows
        self.holder = ModelHolder(
            _ShadowSource(registry, ref),
            _ShadowLoads(metrics),
            poll_interval=poll_interval,
            role="shadow-scoring",
        )
        # retention is the live log's job: its purge deletes every source's old rows
        self.writer = PredictionLog(
            registry,
            name,
            source=SHADOW_SOURCE,
            buffer_rows=buffer_rows,
            flush_interval=flush_interval,
        )
        self.scored = 0
        self.rejected = 0
        self.dropped = 0
        self.failures = 0
        self.skipped: dict[str, int] = {}
        self.last_error: str | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._queued_rows = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        metrics.registry.register(_ShadowCollector(self))

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Start the log writer, the loader and the scoring thread; returns the log's messages
        about earlier shadow writers that died unflushed."""
        if self._thread is not None:
            return []
        messages = self.writer.start()
        self.holder.start()
        self._thread = threading.Thread(target=self._run, name="mlwright-shadow", daemon=True)
        self._thread.start()
        return messages

    def stop(self, timeout: float = 10.0) -> None:
        """Score what is queued (up to ``timeout`` seconds), write it and stop."""
        self.holder.stop()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "the shadow did not finish within %.0f s; %d queued row(s) are not scored",
                    timeout,
                    self._queued_rows,
                )
            self._thread = None
        self.writer.close()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every request queued so far is scored and written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._done.wait(min(left, 0.05))
        return self.writer.flush(max(0.0, deadline - time.monotonic()))

    # -- the request path ----------------------------------------------------------------------
    def submit(self, request_ids: list[str], at: float, live: LoadedModel, batch: RowBatch) -> None:
        """Queue an answered request for the shadow; never blocks (drops when full)."""
        n = batch.n_rows
        with self._lock:
            if self._queued_rows + n > self.max_queued_rows:
                self.dropped += n
                return
            self._queued_rows += n
            self._pending += 1
        self._queue.put(_Job(request_ids, at, live, batch))

    # -- the scoring thread --------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            rows = job.batch.n_rows
            while rows < _MERGE_ROWS:  # what queued meanwhile goes in the same model call
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
                rows += more.batch.n_rows
            try:
                self._handle(jobs)
            except Exception as exc:  # the thread must outlive any one request
                self._failed(jobs, exc)
            finally:
                with self._done:
                    self._queued_rows -= rows
                    self._pending -= len(jobs)
                    self._done.notify_all()

    def _handle(self, jobs: list[_Job]) -> None:
        shadow = self.holder.current
        if shadow is None:
            self._skip(jobs, "no shadow model loaded")
            return
        todo: list[tuple[_Job, RowBatch]] = []
        for job in jobs:
            if job.live.ref.version == shadow.ref.version:
                self._skip([job], "the shadow is the version served")
                continue
            try:
                todo.append((job, _batch_for(shadow, job)))
            except Exception as exc:  # its rows do not fit the shadow's schema
                self._failed([job], exc)
        for chunk in _mergeable(todo):
            try:
                scored = shadow.score(merge_batches([batch for _, batch in chunk]))
                parts = scored.split([batch.n_rows for _, batch in chunk])
            except Exception as exc:
                self._failed([job for job, _ in chunk], exc)
                continue
            for (job, _), part in zip(chunk, parts, strict=True):
                self._write(shadow, job, part)

    def _write(self, shadow: LoadedModel, job: _Job, scored: Scored) -> None:
        from mlwright.registry.operations import LoggedRow

        at = datetime.fromtimestamp(job.at, UTC)
        proba = scored.probabilities
        rows: list[LoggedRow] = [
            LoggedRow(
                request_id=rid,
                at=at,
                inputs=inputs,
                prediction=scored.predictions[i],
                probabilities=None if proba is None else proba[i],
                rejected=scored.reasons.get(i),
            )
            for i, (rid, inputs) in enumerate(
                zip(job.request_ids, input_rows(job.batch.inputs), strict=True)
            )
        ]
        self.writer.submit(shadow.ref.version, rows)  # a full log counts its own drops
        with self._lock:
            self.rejected += len(scored.reasons)
            self.scored += len(rows) - len(scored.reasons)

    def _skip(self, jobs: list[_Job], why: str) -> None:
        with self._lock:
            self.skipped[why] = self.skipped.get(why, 0) + sum(j.batch.n_rows for j in jobs)

    def _failed(self, jobs: list[_Job], exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.failures += len(jobs)
            repeated, self.last_error = error == self.last_error, error
        if not repeated:  # a shadow that keeps failing the same way is logged once
            log.warning("the shadow %s could not score %d request(s): %s", self.ref, len(jobs), exc)

    # -- reporting -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Which version shadows, its last load failure and the counters (never the last
        scoring error, which may quote inputs: ``/health`` is public)."""
        shadow = self.holder.current
        failure = self.holder.last_failure
        written = self.writer.stats()
        with self._lock:
            counts = {
                "rows_scored": self.scored,
                "rows_rejected": self.rejected,
                "rows_dropped": self.dropped,
                "rows_skipped": dict(self.skipped),
                "failures": self.failures,
                "queued_rows": self._queued_rows,
            }
        return {
            "source": self.ref,
            "model": None
            if shadow is None
            else {
                "name": shadow.ref.name,
                "version": shadow.ref.version,
                "digest": shadow.ref.digest,
            },
            "last_load_failure": None if failure is None else failure.to_dict(),
            **counts,
            "prediction_log": {
                k: written.get(k) for k in ("written", "dropped", "queued", "failures")
            },
        }


def _batch_for(shadow: LoadedModel, job: _Job) -> RowBatch:
    """The request's rows for the shadow: as checked for the served model when both have the
    same schema, else checked anew against the shadow's (as if it had been asked)."""
    batch = job.batch
    if shadow.model.schema_ == job.live.model.schema_:
        return batch
    if batch.frame is not None:
        return shadow.validator.check_frame(batch.frame.copy(), "request")
    return shadow.validator.parse_json(orjson.dumps(batch.inputs))


def _mergeable(todo: list[tuple[_Job, RowBatch]]) -> Iterator[list[tuple[_Job, RowBatch]]]:
    """Consecutive JSON batches with the same columns, together; a file batch alone."""
    chunk: list[tuple[_Job, RowBatch]] = []
    key: tuple[str, ...] | None = None
    for item in todo:
        columns = item[1].columns
        this = None if columns is None else tuple(columns)
        if chunk and (this is None or this != key):
            yield chunk
            chunk = []
        chunk.append(item)
        key = this
    if chunk:
        yield chunk


class _ShadowCollector(Collector):
    """Reads the shadow's counters at each scrape."""

    def __init__(self, shadow: ShadowScorer) -> None:
        self.shadow = shadow

    def collect(self) -> Iterator[Metric]:
        s = self.shadow
        prefix = "mlwright_shadow"
        yield CounterMetricFamily(
            f"{prefix}_rows_scored", "Rows the shadow model scored.", value=s.scored
        )
        yield CounterMetricFamily(
            f"{prefix}_rows_rejected", "Rows the shadow model could not score.", value=s.rejected
        )
        yield CounterMetricFamily(
            f"{prefix}_rows_dropped",
            "Rows left unscored because the shadow's queue was full.",
            value=s.dropped,
        )
        yield CounterMetricFamily(
            f"{prefix}_rows_skipped",
            "Rows not scored: no shadow loaded, or the shadow is the version served.",
            value=sum(s.skipped.values()),
        )
        yield CounterMetricFamily(
            f"{prefix}_failures", "Requests the shadow failed to score.", value=s.failures
        )
        yield GaugeMetricFamily(
            f"{prefix}_rows_queued", "Rows waiting for the shadow.", value=s._queued_rows
        )
        written = s.writer.stats()
        yield CounterMetricFamily(
            f"{prefix}_log_rows_written",
            "Shadow rows written to the prediction log.",
            value=written.get("written", 0),
        )
        yield CounterMetricFamily(
            f"{prefix}_log_rows_dropped",
            "Shadow rows the prediction log could not keep.",
            value=written.get("dropped", 0),
        )
