"""Retrain a registered model: gather data, train a challenger, compare, promote or keep, record.

One run, under a lease in the registry database so that one runner acts at a time:

1. with ``if_needed``, check the policy's triggers and stop when none fired;
2. split the labelled logged predictions: the newest (``holdout_fraction``, at least
   ``min_holdout_rows``) are held out and never trained on;
3. train a challenger with the champion's settings on its source re-read, plus the other labelled
   rows (``data = "source+feedback"``), or on either alone;
4. register it (parent: the champion), score both on the held-out rows and compare them with a
   paired bootstrap; promote only a significantly better challenger, by at least ``margin``;
5. write one ``retrain`` audit event with the decision, the evidence and the reason. Skipped runs
   are recorded too, so ``mlwright models history NAME`` shows every decision.

With ``compare = "shadow"`` (or ``shadow=``) steps 2-4 are replaced: nothing is trained, and the
champion is compared with a registered version that scored the live traffic as a shadow
(``mlwright serve --shadow``), on the labelled requests both scored (``operate.shadow``).

Example:
    >>> decision = retrain(mlwright.registry(), "churn", if_needed=True)
    >>> decision.decision, decision.reason
    ('kept', 'kept version 3: the challenger is not better: roc_auc 0.842 (challenger) ...')
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlwright.api import resolve_settings, train
from mlwright.comparison import compare_on_holdout
from mlwright.errors import MlwrightError, RegistryConflict
from mlwright.model import Model
from mlwright.operate.data import (
    LabelledRows,
    Split,
    encoded_labels,
    labelled_rows,
    split_rows,
    training_frame,
)
from mlwright.operate.policy import Verdict, check_triggers, judge, trained_until
from mlwright.operate.shadow import compare_shadow, shadow_reference, shared_rows, shortfall
from mlwright.registry import Event, ModelVersion, Registry
from mlwright.settings import RetrainSettings, Settings

__all__ = ["Lease", "RetrainDecision", "retrain"]

log = logging.getLogger("mlwright.retrain")

Decision = Literal["promoted", "kept", "skipped"]


@dataclass
class RetrainDecision:
    """What one retrain did and why: ``decision`` is "promoted", "kept" or "skipped".

    ``evidence`` is the paired comparison of challenger (``a``) and champion (``b``) on the
    held-out rows (``Comparison.to_dict()``), or, comparing a shadow, on the labelled requests
    both scored (``holdout_rows`` counts them); ``data`` counts the rows of each part; ``error``
    is set when the run failed (no source to read, training failed) rather than decided.
    """

    name: str
    alias: str
    decision: Decision
    reason: str
    champion: int | None = None
    challenger: int | None = None
    trigger: list[str] = field(default_factory=list)
    evidence: dict[str, Any] | None = None
    holdout_rows: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    train_seconds: float | None = None
    feedback_until: datetime | None = None
    error: str | None = None

    @property
    def promoted(self) -> bool:
        """True when the challenger now serves the alias."""
        return self.decision == "promoted"

    def details(self) -> dict[str, Any]:
        """The audit event's details (JSON-ready)."""
        return {
            "decision": self.decision,
            "alias": self.alias,
            "champion": self.champion,
            "challenger": self.challenger,
            "trigger": self.trigger,
            "evidence": self.evidence,
            "holdout_rows": self.holdout_rows,
            "data": self.data,
            "seconds": round(self.seconds, 3),
            "train_seconds": None if self.train_seconds is None else round(self.train_seconds, 3),
            "feedback_until": None
            if self.feedback_until is None
            else self.feedback_until.isoformat(),
            "error": self.error,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the output of ``mlwright retrain --json``."""
        return {"name": self.name, "reason": self.reason, **self.details()}


class Lease:
    """A named lease in the registry database, renewed on a thread while held.

    ``lost`` turns true when a renewal fails, e.g. after the database was unreachable for
    longer than ``ttl_s`` and another holder took the lease over.
    """

    def __init__(self, registry: Registry, lock: str, holder: str, ttl_s: float) -> None:
        self.ops = registry.operations
        self.lock = lock
        self.holder = holder
        self.ttl_s = ttl_s
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take (or renew) the lease; False when another holder's lease is live."""
        return self.ops.acquire_lock(self.lock, self.holder, self.ttl_s)

    def held_by(self) -> str:
        """Who holds the lease now, and until when, in words."""
        found = self.ops.lock_holder(self.lock)
        if found is None:
            return "another holder (released since)"
        holder, until = found
        return f"{holder} until {until.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC"

    def keep(self) -> None:
        """Renew the lease every third of ``ttl_s`` until ``release``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._renew, name="mlwright-lease", daemon=True)
            self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                if not self.acquire():
                    self.lost = True
                    log.error("lost the lease '%s' to another holder", self.lock)
                    return
            except Exception as exc:  # a database hiccup: try again at the next beat
                log.warning("could not renew the lease '%s': %s", self.lock, exc)

    def release(self) -> None:
        """Stop renewing and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            self.ops.release_lock(self.lock, self.holder)
        except Exception as exc:  # it expires after ttl_s anyway
            log.warning("could not release the lease '%s': %s", self.lock, exc)


def default_holder() -> str:
    """This process, for lock holders: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def retrain(
    registry: Registry,
    name: str,
    *,
    alias: str | None = None,
    if_needed: bool = False,
    settings: Settings | None = None,
    actor: str | None = None,
    holder: str | None = None,
    shadow: str | None = None,
) -> RetrainDecision:
    """Retrain ``name`` and promote the challenger only if it is significantly better.

    Parameters
    ----------
    registry:
        The registry holding the model, its prediction log and labels.
    alias:
        The alias naming the champion (default: ``[retrain] alias``, "production").
    if_needed:
        Check the triggers of ``[retrain]`` (schedule, on_alert, min_new_labels) first and skip
        when none fired (for cron and ``mlwright serve --retrain``).
    settings:
        The policy (``settings.retrain``); default: the environment and ./mlwright.toml.
    actor:
        Who acts, for the audit log (default: ``MLWRIGHT_USER`` or the login name).
    holder:
        The lock holder's name (default: this host and process).
    shadow:
        Compare the champion with this version (``churn@challenger``, an alias or a version),
        which scored the live traffic as a shadow, instead of training a challenger; the same as
        ``[retrain] compare = "shadow"`` with ``shadow`` set.

    Returns
    -------
    RetrainDecision
        The decision, its reason and evidence; also written to the audit log.

    Example:
        >>> decision = retrain(mlwright.registry(), "churn", if_needed=True)
        >>> print(decision.decision, decision.reason)
    """
    settings = resolve_settings(settings)
    policy = settings.retrain
    if shadow is not None:
        policy = policy.model_copy(update={"compare": "shadow", "shadow": shadow})
    alias = alias or policy.alias
    started = time.monotonic()
    champion = registry.resolve(f"{name}@{alias}")
    run = _Run(registry, name, alias, policy, settings, actor, started, champion)
    lease = Lease(registry, f"retrain:{name}", holder or default_holder(), policy.lock_ttl_s)
    if not lease.acquire():
        return run.finish(
            "skipped",
            f"another retrain of {name} is running (its lock is held by {lease.held_by()}).",
        )
    try:
        lease.keep()
        return run.decide(if_needed, lease)
    finally:
        lease.release()


class _Run:
    """One retrain, after the lease is taken."""

    def __init__(
        self,
        registry: Registry,
        name: str,
        alias: str,
        policy: RetrainSettings,
        settings: Settings,
        actor: str | None,
        started: float,
        champion: ModelVersion,
    ) -> None:
        self.registry = registry
        self.name = name
        self.alias = alias
        self.policy = policy
        self.settings = settings
        self.actor = actor
        self.started = started
        self.champion = champion
        self.decision = RetrainDecision(name, alias, "skipped", "", champion=champion.version)

    def decide(self, if_needed: bool, lease: Lease) -> RetrainDecision:
        history = self.registry.history(self.name)
        if if_needed:
            check = check_triggers(
                self.registry, self.name, self.champion, self.policy, history=history
            )
            if not check.configured:
                return self.finish(
                    "skipped",
                    "no retraining trigger is configured: set schedule, on_alert or "
                    "min_new_labels in [retrain] of mlwright.toml (or run without --if-needed).",
                )
            if not check.fired:
                return self.finish("skipped", f"no trigger fired: {'; '.join(check.quiet)}.")
            self.decision.trigger = check.fired
        else:
            self.decision.trigger = ["requested directly (without --if-needed)"]
        if self.policy.compare == "shadow":
            return self._decide_on_shadow(history)
        champion = Model.load(self.champion.path)
        labelled = labelled_rows(self.registry, self.name, champion)
        cutoff = trained_until(history, self.champion.version)
        split = split_rows(labelled, cutoff, self.policy)
        self.decision.data = {"labelled": len(labelled.actual), "label_problems": labelled.unusable}
        if not len(split.holdout):
            return self.finish("skipped", self._shortfall(split, cutoff))
        try:
            challenger = self._train(champion, labelled, split)
        except MlwrightError as exc:
            self.decision.error = str(exc)
            return self.finish("skipped", f"the challenger could not be trained: {exc}")
        if lease.lost:
            return self.finish(
                "kept",
                f"kept version {self.champion.version}: the retraining lock was lost while "
                f"training (renewals failed for {self.policy.lock_ttl_s:g} s), so version "
                f"{self.decision.challenger} is registered but not promoted.",
            )
        try:
            return self._compare(champion, challenger, labelled, split)
        except MlwrightError as exc:
            self.decision.error = str(exc)
            return self.finish(
                "kept",
                f"kept version {self.champion.version}: champion and challenger could not be "
                f"compared: {exc}",
            )

    def _shortfall(self, split: Split, cutoff: datetime | None) -> str:
        after = "" if cutoff is None else f" logged after {cutoff.isoformat(timespec='seconds')}"
        return (
            f"not enough labelled rows to compare champion and challenger: the comparison needs "
            f"at least {self.policy.min_holdout_rows:,} labelled, scored predictions{after} that "
            f"the champion was neither trained nor judged on, and there are {split.candidates:,}. "
            f"Add labels (`mlwright feedback {self.name} FILE` or POST /feedback) or lower "
            "[retrain] min_holdout_rows."
        )

    def _train(self, champion: Model, labelled: LabelledRows, split: Split) -> Model:
        """Train the challenger with the champion's settings and register it."""
        frame, weight, info = training_frame(champion, labelled, split, self.policy)
        self.decision.data.update(info)
        # the newest row this decision trained or judged on: the next one judges on later rows
        trained = split.train if self.policy.data != "source" else split.train[:0]
        used = np.concatenate([split.holdout, trained])
        self.decision.feedback_until = labelled.at.iloc[used].max().to_pydatetime()
        recorded = champion.settings
        training = recorded.training.model_copy(
            update={
                "task": champion.task_,
                "metric": champion.metric_,
                "time_limit": self.policy.time_limit or recorded.training.time_limit,
            }
        )
        run_settings = recorded.model_copy(
            update={
                "data": recorded.data.model_copy(update={"weight": weight}),
                "training": training,
                "progress": self.settings.progress,
            }
        )
        began = time.monotonic()
        model = train(frame, target=champion.info_["target"], settings=run_settings)
        self.decision.train_seconds = time.monotonic() - began
        # the manifest keeps the champion's data settings, so that the next retrain reads the
        # same source the same way; this run's weights are in the audit event
        model.settings = recorded.model_copy(update={"training": training, "progress": None})
        self.decision.data.update(
            rows_trained=int(model.info_["rows_used"]),
            rows_set_aside=int(model.info_["rows_rejected"]),
        )
        with tempfile.TemporaryDirectory(prefix="mlwright-retrain-") as tmp:
            saved = model.save(Path(tmp) / "challenger")
            version = self.registry.register(
                saved,
                self.name,
                parent=self.champion.version,
                note="challenger from retrain",
                actor=self.actor,
            )
        self.decision.challenger = version.version
        return model

    # -- comparison and decision ---------------------------------------------------------------
    def _compare(
        self,
        champion: Model,
        challenger: Model,
        labelled: LabelledRows,
        split: Split,
    ) -> RetrainDecision:
        rows = labelled.inputs.iloc[split.holdout].reset_index(drop=True)
        y = encoded_labels(labelled.actual.iloc[split.holdout], champion)
        champ, chall = self.champion.version, self.decision.challenger
        comparison, unscored = compare_on_holdout(
            champion,
            challenger,
            rows,
            y,
            names=(f"challenger v{chall}", f"champion v{champ}"),
            alpha=self.policy.alpha,
            seed=int(champion.info_.get("seed", 0)),
        )
        compared = len(rows) - unscored
        self.decision.evidence = comparison.to_dict()
        self.decision.holdout_rows = compared
        self.decision.data["holdout_unscored"] = unscored
        return self._settle(judge(comparison, self.policy, compared))

    def _decide_on_shadow(self, history: list[Event]) -> RetrainDecision:
        """Compare the champion with the shadow version on the labelled requests both scored."""
        try:
            ref = shadow_reference(self.name, self.policy.shadow)
            found = self.registry.resolve(ref)
        except MlwrightError as exc:
            self.decision.error = str(exc)
            return self.finish("skipped", f"the shadow version cannot be found: {exc}")
        champ, chall = self.champion.version, found.version
        self.decision.challenger = chall
        self.decision.data = {"compare": "shadow", "shadow": ref}
        if chall == champ:
            return self.finish(
                "skipped",
                f"the shadow {ref} is version {champ}, the champion itself, so there is nothing "
                f"to compare. Point the alias at a challenger (`mlwright models promote "
                f"{self.name}@VERSION --alias ALIAS --reason ...`) and serve it with --shadow.",
            )
        champion, shadow = Model.load(self.champion.path), Model.load(found.path)
        after = trained_until(history, chall)
        rows = shared_rows(self.registry, self.name, champion, champ, shadow, chall, after=after)
        self.decision.data.update(rows.info)
        if len(rows) < self.policy.min_holdout_rows:
            needed = self.policy.min_holdout_rows
            return self.finish("skipped", shortfall(self.name, ref, rows, needed, (champ, chall)))
        comparison, unscored = compare_shadow(
            champion,
            shadow,
            rows,
            names=(f"shadow v{chall}", f"champion v{champ}"),
            alpha=self.policy.alpha,
            seed=int(champion.info_.get("seed", 0)),
        )
        compared = len(rows) - unscored
        self.decision.evidence = comparison.to_dict()
        self.decision.holdout_rows = compared
        self.decision.feedback_until = rows.newest  # the next decision on it judges later rows
        rows_are = "labelled requests both versions scored live"
        return self._settle(judge(comparison, self.policy, compared, rows=rows_are))

    def _settle(self, verdict: Verdict) -> RetrainDecision:
        """Promote the challenger if the verdict says so (unless the alias moved meanwhile),
        otherwise keep the champion; record the decision."""
        champ, chall = self.champion.version, self.decision.challenger
        if not verdict.promote:
            return self.finish("kept", f"kept version {champ}: {verdict.reason}")
        reason = f"promoted version {chall} over version {champ}: {verdict.reason}"
        try:
            assert chall is not None
            self.registry.promote(
                self.name, chall, self.alias, reason=reason, expected=champ, actor=self.actor
            )
        except RegistryConflict as exc:
            return self.finish(
                "kept", f"kept: the challenger won, but {self.alias} moved meanwhile: {exc}"
            )
        return self.finish("promoted", reason)

    def finish(self, decision: Decision, reason: str) -> RetrainDecision:
        """Record the decision as one ``retrain`` audit event and return it."""
        out = self.decision
        out.decision = decision
        out.reason = reason if decision != "skipped" else f"skipped: {reason}"
        out.seconds = time.monotonic() - self.started
        self.registry.record(
            self.name,
            "retrain",
            version=out.challenger,
            reason=out.reason,
            details=out.details(),
            actor=self.actor,
        )
        log.info("retrain %s: %s", self.name, out.reason)
        return out
