"""Alerts: rules judged after each monitoring run, sent once to the log and a webhook.

A rule (``[alerts] rules`` in mlwright.toml) fires when the run finds what it names. A rule that
fires and is not open yet opens an alert (atomically, in the registry database, so two monitors
never both send it), is logged and POSTed to ``webhook_url``; while it stays open nothing is sent
again. A rule that is open and no longer fires clears, and a "resolved" message is sent. A webhook
that still fails after its retries is logged and reported in the result, never raised: monitoring
goes on, and the next run tries the delivery again (the alert is not marked notified).

Rules:

- ``status:alert``: the run's status is "alert"; ``status:warning``: "warning" or worse;
- ``drift`` / ``drift:COLUMN``: an input column (or that one) drifted; ``prediction_drift``;
- ``performance`` (``:realized`` / ``:estimated``): a performance metric dropped;
- ``quality`` / ``quality:COLUMN``: a data-quality check fired.

Example:
    >>> events = evaluate_alerts(registry, "churn", 3, report, settings.alerts)
    >>> [(e.rule, e.event, e.delivery and e.delivery.ok) for e in events]
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlwright.errors import ConfigError
from mlwright.monitoring.report import MonitorReport
from mlwright.settings import ALERT_RULES, AlertSettings

if TYPE_CHECKING:
    from mlwright.registry import Registry

__all__ = [
    "AlertEvent",
    "AlertRule",
    "Delivery",
    "evaluate_alerts",
    "parse_rules",
    "post_json",
    "unknown_columns",
]

log = logging.getLogger("mlwright.alerts")

_MAX_BACKOFF_S = 30.0
_RETRIED_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SHOWN_FINDINGS = 3


@dataclass(frozen=True)
class AlertRule:
    """One parsed rule: ``kind`` ("status", "drift", "prediction_drift", "performance",
    "quality") and its ``target`` (a status, a column, "realized"/"estimated", or None)."""

    text: str
    kind: str
    target: str | None

    def findings(self, report: MonitorReport) -> list[str]:
        """Sentences saying why the rule fires on ``report``; empty when it does not."""
        if self.kind == "status":
            levels = ("alert",) if self.target == "alert" else ("warning", "alert")
            return list(report.reasons) if report.status in levels else []
        if self.kind == "drift":
            return [
                f"Feature '{f.name}' drifted: {f.change}; PSI {f.psi or 0:.3f} "
                f"(alert at {f.psi_threshold:g}), p = {f.p_value or 0:.2g}."
                for f in report.features
                if f.drifted and self.target in (None, f.name)
            ]
        if self.kind == "prediction_drift":
            p = report.prediction
            if p is None or not (p.drifted or p.minor):
                return []
            return [f"The model's predictions drifted: {p.change}; PSI {p.psi or 0:.3f}."]
        if self.kind == "performance":
            if report.performance is None:
                return []
            metrics = {
                None: report.performance.checks,
                "realized": report.performance.realized,
                "estimated": report.performance.estimated,
            }[self.target]
            return [m.sentence() for m in metrics if m.dropped]
        return [  # quality
            c.sentence()
            for q in report.quality
            if self.target in (None, q.name)
            for c in q.checks
            if c.fired
        ]


def parse_rules(rules: list[str]) -> list[AlertRule]:
    """The rules of ``[alerts] rules`` (ConfigError for one that is not known)."""
    parsed = []
    for text in rules:
        kind, _, target = text.partition(":")
        target = target.strip()
        ok = (
            (kind == "status" and target in ("alert", "warning"))
            or (kind in ("drift", "quality") and (target or ":" not in text))
            or (kind == "prediction_drift" and not target)
            or (kind == "performance" and target in ("", "realized", "estimated"))
        )
        if not ok:
            raise ConfigError(
                f"unknown alert rule '{text}'; expected one of {', '.join(ALERT_RULES)} "
                "(COLUMN is an input column name). Fix [alerts] rules in mlwright.toml."
            )
        parsed.append(AlertRule(text, kind, target or None))
    return parsed


def unknown_columns(rules: list[str], columns: list[str]) -> list[str]:
    """The ``drift:COLUMN`` / ``quality:COLUMN`` rules whose column is not in ``columns``."""
    known = set(columns)
    return [
        r.text
        for r in parse_rules(rules)
        if r.kind in ("drift", "quality") and r.target is not None and r.target not in known
    ]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one webhook message: delivered or not, after how many attempts."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ok": self.ok,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
        }


@dataclass(frozen=True)
class AlertEvent:
    """What a rule did in one run: "opened", "open" (still firing, not sent again) or
    "cleared"; ``delivery`` is the webhook outcome when a message was sent."""

    rule: str
    event: str
    message: str
    delivery: Delivery | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rule": self.rule,
            "event": self.event,
            "message": self.message,
            "notified": None if self.delivery is None else self.delivery.ok,
            "delivery": None if self.delivery is None else self.delivery.to_dict(),
        }


def redact(url: str) -> str:
    """``url`` without its path, query and credentials (webhook URLs often hold a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    timeout_s: float = 5.0,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> Delivery:
    """POST ``body`` as JSON to ``url``; retry network errors, timeouts, 5xx, 408 and 429 up to
    ``retries`` times, waiting ``backoff_s`` and doubling. Never raises for a failed delivery.

    Example:
        >>> post_json("https://hooks.example.com/T0/B0/x", {"text": "churn drifted"}).ok
    """
    import urllib.error  # only when an alert is sent: serving imports this module
    import urllib.request

    if not url.startswith(("http://", "https://")):
        return Delivery(False, 0, None, f"webhook URL must be http(s), got '{url[:20]}…'")
    data = json.dumps(body, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "mlwright-alerts"}
    error = ""
    status: int | None = None
    attempt = 0
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                response.read()
                return Delivery(True, attempt, int(response.status))
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
            exc.close()
            if exc.code not in _RETRIED_STATUS:
                break  # a 4xx will not fix itself: the URL or the payload is wrong
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            status, error = None, f"{type(reason).__name__}: {reason}"
        if attempt <= retries:
            time.sleep(min(backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S))
    return Delivery(
        False, attempt, status, f"{error} from {redact(url)} after {attempt} attempt(s)"
    )


def evaluate_alerts(
    registry: Registry,
    name: str,
    version: int | None,
    report: MonitorReport,
    settings: AlertSettings,
    *,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> list[AlertEvent]:
    """Judge every rule of ``settings`` on ``report``: open, keep or clear alerts of ``name``.

    Returns one event per rule that is open or changed state; rules that neither fire nor were
    open give none.
    """
    ops = registry.operations
    states = {a.rule: a for a in ops.alerts(name)}
    sender = _Sender(name, version, report, settings, window)
    events = []
    for rule in parse_rules(settings.rules):
        findings = rule.findings(report)
        state = states.get(rule.text)
        if findings:
            message = _message(rule, name, version, report.status, findings)
            details = {"status": report.status, "reasons": findings, **sender.window_dict()}
            delivery = None
            if ops.open_alert(name, rule.text, message, details, version=version):
                event = "opened"
                log.warning("alert opened: %s", message)
                delivery = sender.send(rule.text, "alert", message, findings)
                delivered = delivery is None or delivery.ok  # no webhook: the log is the channel
            else:
                event = "open"  # sent when it opened; sent again only if that delivery failed
                undelivered = state is not None and state.notified_at is None
                if undelivered and settings.webhook_url:
                    delivery = sender.send(rule.text, "alert", message, findings)
                delivered = delivery is not None and delivery.ok
            if delivered:
                ops.mark_notified(name, rule.text)
            events.append(AlertEvent(rule.text, event, message, delivery))
        elif state is not None and state.state == "open":
            if ops.clear_alert(name, rule.text, version=version):
                message = f"[{rule.text}] {_ref(name, version)} resolved: the rule no longer fires."
                log.warning("alert cleared: %s", message)
                delivery = sender.send(rule.text, "resolved", message, list(report.reasons))
                events.append(AlertEvent(rule.text, "cleared", message, delivery))
    return events


class _Sender:
    """Builds and posts the webhook messages of one run (None when no webhook is set)."""

    def __init__(
        self,
        name: str,
        version: int | None,
        report: MonitorReport,
        settings: AlertSettings,
        window: tuple[datetime | None, datetime | None],
    ) -> None:
        self.name, self.version, self.report = name, version, report
        self.settings, self.window = settings, window

    def window_dict(self) -> dict[str, Any]:
        start, end = self.window
        return {
            "window": {
                "start": None if start is None else start.isoformat(),
                "end": None if end is None else end.isoformat(),
            }
        }

    def send(self, rule: str, event: str, message: str, reasons: list[str]) -> Delivery | None:
        url = self.settings.webhook_url
        if not url:
            return None
        body = {
            "event": event,
            "model": self.name,
            "version": self.version,
            "rule": rule,
            "status": self.report.status,
            "reasons": reasons,
            **self.window_dict(),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "text": message,  # what chat webhooks (Slack, Mattermost) display
        }
        delivery = post_json(
            url,
            body,
            timeout_s=self.settings.timeout_s,
            retries=self.settings.retries,
            backoff_s=self.settings.backoff_s,
        )
        if not delivery.ok:
            log.error("alert '%s' of %s was not delivered: %s", rule, self.name, delivery.error)
        return delivery


def _ref(name: str, version: int | None) -> str:
    return name if version is None else f"{name}@{version}"


def _message(
    rule: AlertRule, name: str, version: int | None, status: str, findings: list[str]
) -> str:
    shown = " ".join(findings[:_SHOWN_FINDINGS])
    more = len(findings) - _SHOWN_FINDINGS
    extra = f" (and {more} more)" if more > 0 else ""
    return f"[{rule.text}] {_ref(name, version)} is '{status}': {shown}{extra}"
