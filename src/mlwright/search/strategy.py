"""Search strategy: portfolio configurations first, then Bayesian optimisation (Optuna TPE) of
the families that did best. No ML happens here: the trainer fits and scores, then reports back.

The plan depends only on the seed, the losses reported and the families retired (``retire``:
the trainer's word that a family no longer fits what is left), never on the clock, so the same
reports give the same sequence of trials.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from mlwright.search.space import Categorical, Float, Int, SearchSpace

__all__ = ["Family", "PortfolioSearch", "Trial"]

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Family:
    """What the strategy needs to know about one learner: its defaults and its space."""

    name: str
    priority: int
    portfolio: list[dict[str, Any]]
    space: SearchSpace


@dataclass
class Trial:
    """One configuration to fit and score; ``tell`` its loss (lower is better) back."""

    family: str
    params: dict[str, Any]
    source: str  # "portfolio" or "tpe"
    _optuna: optuna.trial.Trial | None = None


@dataclass
class PortfolioSearch:
    """Yield portfolio configurations interleaved across families (highest priority first), then
    TPE proposals for the families ranked by their best loss so far.

    Parameters
    ----------
    families:
        The learners to search.
    seed:
        Seeds every sampler.
    portfolio_depth:
        How many portfolio configurations per family (None: all).
    refine:
        Whether to continue with TPE after the portfolio.
    """

    families: list[Family]
    seed: int = 0
    portfolio_depth: int | None = None
    refine: bool = True
    _best: dict[str, float] = field(default_factory=dict)
    _studies: dict[str, optuna.Study] = field(default_factory=dict)
    _retired: set[str] = field(default_factory=set)

    def retire(self, family: str) -> None:
        """Propose no more trials of ``family`` (it no longer fits the time or memory left)."""
        self._retired.add(family)

    def trials(self) -> Iterator[Trial]:
        """Trials in order; stops when there is nothing left to try or every family is
        retired."""
        ordered = sorted(self.families, key=lambda f: -f.priority)
        depth = max((len(f.portfolio) for f in ordered), default=0)
        if self.portfolio_depth is not None:
            depth = min(depth, self.portfolio_depth)
        for i in range(depth):
            for fam in ordered:
                if i < len(fam.portfolio) and fam.name not in self._retired:
                    yield Trial(fam.name, dict(fam.portfolio[i]), "portfolio")
        if not self.refine:
            return
        rng = np.random.default_rng(self.seed)
        by_name = {f.name: f for f in ordered}
        while active := [f for f in ordered if f.name not in self._retired]:
            fam = by_name[self._pick_family(active, rng)]
            yield self._ask(fam)

    def tell(self, trial: Trial, loss: float) -> None:
        """Report a trial's loss (``inf`` when it failed or was abandoned)."""
        if np.isfinite(loss):
            self._best[trial.family] = min(loss, self._best.get(trial.family, np.inf))
        study = self._study(trial.family)
        if trial._optuna is None:
            # portfolio trials teach TPE too: add them as completed trials of the study
            dists = _distributions(self._family(trial.family).space)
            params = {k: v for k, v in trial.params.items() if k in dists}
            if len(params) == len(dists) and np.isfinite(loss):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    study.add_trial(
                        optuna.trial.create_trial(params=params, distributions=dists, value=loss)
                    )
            return
        if np.isfinite(loss):
            study.tell(trial._optuna, loss)
        else:
            study.tell(trial._optuna, state=optuna.trial.TrialState.FAIL)

    # -- internals --------------------------------------------------------------------------
    def _pick_family(self, ordered: list[Family], rng: np.random.Generator) -> str:
        scored = [f for f in ordered if f.name in self._best]
        if not scored:
            return ordered[0].name
        ranked = sorted(scored, key=lambda f: self._best[f.name])
        # mostly the best family, sometimes the runners-up: weights 1, 1/2, 1/4, ...
        weights = np.array([0.5**i for i in range(len(ranked))])
        return ranked[int(rng.choice(len(ranked), p=weights / weights.sum()))].name

    def _family(self, name: str) -> Family:
        return next(f for f in self.families if f.name == name)

    def _study(self, name: str) -> optuna.Study:
        if name not in self._studies:
            index = [f.name for f in self.families].index(name)
            sampler = optuna.samplers.TPESampler(seed=self.seed + index, n_startup_trials=5)
            self._studies[name] = optuna.create_study(direction="minimize", sampler=sampler)
        return self._studies[name]

    def _ask(self, fam: Family) -> Trial:
        study = self._study(fam.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle = study.ask(_distributions(fam.space))
        return Trial(fam.name, dict(handle.params), "tpe", handle)


def _distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    out: dict[str, BaseDistribution] = {}
    for name, dim in space.items():
        if isinstance(dim, Float):
            out[name] = FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Int):
            out[name] = IntDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Categorical):
            out[name] = CategoricalDistribution(dim.choices)
    return out
