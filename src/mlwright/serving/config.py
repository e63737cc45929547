"""ServingConfig: every setting of the model server, built once at the edge (the CLI, a test)."""

from __future__ import annotations

from dataclasses import dataclass

from mlwright.errors import ConfigError
from mlwright.serving.auth import KeyRing
from mlwright.settings import AlertSettings, GuardrailSettings, MonitoringSettings

__all__ = ["ServingConfig"]


@dataclass(frozen=True)
class ServingConfig:
    """How the server listens, authenticates, batches and bounds its work.

    ``keys`` None means no authentication (allowed on a loopback host only; see
    ``auth.check_auth_setup``). ``batch_wait_ms`` 0 gathers only the requests that arrived while
    the model was busy, so a lone client never waits. ``guardrails`` are the per-prediction
    rules (None, or every rule "off": none, and the request path does no extra work);
    ``monitoring`` and ``alerts`` are how ``GET /monitoring`` judges the log and which alert
    rules it applies (None: the defaults, and no alert rules). ``shadow`` is a registry
    reference (``churn@challenger``) of another version of the logged model that scores every
    answered request silently, off the request path (``serving.shadow``); at most
    ``shadow_max_queued_rows`` rows wait for it, more are dropped and counted.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    keys: KeyRing | None = None
    max_body_mb: float = 16.0
    poll_interval: float = 2.0
    max_batch_rows: int = 256
    batch_wait_ms: float = 0.0
    max_in_flight: int = 256
    max_queued_rows: int = 100_000
    request_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    access_log: bool = False
    log_level: str = "info"
    guardrails: GuardrailSettings | None = None
    alerts: AlertSettings | None = None
    monitoring: MonitoringSettings | None = None
    shadow: str | None = None
    shadow_max_queued_rows: int = 20_000

    def __post_init__(self) -> None:
        positive = {
            "max_body_mb": self.max_body_mb,
            "poll_interval": self.poll_interval,
            "max_batch_rows": self.max_batch_rows,
            "max_in_flight": self.max_in_flight,
            "max_queued_rows": self.max_queued_rows,
            "request_timeout": self.request_timeout,
            "shadow_max_queued_rows": self.shadow_max_queued_rows,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(
                    f"serving setting {name} is {value}; it must be greater than 0. "
                    f"Pass a positive --{name.replace('_', '-')}."
                )
        if self.batch_wait_ms < 0 or self.shutdown_timeout < 0:
            raise ConfigError(
                "--batch-wait-ms and --shutdown-timeout must be 0 or more; pass a non-negative "
                "number."
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range; expected 0..65535.")

    @property
    def max_body_bytes(self) -> int:
        """The body size limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)
