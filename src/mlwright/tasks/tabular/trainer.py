"""Training for tabular tasks: bagged candidates under a time budget, then an ensemble."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress, TaskID

from mlwright.data.schema import Role, Schema
from mlwright.errors import BudgetExceeded
from mlwright.evaluation.calibration import apply_temperature, fit_temperature
from mlwright.evaluation.cv import holdout_split, make_folds
from mlwright.evaluation.leaderboard import Leaderboard, LeaderboardRow
from mlwright.evaluation.metrics import Metric
from mlwright.features.encoder import EncoderKind, FeatureEncoder
from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.models.catalog import CATALOG
from mlwright.models.ensemble import select_ensemble
from mlwright.search.budget import TimeBudget, available_memory
from mlwright.search.strategy import Family, PortfolioSearch
from mlwright.tasks.tabular.candidate import BaggedCandidate
from mlwright.tasks.tabular.predictor import Member, TabularPredictor
from mlwright.tasks.tabular.stack import StackedCandidate, stack_features, stacked_schema

__all__ = ["PRESETS", "PresetPlan", "TabularTrainer"]

_ES_FRACTION = 0.1  # share of a training fold held out for early stopping
_SAFETY = 1.25  # factor on fit-time estimates before starting a candidate
_MEMORY_SHARE = 0.7  # of the memory free now that one candidate may be estimated to need
_FIRST_SHARE = 0.5  # of the search time that the first candidate may take
_SKIPS_TO_RETIRE = 3  # trials of a family skipped for time or memory before it is retired


@dataclass(frozen=True)
class PresetPlan:
    """What a preset means for the search."""

    folds: int
    portfolio_depth: int | None
    refine: bool
    description: str
    stack_share: float = 0.0  # of the time limit kept for one stacking layer
    refit: bool = False  # refit the ensemble's members once on all rows, to serve one model each


PRESETS: dict[str, PresetPlan] = {
    "fast": PresetPlan(
        3,
        1,
        False,
        "a good model soon: one default per learner, 3 folds, members refitted on all rows",
        refit=True,
    ),
    "balanced": PresetPlan(
        5,
        None,
        True,
        "portfolio, then Bayesian tuning; 5 folds; the ensemble's members refitted once on "
        "all rows, so that it serves one model per member instead of one per fold",
        refit=True,
    ),
    "best": PresetPlan(
        8,
        None,
        True,
        "the most accurate model the time allows: 8 folds, and a stacking layer in the last "
        "fifth of the time; every fold model is kept (slower to serve)",
        stack_share=0.2,
    ),
}
_STACK_BASES = 5  # best first-level candidates a second-level learner reads
_STACK_LEARNERS = ("lightgbm", "linear")


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
    preset:
        "fast", "balanced" or "best" (see ``PRESETS``); ``folds`` overrides its fold count.
    deterministic:
        Count the budget in estimated work instead of wall-clock time and never stop a learner
        at a deadline, so that the same data and seed give the same model on any machine.
    n_jobs:
        Threads for each learner.
    """

    task: TaskName
    n_classes: int
    metric: Metric
    folds: int | None = None
    seed: int = 0
    max_trials: int | None = None
    n_jobs: int = 2
    preset: str = "balanced"
    deterministic: bool = False
    skipped_: list[str] = field(default_factory=list)
    _weight: np.ndarray | None = field(default=None, repr=False)

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        budget: TimeBudget,
        progress: Progress | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> TabularPredictor:
        """Train and return the ensemble of the best candidates found within ``budget``.

        With ``sample_weight``, learners fit and candidates are scored and ensembled on the
        weighted rows; learners that cannot take weights (k-NN) are left out.
        """
        self._weight = sample_weight
        plan = PRESETS[self.preset]
        splits = make_folds(y, self.task, self.folds or plan.folds, self.seed)
        cache: dict[tuple[EncoderKind, int], _FoldData] = {}
        # for the ensemble and what overruns (the evaluation after the search is planned apart)
        reserve = min(0.05 * budget.time_limit, 3.0) + 0.002 * len(y) ** 0.5
        leaderboard = Leaderboard(self.metric.name, self.metric.greater_is_better, [])
        candidates: list[Member] = []
        fit_costs: dict[str, list[float]] = {}
        work_done = 0.0  # deterministic mode: estimated seconds, independent of the clock
        skips: dict[str, int] = {}  # trials of each family set aside as too slow or too big
        has_text = any(c.role is Role.TEXT for c in schema.features)
        search = PortfolioSearch(
            [
                Family(
                    name,
                    cls.priority_for(has_text),
                    cls.portfolio(self.task),
                    cls.search_space(self.task),
                )
                for name, cls in CATALOG.items()
                if sample_weight is None or cls.supports_weights
            ],
            seed=self.seed,
            portfolio_depth=plan.portfolio_depth,
            refine=plan.refine,
        )
        task_id = progress.add_task("training", total=100) if progress else None
        n_fit = int(len(y) * (1 - 1 / len(splits)))
        for n_trial, trial in enumerate(search.trials()):
            if self.max_trials is not None and n_trial >= self.max_trials:
                break
            cls = CATALOG[trial.family]
            fits, rows = (1, len(y)) if cls.out_of_bag else (len(splits), n_fit)
            seconds, memory = cls.estimate_cost(
                self.task, rows, X.shape[1], max(1, self.n_classes), trial.params
            )
            estimate = fits * seconds
            free = available_memory()
            if free is not None and memory > _MEMORY_SHARE * free:
                self.skipped_.append(
                    f"{trial.family} {trial.params}: needs ~{memory / 1e9:.1f} GB, "
                    f"{free / 1e9:.1f} GB free"
                )
                search.tell(trial, float("inf"))
                self._give_up(search, trial.family, skips)
                continue
            # the stacking layer's share is kept once there is something to stack on
            kept = plan.stack_share * budget.time_limit if len(candidates) >= 2 else 0.0
            if plan.refit and candidates:
                kept += self._refit_reserve(candidates, len(y), X.shape[1], len(splits))
            elif not self.deterministic:
                # the first candidate's folds share its deadline: it may take at most
                # _FIRST_SHARE of the time, so that other families still get some; the rest
                # also covers its own refit (k/(k-1) of one fold, at most half of the whole)
                kept += (1 - _FIRST_SHARE) * max(0.0, budget.remaining() - reserve)
            if self.deterministic:
                if candidates and work_done + estimate > budget.time_limit - reserve - kept:
                    break
                work_done += estimate
            else:
                if budget.remaining() - reserve - kept <= 0:
                    break
                measured = fit_costs.get(trial.family)
                if measured:
                    estimate = _SAFETY * float(np.median(measured))
                if candidates and not budget.fits(estimate, reserve + kept):
                    self.skipped_.append(f"{trial.family} {trial.params}: needs ~{estimate:.0f}s")
                    search.tell(trial, float("inf"))
                    self._give_up(search, trial.family, skips)
                    continue
            count = sum(c.learner == trial.family for c in candidates) + 1
            name = f"{trial.family}_{count}"
            self._report(progress, task_id, budget, name, candidates, work_done)
            cand = self._fit_candidate(
                name,
                trial.family,
                trial.params,
                X,
                y,
                schema,
                splits,
                cache,
                budget,
                reserve + kept,
            )
            if cand is None or cand.oof_ is None:
                search.tell(trial, float("inf"))
                continue
            search.tell(trial, self.metric.loss(y, cand.oof_, sample_weight=self._weight))
            fit_costs.setdefault(trial.family, []).append(cand.fit_time_)
            candidates.append(cand)
            leaderboard.add(
                LeaderboardRow(
                    name=cand.name,
                    learner=cand.learner,
                    score=cand.score_,
                    fit_time=cand.fit_time_,
                    predict_time_per_1k=cand.predict_time_per_1k_,
                    params=cand.params,
                    note="default" if trial.source == "portfolio" else "tuned",
                )
            )
        if not candidates:
            skipped = "; ".join(self.skipped_[:3]) or "none"
            raise BudgetExceeded(
                f"no model finished within time_limit={budget.time_limit:g}s "
                f"(skipped: {skipped}). Raise the time limit (--time-limit), free memory, "
                "or train on fewer rows."
            )
        if plan.stack_share > 0 and len(candidates) >= 2:
            self._report(progress, task_id, budget, "stacking layer", candidates, work_done)
            candidates += self._stack(
                [c for c in candidates if isinstance(c, BaggedCandidate)],
                X,
                y,
                schema,
                splits,
                budget,
                reserve,
                leaderboard,
            )
        predictor = self._ensemble(candidates, y, leaderboard)
        if plan.refit:
            self._report(progress, task_id, budget, "refit on all rows", candidates, work_done)
            self._refit_members(predictor, X, y, schema, budget, len(splits))
        self._report(progress, task_id, budget, "done", candidates, work_done, done=True)
        return predictor

    @staticmethod
    def _give_up(search: PortfolioSearch, family: str, skips: dict[str, int]) -> None:
        """Count a skipped trial of ``family``; after ``_SKIPS_TO_RETIRE`` stop proposing it.

        Time and memory only shrink as the search goes on, so a family whose trials no longer
        fit rarely fits later: without this, TPE would propose trial after trial to be skipped
        until the deadline (about 1 s of a 8 s budget spun away, and a list of them kept).
        """
        skips[family] = skips.get(family, 0) + 1
        if skips[family] >= _SKIPS_TO_RETIRE:
            search.retire(family)

    # -- refit for serving -----------------------------------------------------------------------
    def _refit_cost(self, cand: BaggedCandidate, rows: int, n_features: int, n_folds: int) -> float:
        """Estimated seconds to fit ``cand`` once on all ``rows``: in deterministic mode the
        learner's own estimate (no clock), otherwise one fold's measured time scaled to all rows."""
        if self.deterministic:
            cls = CATALOG[cand.learner]
            seconds, _ = cls.estimate_cost(
                self.task, rows, n_features, max(1, self.n_classes), cand.params
            )
            return float(seconds)
        # the refit fits k/(k-1) as many rows as a fold but no early-stopping rounds past the
        # best one, nor validation scoring: measured 0.3-1.2x one fold's time, so no margin here
        per_fold = cand.fit_time_ / max(1, len(cand.folds))
        return per_fold * n_folds / max(1, n_folds - 1)

    def _refit_reserve(
        self, candidates: list[Member], rows: int, n_features: int, n_folds: int
    ) -> float:
        """Time kept for refitting the ensemble: the refits of the two best candidates so far
        (ensembles are mostly one to three members, the best ones carrying the weight)."""
        bagged = [c for c in candidates if isinstance(c, BaggedCandidate) and len(c.folds) > 1]
        bagged.sort(key=lambda c: -c.score_ if self.metric.greater_is_better else c.score_)
        return sum(self._refit_cost(c, rows, n_features, n_folds) for c in bagged[:2])

    def _refit_members(
        self,
        predictor: TabularPredictor,
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        budget: TimeBudget,
        n_folds: int,
    ) -> None:
        """Replace each bagged member (heaviest weight first) by its refit on all rows while
        the time allows; a member left bagged predicts as before. Stacked members stay as
        trained (their second level reads out-of-fold features)."""
        encoders: dict[EncoderKind, FeatureEncoder] = {}
        order = sorted(range(len(predictor.members)), key=lambda i: -predictor.members[i][1])
        members = list(predictor.members)
        for i in order:
            cand, weight = members[i]
            if not isinstance(cand, BaggedCandidate) or len(cand.folds) < 2:
                continue
            cost = self._refit_cost(cand, len(y), X.shape[1], n_folds)
            if not self.deterministic and not budget.fits(cost):
                self.skipped_.append(
                    f"refit of {cand.name}: needs ~{cost:.0f}s; kept its {len(cand.folds)} "
                    "fold models"
                )
                continue
            members[i] = (
                cand.refitted(
                    X,
                    y,
                    schema,
                    seed=self.seed,
                    n_jobs=self.n_jobs,
                    encoders=encoders,
                    sample_weight=self._weight,
                    deadline=None if self.deterministic else budget.deadline,
                ),
                weight,
            )
        predictor.members = members

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
        if cls.out_of_bag:
            return self._fit_out_of_bag(
                name, learner_name, params, X, y, schema, cache, budget, reserve
            )
        shape = (len(y), self.n_classes) if self.task != "regression" else (len(y),)
        oof = np.zeros(shape)
        cand = BaggedCandidate(name, learner_name, params)
        start = time.monotonic()
        predict_time = 0.0
        # where members are refit on all rows, the folds leave room for the candidate's own
        # refit (k/(k-1) of a fold's time): a late candidate that took all the time left kept its
        # k fold models (obesity, 60 s: CatBoost's 5, refit skipped as "needs ~12s")
        refit = len(splits) / max(1, len(splits) - 1) if PRESETS[self.preset].refit else 0.0
        for i, (train_idx, val_idx) in enumerate(splits):
            fold_deadline = None
            if not self.deterministic:
                share = (budget.remaining() - reserve) / (len(splits) - i + refit)
                fold_deadline = time.monotonic() + share
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
                sample_weight=None if self._weight is None else self._weight[train_idx][fit_idx],
            )
            t0 = time.perf_counter()
            oof[val_idx] = learner.predict(data.X_val)
            # the final model runs every fold's encoder and learner on each row: sum over folds
            predict_time += (time.perf_counter() - t0) / max(1, len(val_idx)) * 1e6
            predict_time += data.encode_ms_per_1k
            cand.folds.append((data.encoder, learner))
            late = budget.remaining() <= reserve / 2
            if not self.deterministic and late and i < len(splits) - 1:
                # a fold overran its share: give up this candidate to keep the time limit
                self.skipped_.append(f"{name}: abandoned after {i + 1} fold(s), out of time")
                return None
        return self._complete(cand, oof, y, start, predict_time)

    def _fit_out_of_bag(
        self,
        name: str,
        learner_name: str,
        params: dict[str, Any],
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        cache: dict[tuple[EncoderKind, int], _FoldData],
        budget: TimeBudget,
        reserve: float,
    ) -> BaggedCandidate:
        """One fit on all rows; its out-of-bag predictions stand in for out-of-fold ones.

        The encoder of tree learners learns no statistic of the target, so fitting it on all
        rows leaks nothing into the out-of-bag estimate.
        """
        cls = CATALOG[learner_name]
        start = time.monotonic()
        everything = np.arange(len(y))
        data = self._fold_data(cls.input_kind, -1, X, schema, everything, everything[:0], cache)
        learner: Learner = cls(self.task, self.n_classes, params, self.seed, self.n_jobs)
        deadline = None if self.deterministic else budget.deadline - reserve
        learner.fit(
            data.X_train,
            y,
            categorical=data.encoder.categorical_indices_,
            deadline=deadline,
            sample_weight=self._weight,
        )
        oof = learner.oob_predictions()
        missing = ~np.isfinite(oof).all(axis=1) if oof.ndim == 2 else ~np.isfinite(oof)
        if missing.any():
            # rows in every tree's bag (only when the deadline cut the forest short): the prior
            w = np.ones(len(y)) if self._weight is None else self._weight
            prior = (
                np.bincount(y.astype(np.int64), weights=w, minlength=self.n_classes) / w.sum()
                if self.task != "regression"
                else float(np.average(y, weights=w))
            )
            oof[missing] = prior
        cand = BaggedCandidate(name, learner_name, params)
        cand.folds = [(data.encoder, learner)]
        return self._complete(cand, oof, y, start, cand.time_predict(X))

    def _complete(
        self,
        cand: BaggedCandidate,
        oof: np.ndarray,
        y: np.ndarray,
        start: float,
        predict_time_per_1k: float,
    ) -> BaggedCandidate:
        """Record a fitted candidate's out-of-fold predictions, score, times and the fitted
        parameters its fold models agree on."""
        cand.params = {**cand.params, **_shared_fitted(cand)}
        cand.oof_ = oof
        cand.score_ = self.metric.score(y, oof, sample_weight=self._weight)
        cand.fit_time_ = time.monotonic() - start
        cand.predict_time_per_1k_ = predict_time_per_1k
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

    # -- stacking -----------------------------------------------------------------------------
    def _stack(
        self,
        candidates: list[BaggedCandidate],
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        splits: list[tuple[np.ndarray, np.ndarray]],
        budget: TimeBudget,
        reserve: float,
        leaderboard: Leaderboard,
    ) -> list[Member]:
        """Second-level candidates on the original features plus the best candidates'
        out-of-fold predictions (see ``stack``)."""
        scored = [(c, c.oof_) for c in candidates if c.oof_ is not None]
        scored.sort(key=lambda pair: self.metric.loss(y, pair[1], sample_weight=self._weight))
        ranked = [c for c, _ in scored[:_STACK_BASES]]
        oofs = [oof for _, oof in scored[:_STACK_BASES]]
        augmented = stack_features(X, ranked, oofs, self.task, self.n_classes)
        schema_aug = stacked_schema(schema, ranked, self.task, self.n_classes)
        cache: dict[tuple[EncoderKind, int], _FoldData] = {}
        out: list[Member] = []
        for family in _STACK_LEARNERS:
            if not self.deterministic and budget.remaining() - reserve <= 0:
                break
            cls = CATALOG[family]
            level2 = self._fit_candidate(
                f"{family}_stack",
                family,
                cls.portfolio(self.task)[0],
                augmented,
                y,
                schema_aug,
                splits,
                cache,
                budget,
                reserve,
            )
            if level2 is None or level2.oof_ is None:
                continue
            stacked = StackedCandidate(level2, ranked, self.task, self.n_classes)
            out.append(stacked)
            leaderboard.add(
                LeaderboardRow(
                    name=stacked.name,
                    learner=family,
                    score=stacked.score_,
                    fit_time=stacked.fit_time_,
                    predict_time_per_1k=stacked.predict_time_per_1k_,
                    params=stacked.params,
                    note="stacked on " + ", ".join(c.name for c in ranked),
                )
            )
        return out

    # -- ensemble ------------------------------------------------------------------------------
    def _ensemble(
        self, candidates: list[Member], y: np.ndarray, leaderboard: Leaderboard
    ) -> TabularPredictor:
        oofs = [c.oof_ for c in candidates if c.oof_ is not None]
        weights = select_ensemble(
            oofs, lambda p: self.metric.loss(y, p, sample_weight=self._weight)
        )
        members = [(c, w) for c, w in zip(candidates, weights, strict=True) if w > 0]
        oof = sum(w * c.oof_ for c, w in members if c.oof_ is not None)
        assert isinstance(oof, np.ndarray)
        calibration = None
        if self.task != "regression":
            # averaging folds and members blurs probabilities: one temperature, fitted on the
            # out-of-fold rows, restores them without changing any ranking
            calibration = fit_temperature(y, oof, self._weight)
            oof = apply_temperature(oof, calibration.temperature)
        if len(members) > 1:
            leaderboard.add(
                LeaderboardRow(
                    name="ensemble",
                    learner="ensemble",
                    score=self.metric.score(y, oof, sample_weight=self._weight),
                    fit_time=sum(c.fit_time_ for c, _ in members),
                    predict_time_per_1k=sum(c.predict_time_per_1k_ for c, _ in members),
                    params={c.name: round(w, 4) for c, w in members},
                    note="weighted mean of " + ", ".join(c.name for c, _ in members),
                )
            )
        oof_by_name = {c.name: c.oof_ for c in candidates if c.oof_ is not None}
        oof_by_name["ensemble"] = oof
        leaderboard.mark_significance(
            y, oof_by_name, self.metric, seed=self.seed, n_boot=300, max_sample_rows=5000
        )
        return TabularPredictor(
            task=self.task,
            n_classes=self.n_classes,
            members=members,
            leaderboard=leaderboard,
            oof=oof,
            calibration=calibration,
        )

    @staticmethod
    def _report(
        progress: Progress | None,
        task_id: TaskID | None,
        budget: TimeBudget,
        current: str,
        candidates: list[Member],
        work_done: float,
        done: bool = False,
    ) -> None:
        if progress is None or task_id is None:
            return
        best = ""
        if candidates:
            best = f" · {len(candidates)} fitted"
        used = max(budget.elapsed(), work_done)
        share = 100.0 if done else min(99.0, 100 * used / budget.time_limit)
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
