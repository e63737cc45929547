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
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from mlwright.errors import MlwrightWarning
from mlwright.evaluation import Comparison, get_metric, paired_bootstrap
from mlwright.evaluation.compare import format_p
from mlwright.model import Model
from mlwright.registry import Event, ModelVersion, Registry
from mlwright.settings import RetrainSettings, parse_duration

__all__ = [
    "DECIDED",
    "TriggerCheck",
    "Verdict",
    "check_triggers",
    "compare_on_holdout",
    "compare_scores",
    "judge",
    "label_key",
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


# -- the comparison -------------------------------------------------------------------------------
def label_key(value: Any) -> str | None:
    """A label as comparable text: ``1``, ``1.0``, ``"1"`` and ``True``/``"True"`` meet; None for
    a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _raw_scores(model: Model, rows: pd.DataFrame, classes: list[Any] | None) -> np.ndarray:
    """Class probabilities in ``classes`` order (or values); rows the model set aside are NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        if classes is None:
            return model.predict(rows).to_numpy(dtype=float)
        proba = model.predict_proba(rows)
    # a class the challenger never saw gets probability 0 from it
    keys = {label_key(c): c for c in proba.columns}
    out = np.zeros((len(rows), len(classes)))
    for i, label in enumerate(classes):
        key = label_key(label)
        if key in keys:
            out[:, i] = proba[keys[key]].to_numpy(dtype=float)
    out[proba.isna().all(axis=1).to_numpy()] = np.nan
    return out


def _cut_at_half(p: np.ndarray, threshold: float | None) -> np.ndarray:
    """Positive-class probabilities moved monotonically so the model's own threshold sits at 0.5:
    label metrics then score each model at its own decision threshold."""
    t = 0.5 if threshold is None else min(max(threshold, 1e-9), 1 - 1e-9)
    moved: np.ndarray = np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))
    return moved


def compare_on_holdout(
    champion: Model,
    challenger: Model,
    rows: pd.DataFrame,
    y: np.ndarray,
    *,
    names: tuple[str, str],
    alpha: float,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[Comparison, int]:
    """The paired bootstrap of challenger against champion on the same held-out ``rows``.

    ``y`` holds class indices in the champion's class order (values for regression). Returns the
    comparison (positive ``difference``: the challenger is better) and the rows either model set
    aside, which are left out of it.
    """
    classes = champion.classes_
    ours = _raw_scores(challenger, rows, classes)
    theirs = _raw_scores(champion, rows, classes)
    return compare_scores(
        champion, challenger, ours, theirs, y, names=names, alpha=alpha, seed=seed, n_boot=n_boot
    )


def compare_scores(
    champion: Model,
    challenger: Model,
    ours: np.ndarray,
    theirs: np.ndarray,
    y: np.ndarray,
    *,
    names: tuple[str, str],
    alpha: float,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[Comparison, int]:
    """The paired bootstrap of the challenger's scores ``ours`` against the champion's
    ``theirs`` on the same rows: class probabilities in the champion's class order (values for
    regression), NaN where a model set the row aside. Returns the comparison and how many rows
    were left out for that."""
    metric = get_metric(champion.metric_, champion.task_)
    n = len(y)
    finite = np.isfinite(ours).reshape(n, -1).all(axis=1)
    finite &= np.isfinite(theirs).reshape(n, -1).all(axis=1)
    ours, theirs, y = ours[finite], theirs[finite], y[finite]
    if champion.task_ == "binary" and metric.needs == "label":
        ours = _cut_at_half(ours[:, 1], challenger.threshold_)
        theirs = _cut_at_half(theirs[:, 1], champion.threshold_)
    comparison = paired_bootstrap(
        metric, y, ours, theirs, n_boot=n_boot, seed=seed, alpha=alpha, names=names
    )
    return comparison, int((~finite).sum())


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
