"""Alert rules and webhooks, against a real local HTTP server and a real registry database."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlwright.errors import ConfigError
from mlwright.monitoring import (
    MonitorReport,
    ReferenceProfile,
    evaluate_alerts,
    monitor,
    parse_rules,
    post_json,
)
from mlwright.registry import Registry, open_registry
from mlwright.settings import AlertSettings, load_settings
from tests.registry.conftest import fake_model

from .conftest import make_rows, true_proba


class Webhook:
    """A local HTTP server that answers each POST as scripted: an HTTP status, or "sleep"
    (answer 200 after ``sleep_s``, too late for the client); then 200 once the script ends."""

    def __init__(self, script: list[int | str] | None = None, sleep_s: float = 1.0) -> None:
        self.script = list(script or [])
        self.sleep_s = sleep_s
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                step = hook.script.pop(0) if hook.script else 200
                if step == "sleep":
                    time.sleep(hook.sleep_s)
                    step = 200
                if step == 200:
                    hook.received.append(json.loads(body))
                self.send_response(int(step))
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as hook:
        yield hook


def test_webhook_delivers_json(webhook: Webhook) -> None:
    delivery = post_json(webhook.url, {"rule": "status:alert"}, timeout_s=2, retries=0)
    assert delivery.ok and delivery.attempts == 1 and delivery.status == 200
    assert webhook.received == [{"rule": "status:alert"}]


def test_webhook_fails_first_then_succeeds_on_retry() -> None:
    with Webhook([503, 500]) as hook:
        started = time.monotonic()
        delivery = post_json(hook.url, {"n": 1}, timeout_s=2, retries=3, backoff_s=0.05)
        assert delivery.ok and delivery.attempts == 3, delivery
        assert hook.received == [{"n": 1}] and hook.attempts == 3
        assert time.monotonic() - started >= 0.05 + 0.1  # backoff doubled between tries


def test_webhook_that_times_out_is_reported_not_raised() -> None:
    with Webhook(["sleep", "sleep"], sleep_s=1.0) as hook:
        started = time.monotonic()
        delivery = post_json(hook.url, {"n": 1}, timeout_s=0.2, retries=1, backoff_s=0.01)
        assert not delivery.ok and delivery.attempts == 2
        assert delivery.error is not None and "timed out" in delivery.error.lower()
        assert "T0KEN" not in delivery.error  # the URL's secret path is not repeated
        assert time.monotonic() - started < 2.0


def test_webhook_client_error_is_not_retried_and_bad_scheme_refused() -> None:
    with Webhook([404]) as hook:
        delivery = post_json(hook.url, {"n": 1}, timeout_s=2, retries=3, backoff_s=0.01)
        assert not delivery.ok and delivery.attempts == 1 and delivery.status == 404
    refused = post_json("file:///etc/passwd", {"n": 1})
    assert not refused.ok and refused.attempts == 0
    down = post_json("http://127.0.0.1:9/x", {"n": 1}, timeout_s=1, retries=1, backoff_s=0.01)
    assert not down.ok and down.attempts == 2 and "refused" in (down.error or "").lower()


def test_rules_are_checked_with_a_clear_message(tmp_path: Path) -> None:
    rules = parse_rules(["status:warning", "drift:normal", "quality", "performance:realized"])
    assert [(r.kind, r.target) for r in rules] == [
        ("status", "warning"),
        ("drift", "normal"),
        ("quality", None),
        ("performance", "realized"),
    ]
    with pytest.raises(ConfigError, match="unknown alert rule 'status:bad'"):
        parse_rules(["status:bad"])
    project = tmp_path / "mlwright.toml"
    project.write_text('[alerts]\nrules = ["drif"]\nwebhook_url = "ftp://x"\n')
    with pytest.raises(ConfigError) as found:
        load_settings(project)
    assert "unknown alert rule 'drif'" in str(found.value)
    assert "webhook_url must start with http" in str(found.value)
    project.write_text('[monitoring]\nwindow = "1 day"\n[alerts]\nrules = ["drift:tenure"]\n')
    with pytest.raises(ConfigError, match="window must be a duration such as 30m"):
        load_settings(project)


def _report(reference: ReferenceProfile, shift: float, seed: int) -> MonitorReport:
    rows = make_rows(1000, np.random.default_rng(seed), shift=shift)
    return monitor(reference, rows, true_proba(rows))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = open_registry(tmp_path / "registry")
    reg.register(fake_model(tmp_path / "m"), "churn")
    yield reg
    reg.close()


def test_rules_fire_on_what_they_name(synthetic_reference: ReferenceProfile) -> None:
    quiet, shifted = _report(synthetic_reference, 0.0, 1), _report(synthetic_reference, 1.0, 2)
    assert quiet.status == "ok" and shifted.status == "alert"
    for text, fires in [
        ("status:alert", True),
        ("status:warning", True),  # warning or worse
        ("drift", True),
        ("drift:normal", True),
        ("drift:skewed", False),
        ("prediction_drift", True),  # the shift moves the true probabilities too
        ("performance", False),
    ]:
        (rule,) = parse_rules([text])
        assert bool(rule.findings(shifted)) is fires, text
        assert not rule.findings(quiet), text


def test_alert_opens_once_is_not_resent_and_clears(
    registry: Registry, synthetic_reference: ReferenceProfile, webhook: Webhook
) -> None:
    settings = AlertSettings(
        rules=["status:alert", "drift:normal", "drift:skewed"],
        webhook_url=webhook.url,
        timeout_s=2,
        retries=1,
        backoff_s=0.01,
    )
    shifted = _report(synthetic_reference, 1.0, 3)
    first = evaluate_alerts(registry, "churn", 1, shifted, settings)
    assert [(e.rule, e.event) for e in first] == [
        ("status:alert", "opened"),
        ("drift:normal", "opened"),
    ]
    assert all(e.delivery is not None and e.delivery.ok for e in first)
    assert [m["rule"] for m in webhook.received] == ["status:alert", "drift:normal"]
    body = webhook.received[1]
    assert body["event"] == "alert" and body["model"] == "churn" and body["version"] == 1
    assert body["status"] == "alert" and "Feature 'normal' drifted" in body["reasons"][0]
    assert set(body) >= {"window", "time", "text"}
    states = {a.rule: a for a in registry.operations.alerts("churn")}
    assert states["status:alert"].state == "open" and states["status:alert"].notified_at

    again = evaluate_alerts(registry, "churn", 1, _report(synthetic_reference, 1.0, 4), settings)
    assert [(e.event, e.delivery) for e in again] == [("open", None), ("open", None)]
    assert len(webhook.received) == 2  # not sent again while open

    calm = evaluate_alerts(registry, "churn", 1, _report(synthetic_reference, 0.0, 5), settings)
    assert [(e.rule, e.event) for e in calm] == [
        ("status:alert", "cleared"),
        ("drift:normal", "cleared"),
    ]
    assert [m["event"] for m in webhook.received[2:]] == ["resolved", "resolved"]
    assert {a.state for a in registry.operations.alerts("churn")} == {"cleared"}
    assert (
        evaluate_alerts(registry, "churn", 1, _report(synthetic_reference, 0.0, 6), settings) == []
    )
    actions = [e.action for e in registry.history("churn")]
    assert actions.count("alert") == 2 and actions.count("alert_cleared") == 2


def test_failed_delivery_is_reported_and_retried_next_run(
    registry: Registry, synthetic_reference: ReferenceProfile, caplog: pytest.LogCaptureFixture
) -> None:
    shifted = _report(synthetic_reference, 1.0, 7)
    with Webhook([500, 500]) as hook:
        settings = AlertSettings(webhook_url=hook.url, timeout_s=2, retries=1, backoff_s=0.01)
        (event,) = evaluate_alerts(registry, "churn", 1, shifted, settings)
        assert event.event == "opened" and event.delivery is not None
        assert not event.delivery.ok and "HTTP 500" in (event.delivery.error or "")
        assert event.to_dict()["notified"] is False
        assert "was not delivered" in caplog.text
        (state,) = registry.operations.alerts("churn")
        assert state.state == "open" and state.notified_at is None

        (retry,) = evaluate_alerts(registry, "churn", 1, shifted, settings)  # server is back
        assert retry.event == "open" and retry.delivery is not None and retry.delivery.ok
        assert [m["event"] for m in hook.received] == ["alert"]
        (state,) = registry.operations.alerts("churn")
        assert state.notified_at is not None
        (third,) = evaluate_alerts(registry, "churn", 1, shifted, settings)
        assert third.delivery is None and len(hook.received) == 1


def test_without_a_webhook_alerts_go_to_the_log(
    registry: Registry, synthetic_reference: ReferenceProfile, caplog: pytest.LogCaptureFixture
) -> None:
    (event,) = evaluate_alerts(
        registry, "churn", 2, _report(synthetic_reference, 1.0, 8), AlertSettings()
    )
    assert event.event == "opened" and event.delivery is None
    assert "alert opened: [status:alert] churn@2 is 'alert'" in caplog.text
    (state,) = registry.operations.alerts("churn")
    assert state.notified_at is not None
