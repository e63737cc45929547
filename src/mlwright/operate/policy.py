"""The retraining policy: when to retrain (triggers) and what a challenger must show to replace
the champion (the paired comparison on held-out labelled rows, and the verdict).

Triggers count from the last *decision* (a retrain that promoted or kept), never from a skipped
run, so a cron job that checks every five minutes does not reset them. A challenger replaces the
champion only if, on the same held-out rows, it is better, the paired bootstrap finds the gap
significant (``p < alpha``) and the gap's confidence interval lies above ``margin`` (in the
metric's own units): the margin itself must be significant.

Example:
    >>> check = check_triggers(registry, "churn", champion, settings.retrain)
    >>> check.fired
    ['1,204 new labels since the last decision (min_new_labels = 1000)']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlwright.evaluation import Comparison
from mlwright.evaluation.compare import format_p
from mlwright.registry import Event, ModelVersion, Registry
from mlwright.settings import RetrainSettings, parse_duration

__all__ = [
    "DECIDED",
    "TriggerCheck",
    "Verdict",
    "check_triggers",
    "judge",
    "last_decision",
    "parse_duration",
    "trained_until",
]

DECIDED = ("promoted", "kept")  # decisions that count for the triggers; "skipped" does not


# -- triggers -------------------------------------------------------------------------------------
def last_decision(history: list[Event]) -> Event | None:
    """The newest retrain event that promoted or kept (skipped runs do not count)."""
    for event in reversed(history):
        if event.action == "retrain" and (event.details or {}).get("decision") in DECIDED:
            return event
    return None


def trained_until(history: list[Event], version: int) -> datetime | None:
    """When the newest labelled row that the retrain which made ``version`` trained or judged on
    was logged; rows logged up to then must not judge it again."""
    for event in reversed(history):
        details = event.details or {}
        if event.action == "retrain" and details.get("challenger") == version:
            until = details.get("feedback_until")
            if isinstance(until, str):
                found = datetime.fromisoformat(until)
                return found.replace(tzinfo=UTC) if found.tzinfo is None else found
    return None


@dataclass(frozen=True)
class TriggerCheck:
    """Which triggers of the policy fired, which did not, counted from ``since``."""

    fired: list[str]
    quiet: list[str]
    since: datetime

    @property
    def configured(self) -> bool:
        """True when the policy has any trigger at all."""
        return bool(self.fired or self.quiet)


def check_triggers(
    registry: Registry,
    name: str,
    champion: ModelVersion,
    policy: RetrainSettings,
    *,
    history: list[Event] | None = None,
    now: datetime | None = None,
) -> TriggerCheck:
    """Evaluate ``schedule``, ``on_alert`` and ``min_new_labels`` from the last decision (or,
    before the first one, from when the champion was registered)."""
    now = now or datetime.now(UTC)
    history = registry.history(name) if history is None else history
    decided = last_decision(history)
    since = decided.at if decided is not None else champion.created_at
    what = "the last retraining decision" if decided is not None else "the champion was registered"
    fired: list[str] = []
    quiet: list[str] = []
    if policy.schedule:
        age = now - since
        line = f"{_age(age)} since {what} (schedule = {policy.schedule})"
        (fired if age >= parse_duration(policy.schedule) else quiet).append(line)
    if policy.on_alert:
        opened = [
            a
            for a in registry.operations.alerts(name)
            if a.state == "open" and a.opened_at is not None and a.opened_at > since
        ]
        if opened:
            rules = ", ".join(f"'{a.rule}'" for a in opened)
            fired.append(f"alert {rules} opened since {what} (on_alert = true)")
        else:
            quiet.append(f"no alert opened since {what} (on_alert = true)")
    if policy.min_new_labels is not None:
        count = registry.operations.label_count(name, since=since)
        line = f"{count:,} new label(s) since {what} (min_new_labels = {policy.min_new_labels:,})"
        (fired if count >= policy.min_new_labels else quiet).append(line)
    return TriggerCheck(fired, quiet, since)


def _age(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


@dataclass(frozen=True)
class Verdict:
    """Whether to promote, and the sentence that says why."""

    promote: bool
    reason: str


def judge(
    comparison: Comparison,
    policy: RetrainSettings,
    holdout_rows: int,
    *,
    rows: str = "held-out labelled rows",
) -> Verdict:
    """Promote only a challenger that is better by a margin that is itself significant: the gap
    is positive, ``p < alpha``, and the lower end of its ``1 - alpha`` interval is at least
    ``margin`` (so a challenger a hair better, found by chance on a large holdout, stays out).
    ``rows`` says what the compared rows are, for the reason."""
    metric = comparison.metric
    scores = (
        f"{metric} {_num(comparison.score_a)} (challenger) vs {_num(comparison.score_b)} "
        f"(champion) on {holdout_rows:,} {rows}"
    )
    p = format_p(comparison.p_value, spaced=True)
    interval = (
        f"{100 * (1 - comparison.alpha):g}% CI {_num(comparison.low)} to {_num(comparison.high)}"
    )
    if not math.isfinite(comparison.p_value) or not math.isfinite(comparison.low):
        return Verdict(
            False,
            f"the comparison is undefined on the compared rows ({scores}); they may hold a "
            "single class. The champion stays until more varied labels arrive.",
        )
    gap = f"{_num(comparison.difference)} {metric} ({interval}, {p})"
    if comparison.difference <= 0:
        return Verdict(False, f"the challenger is not better: {scores}; difference {gap}.")
    if not comparison.p_value < policy.alpha:
        return Verdict(
            False,
            f"the challenger is better by {gap}, not significantly (promotion needs p < "
            f"{policy.alpha:g}): {scores}.",
        )
    if comparison.low < policy.margin:
        return Verdict(
            False,
            f"the challenger is significantly better, by {gap}, but the interval reaches below "
            f"the margin of {policy.margin:g}: {scores}.",
        )
    return Verdict(
        True,
        f"the challenger is better by {gap}, the whole interval above the margin of "
        f"{policy.margin:g}: {scores}.",
    )


def _num(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"
