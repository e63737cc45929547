"""ModelHolder: the model served now, swapped atomically when the source moves to a new version.

A background thread polls the source. A new version is loaded beside the one serving; only when
it has loaded (hashes checked, validator built) does one assignment make it current, so requests
never wait for a load and never see half a model. A version that fails to load leaves the old one
serving; the failure shows in ``/health`` and in the metrics, and that version is retried only
after ``retry_failed_s`` (or at once when the source moves again).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter

from mlwright.serving.scoring import LoadedModel
from mlwright.serving.sources import ModelSource, ResolvedModel
from mlwright.settings import GuardrailSettings

__all__ = ["LoadEvents", "ModelHolder", "ReloadFailure"]

log = logging.getLogger("mlwright.serving")


@dataclass(frozen=True)
class ReloadFailure:
    """A failed attempt to resolve or load a model version."""

    source: str
    error: str
    error_type: str
    at: float
    digest: str | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "source": self.source,
            "version": self.version,
            "digest": self.digest,
            "error": self.error,
            "error_type": self.error_type,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
        }


class LoadEvents(Protocol):
    """Where a holder reports loads and failed loads: ``ServingMetrics`` for the served model,
    a shadow's own counters for a shadow (``serving.shadow``)."""

    reload_failures: Counter

    def served(self, ref: ResolvedModel, loaded_at: float) -> None:
        """Record that ``ref`` is now loaded."""
        ...


class ModelHolder:
    """Holds the current ``LoadedModel`` and keeps it in step with ``source``.

    Parameters
    ----------
    source:
        Where the model comes from.
    metrics:
        Where loads and failures are counted.
    poll_interval:
        Seconds between checks of the source.
    retry_failed_s:
        Seconds before a version that failed to load is tried again.
    guardrails:
        The per-prediction rules each loaded version is checked with (None: off).
    role:
        What the held model does, for the log ("serving"; "shadow-scoring" for a shadow).

    Example:
        >>> holder = ModelHolder(FolderSource("models/churn"), ServingMetrics())
        >>> holder.start(); holder.current  # None until the first load finishes
    """

    def __init__(
        self,
        source: ModelSource,
        metrics: LoadEvents,
        *,
        poll_interval: float = 2.0,
        retry_failed_s: float = 30.0,
        guardrails: GuardrailSettings | None = None,
        role: str = "serving",
    ) -> None:
        self.source = source
        self.role = role
        self.guardrails = guardrails
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.retry_failed_s = retry_failed_s
        self.current: LoadedModel | None = None
        self.last_failure: ReloadFailure | None = None
        self._lock = threading.Lock()  # one refresh at a time (poller and /reload)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load in the background, then poll the source until ``stop()``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="mlwright-reload", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling (a load in progress finishes in the background)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.poll_interval)

    def refresh(self, *, force: bool = False) -> bool:
        """Resolve the source and load its version if it is not the one served.

        Returns True when a new model was swapped in. Never raises: failures are recorded.
        """
        with self._lock:
            ref: ResolvedModel | None = None
            try:
                ref = self.source.resolve()
                if self._is_current(ref) or (not force and self._recently_failed(ref)):
                    return False
                loaded = LoadedModel.load(ref, self.guardrails)
            except Exception as exc:  # any failure must leave the served model alone
                self._failed(exc, ref)
                return False
            self.current = loaded  # the swap: one reference assignment
            self.last_failure = None
            # the loaded model's objects live until the next swap: keep them out of the
            # collector's generations, so that full collections (latency spikes) stay short
            gc.collect()
            gc.freeze()
            self.metrics.served(ref, loaded.loaded_at)
            version = "" if ref.version is None else f" version {ref.version}"
            log.info("now %s %s%s (digest %s)", self.role, ref.name, version, ref.digest[:12])
            return True

    def _is_current(self, ref: ResolvedModel) -> bool:
        current = self.current
        return current is not None and current.ref.digest == ref.digest

    def _recently_failed(self, ref: ResolvedModel) -> bool:
        failure = self.last_failure
        return (
            failure is not None
            and failure.digest == ref.digest
            and time.time() - failure.at < self.retry_failed_s
        )

    def _failed(self, exc: Exception, ref: ResolvedModel | None) -> None:
        previous = self.last_failure
        failure = ReloadFailure(
            self.source.description,
            str(exc),
            type(exc).__name__,
            time.time(),
            None if ref is None else ref.digest,
            None if ref is None else ref.version,
        )
        self.last_failure = failure
        repeated = previous is not None and (previous.error, previous.digest) == (
            failure.error,
            failure.digest,
        )
        if not repeated:  # a source that stays broken is counted once per distinct failure
            self.metrics.reload_failures.inc()
            log.error("cannot load a model from %s: %s", self.source.description, exc)
