"""Training for tabular tasks: bagged candidates under a time budget, then an ensemble."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress, TaskID

from mlwright.data.schema import Schema
from mlwright.errors import BudgetExceeded
from mlwright.evaluation.cv import holdout_split, make_folds
from mlwright.evaluation.leaderboard import Leaderboard, LeaderboardRow
from mlwright.evaluation.metrics import Metric
from mlwright.features.encoder import EncoderKind, FeatureEncoder
from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.models.catalog import CATALOG
from mlwright.models.ensemble import select_ensemble
from mlwright.search.budget import TimeBudget
from mlwright.search.space import sample
from mlwright.tasks.tabular.candidate import BaggedCandidate
from mlwright.tasks.tabular.predictor import TabularPredictor

__all__ = ["TabularTrainer"]

_ES_FRACTION = 0.1  # share of a training fold held out for early stopping
_SAFETY = 1.25  # factor on fit-time estimates before starting a candidate


@dataclass
class _FoldData:
    encoder: FeatureEncoder
    X_train: Matrix
    X_val: Matrix
    encode_ms_per_1k: float


@dataclass
class TabularTrainer:
    """Fits bagged candidates in portfolio order, then random configurations, until time runs out.

    Parameters
    ----------
    task, n_classes, metric:
        What is predicted and how candidates are ranked.
    folds, seed:
        Cross-validation folds and the seed every random choice derives from.
    max_trials:
        Stop after this many candidates even when time is left (None: only time limits).
    n_jobs:
        Threads for each learner.
    """

    task: TaskName
    n_classes: int
    metric: Metric
    folds: int = 5
    seed: int = 0
    max_trials: int | None = None
    n_jobs: int = 2
    skipped_: list[str] = field(default_factory=list)

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        budget: TimeBudget,
        progress: Progress | None = None,
    ) -> TabularPredictor:
        """Train and return the ensemble of the best candidates found within ``budget``."""
        splits = make_folds(y, self.task, self.folds, self.seed)
        cache: dict[tuple[EncoderKind, int], _FoldData] = {}
        reserve = min(0.08 * budget.time_limit, 5.0) + 0.002 * len(y) ** 0.5
        leaderboard = Leaderboard(self.metric.name, self.metric.greater_is_better, [])
        candidates: list[BaggedCandidate] = []
        fit_costs: dict[str, list[float]] = {}
        task_id = progress.add_task("training", total=100) if progress else None
        for trial, (learner_name, params) in enumerate(self._plan()):
            if self.max_trials is not None and trial >= self.max_trials:
                break
            if budget.remaining() - reserve <= 0:
                break
            estimate = _SAFETY * float(np.median(fit_costs.get(learner_name, [0.0])))
            if candidates and not budget.fits(estimate, reserve):
                self.skipped_.append(f"{learner_name} {params}: needs ~{estimate:.0f}s")
                continue
            name = f"{learner_name}_{sum(c.learner == learner_name for c in candidates) + 1}"
            self._report(progress, task_id, budget, f"{name}", candidates)
            cand = self._fit_candidate(
                name, learner_name, params, X, y, schema, splits, cache, budget, reserve
            )
            if cand is None:
                continue
            fit_costs.setdefault(learner_name, []).append(cand.fit_time_)
            candidates.append(cand)
            leaderboard.add(
                LeaderboardRow(
                    name=cand.name,
                    learner=cand.learner,
                    score=cand.score_,
                    fit_time=cand.fit_time_,
                    predict_time_per_1k=cand.predict_time_per_1k_,
                    params=cand.params,
                )
            )
        if not candidates:
            raise BudgetExceeded(
                f"no model finished within time_limit={budget.time_limit:g}s. "
                "Raise the time limit (--time-limit) or train on fewer rows."
            )
        predictor = self._ensemble(candidates, y, leaderboard)
        self._report(progress, task_id, budget, "done", candidates, done=True)
        return predictor

    # -- planning ------------------------------------------------------------------------------
    def _plan(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Portfolio configurations interleaved across learners, then seeded random ones."""
        portfolios = {name: cls.portfolio(self.task) for name, cls in CATALOG.items()}
        depth = max(len(p) for p in portfolios.values())
        for i in range(depth):
            for name, configs in portfolios.items():
                if i < len(configs):
                    yield name, configs[i]
        rng = np.random.default_rng(self.seed)
        names = list(CATALOG)
        weights = np.array([CATALOG[n].priority for n in names], dtype=float)
        while True:
            name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            yield name, sample(CATALOG[name].search_space(self.task), rng)

    # -- one candidate ---------------------------------------------------------------------------
    def _fit_candidate(
        self,
        name: str,
        learner_name: str,
        params: dict[str, Any],
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        splits: list[tuple[np.ndarray, np.ndarray]],
        cache: dict[tuple[EncoderKind, int], _FoldData],
        budget: TimeBudget,
        reserve: float,
    ) -> BaggedCandidate | None:
        cls = CATALOG[learner_name]
        shape = (len(y), self.n_classes) if self.task != "regression" else (len(y),)
        oof = np.zeros(shape)
        cand = BaggedCandidate(name, learner_name, params)
        start = time.monotonic()
        predict_time = 0.0
        for i, (train_idx, val_idx) in enumerate(splits):
            fold_deadline = time.monotonic() + (budget.remaining() - reserve) / (len(splits) - i)
            data = self._fold_data(cls.input_kind, i, X, schema, train_idx, val_idx, cache)
            learner: Learner = cls(self.task, self.n_classes, params, self.seed + i, self.n_jobs)
            fit_idx, es_idx = holdout_split(
                np.arange(len(train_idx)), y[train_idx], self.task, _ES_FRACTION, self.seed + i
            )
            learner.fit(
                data.X_train[fit_idx],
                y[train_idx][fit_idx],
                X_val=data.X_train[es_idx],
                y_val=y[train_idx][es_idx],
                categorical=data.encoder.categorical_indices_,
                deadline=fold_deadline,
            )
            t0 = time.perf_counter()
            oof[val_idx] = learner.predict(data.X_val)
            # the final model runs every fold's encoder and learner on each row: sum over folds
            predict_time += (time.perf_counter() - t0) / max(1, len(val_idx)) * 1e6
            predict_time += data.encode_ms_per_1k
            cand.folds.append((data.encoder, learner))
            if budget.remaining() <= reserve / 2 and i < len(splits) - 1:
                # a fold overran its share: give up this candidate to keep the time limit
                self.skipped_.append(f"{name}: abandoned after {i + 1} fold(s), out of time")
                return None
        cand.params = {**params, **_shared_fitted(cand)}
        cand.oof_ = oof
        cand.score_ = self.metric.score(y, oof)
        cand.fit_time_ = time.monotonic() - start
        cand.predict_time_per_1k_ = predict_time
        return cand

    def _fold_data(
        self,
        kind: EncoderKind,
        fold: int,
        X: pd.DataFrame,
        schema: Schema,
        train_idx: np.ndarray,
        val_idx: np.ndarray,
        cache: dict[tuple[EncoderKind, int], _FoldData],
    ) -> _FoldData:
        key = (kind, fold)
        if key not in cache:
            encoder = FeatureEncoder(kind).fit(X.iloc[train_idx], schema)
            X_train = encoder.transform(X.iloc[train_idx])
            t0 = time.perf_counter()
            X_val = encoder.transform(X.iloc[val_idx])
            per_1k = (time.perf_counter() - t0) / max(1, len(val_idx)) * 1e6
            cache[key] = _FoldData(encoder, X_train, X_val, per_1k)
        return cache[key]

    # -- ensemble ------------------------------------------------------------------------------
    def _ensemble(
        self, candidates: list[BaggedCandidate], y: np.ndarray, leaderboard: Leaderboard
    ) -> TabularPredictor:
        oofs = [c.oof_ for c in candidates if c.oof_ is not None]
        weights = select_ensemble(oofs, lambda p: self.metric.loss(y, p))
        members = [(c, w) for c, w in zip(candidates, weights, strict=True) if w > 0]
        oof = sum(w * c.oof_ for c, w in members if c.oof_ is not None)
        assert isinstance(oof, np.ndarray)
        if len(members) > 1:
            leaderboard.add(
                LeaderboardRow(
                    name="ensemble",
                    learner="ensemble",
                    score=self.metric.score(y, oof),
                    fit_time=sum(c.fit_time_ for c, _ in members),
                    predict_time_per_1k=sum(c.predict_time_per_1k_ for c, _ in members),
                    params={c.name: round(w, 4) for c, w in members},
                    note="weighted mean of " + ", ".join(c.name for c, _ in members),
                )
            )
        return TabularPredictor(
            task=self.task,
            n_classes=self.n_classes,
            members=members,
            leaderboard=leaderboard,
            oof=oof,
        )

    @staticmethod
    def _report(
        progress: Progress | None,
        task_id: TaskID | None,
        budget: TimeBudget,
        current: str,
        candidates: list[BaggedCandidate],
        done: bool = False,
    ) -> None:
        if progress is None or task_id is None:
            return
        best = ""
        if candidates:
            best = f" · {len(candidates)} fitted"
        share = 100.0 if done else min(99.0, 100 * budget.elapsed() / budget.time_limit)
        progress.update(task_id, completed=share, description=f"training {current}{best}")


def _shared_fitted(cand: BaggedCandidate) -> dict[str, Any]:
    """Fitted parameters every fold agrees on, plus the mean of numeric ones (boosting rounds)."""
    fitted = [learner.fitted_params() for _, learner in cand.folds]
    out: dict[str, Any] = {}
    for key in fitted[0]:
        values = [f.get(key) for f in fitted]
        if key not in cand.params and all(isinstance(v, int | float) for v in values):
            out[key] = int(np.mean([float(v) for v in values if v is not None]))
    return out
