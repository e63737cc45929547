"""Prometheus metrics of one server, in its own registry (so that several apps can coexist)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlwright.serving.sources import ResolvedModel

__all__ = ["CONTENT_TYPE", "ServingMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384, 65536)


class ServingMetrics:
    """Requests, latency, errors, rows, batches, the model version served and reload failures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "mlwright_http_requests", "HTTP requests answered.", ["route", "method", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "mlwright_http_request_duration_seconds", "Time to answer a request.", ["route"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "mlwright_errors", "Error responses by error code.", ["route", "code"], registry=r
        )
        self.in_flight = Gauge(
            "mlwright_predict_in_flight", "Predict requests admitted.", registry=r
        )
        self.overloaded = Counter(
            "mlwright_overload_rejections", "Predict requests refused with 503.", registry=r
        )
        self.rows_predicted = Counter("mlwright_rows_predicted", "Rows scored.", registry=r)
        self.rows_rejected = Counter(
            "mlwright_rows_rejected",
            "Rows that could not be scored (reported per row).",
            registry=r,
        )
        self.batch_rows = Histogram(
            "mlwright_batch_rows", "Rows per model call (micro-batching).", buckets=_BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.model_info = Gauge(
            "mlwright_model_info", "The model served (value 1).", ["name", "version", "digest"],
            registry=r,
        )  # fmt: skip
        self.model_loaded_at = Gauge(
            "mlwright_model_loaded_timestamp_seconds", "When the served model was loaded.",
            registry=r,
        )  # fmt: skip
        self.reloads = Counter("mlwright_model_reloads", "Model versions loaded.", registry=r)
        self.reload_failures = Counter(
            "mlwright_model_reload_failures", "Model versions that failed to load.", registry=r
        )
        self.guardrails = Counter(
            "mlwright_guardrail_rows", "Scored rows on which a guardrail rule fired.",
            ["rule", "action"], registry=r,
        )  # fmt: skip

    def watch_prediction_log(self, stats: Callable[[], dict[str, Any]]) -> None:
        """Expose the prediction log's ``stats()`` (rows written, dropped, queued, failures)."""
        self.registry.register(_PredictionLogCollector(stats))

    def served(self, ref: ResolvedModel, loaded_at: float) -> None:
        """Record that ``ref`` is now the model served."""
        self.model_info.clear()
        version = "" if ref.version is None else str(ref.version)
        self.model_info.labels(ref.name, version, ref.digest[:12]).set(1)
        self.model_loaded_at.set(loaded_at)
        self.reloads.inc()

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


class _PredictionLogCollector(Collector):
    """Reads the prediction log's counters at each scrape."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats()
        prefix = "mlwright_prediction_log"
        yield CounterMetricFamily(
            f"{prefix}_rows_written",
            "Rows written to the prediction log.",
            value=s.get("written", 0),
        )
        yield CounterMetricFamily(
            f"{prefix}_rows_dropped",
            "Rows the prediction log could not keep (queue full, or writes failed 3 times).",
            value=s.get("dropped", 0),
        )
        yield CounterMetricFamily(
            f"{prefix}_write_failures", "Failed prediction-log writes.", value=s.get("failures", 0)
        )
        yield GaugeMetricFamily(
            f"{prefix}_rows_queued", "Rows waiting to be written (lost by a crash).",
            value=s.get("queued", 0),
        )  # fmt: skip
