"""The retraining runner: a background thread that applies the policy every ``check_interval_s``.

Each check first monitors the champion's logged predictions (``[monitoring] since``, stored, with
the ``[alerts]`` rules judged and sent), so alerts open without a separate cron job, and then
retrains if the policy says so (an alert that opened is one of its triggers).

Every server of a fleet may start one; a lease in the registry database (``retrain-runner:NAME``)
elects one of them, and only that one checks the triggers and retrains. When it stops or dies,
its lease expires after ``[retrain] lock_ttl_s`` and another runner takes over. A failed run is
logged and counted, and the thread goes on.

Example:
    >>> runner = RetrainRunner(registry, "churn", settings=settings)
    >>> runner.start()
    >>> ...
    >>> runner.stop()
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mlwright.api import resolve_settings
from mlwright.model import Model
from mlwright.monitoring.service import monitor_logged, parse_time
from mlwright.operate.retrain import Lease, RetrainDecision, default_holder, retrain
from mlwright.registry import Registry
from mlwright.settings import Settings

__all__ = ["RetrainRunner"]

log = logging.getLogger("mlwright.retrain")


class RetrainRunner:
    """Calls ``retrain(..., if_needed=True)`` every ``check_interval_s`` seconds on a thread,
    when this runner holds the fleet's runner lease.

    Parameters
    ----------
    registry:
        The registry of the model.
    name:
        The model to retrain.
    alias:
        The champion's alias (default: ``[retrain] alias``).
    settings:
        The policy (``settings.retrain``); default: the environment and ./mlwright.toml.
    check_interval_s:
        Seconds between checks (default: ``[retrain] check_interval_s``).
    actor:
        The name in the audit log.
    """

    def __init__(
        self,
        registry: Registry,
        name: str,
        *,
        alias: str | None = None,
        settings: Settings | None = None,
        check_interval_s: float | None = None,
        actor: str = "mlwright-runner",
        monitor: bool = True,
    ) -> None:
        self.registry = registry
        self.name = name
        self.settings = resolve_settings(settings)
        self.alias = alias or self.settings.retrain.alias
        self.check_interval_s = check_interval_s or self.settings.retrain.check_interval_s
        self.actor = actor
        self.monitor = monitor
        self.last_status: str | None = None
        self.holder = default_holder()
        self.runs = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_decision: RetrainDecision | None = None
        self._lease = Lease(
            registry,
            f"retrain-runner:{name}",
            self.holder,
            max(self.settings.retrain.lock_ttl_s, 3 * self.check_interval_s),
        )
        self._leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (its first check comes after one interval)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mlwright-retrain", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current check (waiting up to ``timeout`` s) and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the retrain runner is still training; it stops when that ends")
            self._thread = None
        if self._leading:
            self._lease.release()
            self._leading = False

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.check_interval_s):
            self.run_once()

    def run_once(self) -> RetrainDecision | None:
        """One check: lead (or stay leader), then retrain if needed. Never raises; None when
        another runner leads or the run failed."""
        try:
            if not self._lead():
                return None
            if self.monitor:
                self._monitor()
            decision = retrain(
                self.registry,
                self.name,
                alias=self.alias,
                if_needed=True,
                settings=self.settings,
                actor=self.actor,
                holder=self.holder,
            )
        except Exception as exc:  # one failed run must not stop the runner
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("retrain runner of '%s': the check failed", self.name)
            return None
        self.runs += 1
        self.last_decision = decision
        return decision

    def _monitor(self) -> None:
        """Judge the champion's logged predictions, store the verdict and run the alert rules."""
        try:
            found = self.registry.resolve(f"{self.name}@{self.alias}")
            model = Model.load(found.path)
            result = monitor_logged(
                self.registry,
                found.name,
                found.version,
                model.reference_,
                model.schema_,
                since=parse_time(self.settings.monitoring.since),
                window=self.settings.monitoring.window,
                alpha=self.settings.monitoring.alpha,
                seed=int(model.info_.get("seed", 0)),
                store=True,
                alert_settings=self.settings.alerts,
            )
        except Exception as exc:  # monitoring failing must not stop retraining on schedule
            self.errors += 1
            self.last_error = f"monitoring: {type(exc).__name__}: {exc}"
            log.exception("retrain runner of '%s': monitoring failed", self.name)
            return
        self.last_status = result.status
        log.info("monitoring of %s@%s: %s", self.name, found.version, result.status)

    def _lead(self) -> bool:
        if self._leading and not self._lease.lost:
            return True
        if self._leading:  # the lease was lost: stop renewing it, then try to take it again
            self._lease.release()
            self._lease.lost = False
        self._leading = self._lease.acquire()
        if self._leading:
            self._lease.keep()
            log.info("retrain runner of '%s': this process (%s) leads", self.name, self.holder)
        return self._leading

    def stats(self) -> dict[str, Any]:
        """Checks run, errors, the last error and the last decision."""
        return {
            "leading": self._leading,
            "last_status": self.last_status,
            "runs": self.runs,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_decision": None if self.last_decision is None else self.last_decision.to_dict(),
        }
