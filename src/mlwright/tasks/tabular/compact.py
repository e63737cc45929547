"""Compaction: trade a little accuracy (often none) for a model that is cheap to serve.

An ensemble of bagged candidates runs every fold model of every member on each row. Cheaper
forms of the same model are: every member refitted once on all rows with the same weights (one
model per member instead of one per fold), one member alone (its fold models), or one member
refitted once on all rows (one encoder, one learner: the cheapest). Each form is measured —
one-row latency, as a REST caller sees it, and batch time per 1,000 rows — and scored: by its
out-of-fold score, or for a refit by the out-of-fold score of what it was refitted from (the usual
estimate: the refit sees more rows, so it is rarely worse). A model trained with a preset that
refits (``balanced``, ``fast``) has single-model members already; compaction then chooses among
the ensemble and its members.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from mlwright.data.schema import Schema
from mlwright.evaluation.calibration import Calibration, apply_temperature, fit_temperature
from mlwright.evaluation.leaderboard import Leaderboard
from mlwright.features.encoder import EncoderKind, FeatureEncoder
from mlwright.tasks.tabular.candidate import BaggedCandidate
from mlwright.tasks.tabular.predictor import Member, TabularPredictor

__all__ = ["CompactOption", "CompactReport", "compact_predictor", "measure_latency"]

_LATENCY_ROWS = 15  # one-row calls timed per option; the median is reported
_LATENCY_TIE = 1.1  # one-row latencies within 10% of the quickest are a tie
_BATCH_ROWS = 2000


@dataclass
class CompactOption:
    """One way to serve the model, with what it costs and what it scores."""

    name: str
    kind: str  # "ensemble", "member" or "refit"
    score: float
    significantly_worse: bool | None
    latency_ms: float
    batch_ms_per_1k: float
    note: str
    predictor: TabularPredictor = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the predictor)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "score": self.score,
            "significantly_worse": self.significantly_worse,
            "latency_ms": round(self.latency_ms, 4),
            "batch_ms_per_1k": round(self.batch_ms_per_1k, 3),
            "note": self.note,
        }


@dataclass
class CompactReport:
    """Every option measured, the one chosen and why."""

    metric: str
    greater_is_better: bool
    options: list[CompactOption]
    chosen: str
    reason: str
    max_latency_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "metric": self.metric,
            "chosen": self.chosen,
            "reason": self.reason,
            "max_latency_ms": self.max_latency_ms,
            "options": [o.to_dict() for o in self.options],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per option; ``chosen`` marks the one kept."""
        frame = pd.DataFrame([o.to_dict() for o in self.options])
        frame["chosen"] = frame["name"] == self.chosen
        return frame

    def to_rich(self) -> Table:
        """The accuracy/latency trade-off as a table, the chosen option marked."""
        table = Table(title=f"serving options ({self.reason})", title_justify="left")
        for col in ("option", self.metric, "vs best", "1 row ms", "batch ms/1k", "note"):
            table.add_column(col, justify="left" if col in ("option", "note") else "right")
        for o in self.options:
            mark = "[bold green]> [/bold green]" if o.name == self.chosen else "  "
            worse = {True: "worse (p<0.05)", False: "not sig. worse", None: ""}
            table.add_row(
                mark + o.name,
                f"{o.score:.4g}",
                worse[o.significantly_worse],
                f"{o.latency_ms:.2f}",
                f"{o.batch_ms_per_1k:.1f}",
                o.note,
            )
        return table


def measure_latency(predictor: TabularPredictor, X: pd.DataFrame) -> tuple[float, float]:
    """(median one-row latency in ms, batch time per 1,000 rows in ms) on rows of ``X``."""
    rows = X.iloc[: min(len(X), _LATENCY_ROWS)]
    predictor.predict(rows.iloc[:1])  # warm caches (first call allocates)
    single = []
    for i in range(len(rows)):
        t0 = time.perf_counter()
        predictor.predict(rows.iloc[i : i + 1])
        single.append((time.perf_counter() - t0) * 1e3)
    batch = X.iloc[: min(len(X), _BATCH_ROWS)]
    t0 = time.perf_counter()
    predictor.predict(batch)
    per_1k = (time.perf_counter() - t0) * 1e3 / len(batch) * 1000
    return statistics.median(single), per_1k


def compact_predictor(
    predictor: TabularPredictor,
    X: pd.DataFrame,
    y: np.ndarray | None,
    schema: Schema,
    *,
    max_latency_ms: float | None = None,
    candidate_oof: dict[str, np.ndarray] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
) -> tuple[TabularPredictor, CompactReport]:
    """Measure the ensemble, each member alone and (given ``y``) the ensemble and each member
    refitted on all rows; choose one.

    Parameters
    ----------
    X, y, schema:
        Conformed feature rows (for timing and, with ``y``, for refits), their targets and the
        model's schema.
    max_latency_ms:
        The one-row latency the model must meet: the best-scoring option within it is chosen
        (the fastest, with a note, when none is). Without it, the fastest option that is not
        significantly worse than the best is chosen.
    candidate_oof:
        Out-of-fold predictions by candidate name, when still in memory (right after training):
        they calibrate each option on its own instead of reusing the ensemble's temperature.
    """
    board: Leaderboard = predictor.leaderboard
    rows = {r.name: r for r in board.rows}
    candidate_oof = candidate_oof or {}
    options: list[CompactOption] = []
    best_row = board.best()

    def add(name: str, kind: str, pred: TabularPredictor, note: str, row_name: str) -> None:
        row = rows.get(row_name)
        score = row.score if row is not None else best_row.score
        worse = None if row is None or row.name == best_row.name else row.significant
        latency, batch = measure_latency(pred, X)
        options.append(CompactOption(name, kind, score, worse, latency, batch, note, pred))

    ensemble_name = "ensemble" if "ensemble" in rows else predictor.member_names[0]
    add(
        "ensemble" if len(predictor.members) > 1 else ensemble_name,
        "ensemble",
        predictor,
        f"{len(predictor.members)} member(s), as trained",
        ensemble_name,
    )
    encoders: dict[EncoderKind, FeatureEncoder] = {}
    refits: dict[str, BaggedCandidate] = {}
    if y is not None:
        refits = {
            cand.name: cand.refitted(X, y, schema, seed=seed, n_jobs=n_jobs, encoders=encoders)
            for cand, _ in predictor.members
            if isinstance(cand, BaggedCandidate) and len(cand.folds) > 1
        }
    if len(predictor.members) > 1 and refits:
        # members without fold models (out-of-bag forests, stacks) join as they are
        whole = TabularPredictor(
            task=predictor.task,
            n_classes=predictor.n_classes,
            members=[(refits.get(c.name, c), w) for c, w in predictor.members],
            leaderboard=predictor.leaderboard,
            oof=predictor.oof,
            calibration=predictor.calibration,
        )
        add(
            "ensemble refit",
            "refit",
            whole,
            "every bagged member refitted once on all rows, same weights; score estimated by "
            "the ensemble's cross-validation",
            ensemble_name,
        )
    for cand, _ in predictor.members:
        calibration = predictor.calibration
        oof = candidate_oof.get(cand.name)
        if oof is not None and y is not None and predictor.task != "regression":
            calibration = fit_temperature(y, oof)
        if oof is not None and calibration is not None:
            oof = apply_temperature(oof, calibration.temperature)
        if len(predictor.members) > 1:
            alone = _single(predictor, cand, calibration, oof)
            detail = (
                f"{len(cand.folds)} fold model(s)"
                if isinstance(cand, BaggedCandidate)
                else f"stacked on {len(cand.bases)} candidate(s)"
            )
            add(cand.name, "member", alone, detail, cand.name)
        if cand.name in refits:
            refit = refits[cand.name]
            add(
                f"{cand.name} refit",
                "refit",
                _single(predictor, refit, calibration, oof),
                "one model on all rows; score estimated by its cross-validation",
                cand.name,
            )
    chosen, reason = _choose(options, board.greater_is_better, max_latency_ms)
    report = CompactReport(
        board.metric, board.greater_is_better, options, chosen.name, reason, max_latency_ms
    )
    return chosen.predictor, report


def _single(
    predictor: TabularPredictor,
    cand: Member,
    calibration: Calibration | None,
    oof: np.ndarray | None,
) -> TabularPredictor:
    return TabularPredictor(
        task=predictor.task,
        n_classes=predictor.n_classes,
        members=[(cand, 1.0)],
        leaderboard=predictor.leaderboard,
        oof=oof,
        calibration=calibration,
    )


def _choose(
    options: list[CompactOption], greater_is_better: bool, max_latency_ms: float | None
) -> tuple[CompactOption, str]:
    sign = 1.0 if greater_is_better else -1.0

    def better(o: CompactOption) -> tuple[float, float]:
        return (sign * o.score, -o.latency_ms)

    def fastest(among: list[CompactOption]) -> CompactOption:
        # latencies within timing noise of the quickest count as equal: the better score wins,
        # so that a 1% difference in one measurement does not pick the weaker model
        quickest = min(o.latency_ms for o in among)
        return max((o for o in among if o.latency_ms <= _LATENCY_TIE * quickest), key=better)

    if max_latency_ms is not None:
        within = [o for o in options if o.latency_ms <= max_latency_ms]
        if not within:
            chosen = fastest(options)
            return chosen, (
                f"no option meets {max_latency_ms:g} ms per row; the fastest (within "
                f"{_LATENCY_TIE - 1:.0%}, best score first) takes {chosen.latency_ms:.2f} ms"
            )
        return max(within, key=better), f"best score within {max_latency_ms:g} ms per row"
    safe = [o for o in options if not o.significantly_worse]
    return fastest(safe), (
        f"fastest (within {_LATENCY_TIE - 1:.0%}, best score first) not significantly worse "
        "than the best"
    )
