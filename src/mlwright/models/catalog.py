"""The catalog: every learner class mlwright can use, one line each."""

from __future__ import annotations

from mlwright.models.base import Learner
from mlwright.models.lightgbm import LightGBMLearner
from mlwright.models.linear import LinearLearner

__all__ = ["CATALOG", "get_learner"]

_LEARNERS: list[type[Learner]] = [LightGBMLearner, LinearLearner]

CATALOG: dict[str, type[Learner]] = {
    cls.name: cls for cls in sorted(_LEARNERS, key=lambda c: -c.priority)
}


def get_learner(name: str) -> type[Learner]:
    """The learner class called ``name``."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown learner '{name}'; known: {sorted(CATALOG)}") from None
