"""The catalog: every learner class mlwright can use, one line each."""

from __future__ import annotations

import importlib
import importlib.util

from mlwright.models.base import Learner
from mlwright.models.forest import ExtraTreesLearner, RandomForestLearner
from mlwright.models.knn import KNNLearner
from mlwright.models.linear import LinearLearner
from mlwright.models.mlp import MLPLearner

__all__ = ["CATALOG", "get_learner"]


def _optional(package: str, class_name: str) -> list[type[Learner]]:
    """``[class_name]`` from ``mlwright.models.<package>`` when ``package`` imports, else ``[]``."""
    try:
        importlib.import_module(package)
    except ImportError:
        return []  # an optional extra (pip install 'mlwright[boost]') that is not installed
    module = importlib.import_module(f"mlwright.models.{package}")
    learner: type[Learner] = getattr(module, class_name)
    return [learner]


_LEARNERS: list[type[Learner]] = [
    ExtraTreesLearner,
    KNNLearner,
    LinearLearner,
    RandomForestLearner,
    # a dependency, but optional here: an image serving a model without it need not install it
    *_optional("lightgbm", "LightGBMLearner"),
    *_optional("xgboost", "XGBoostLearner"),
    *_optional("catboost", "CatBoostLearner"),
    *([MLPLearner] if importlib.util.find_spec("torch") else []),  # trains with the [nn] extra
]

CATALOG: dict[str, type[Learner]] = {
    cls.name: cls for cls in sorted(_LEARNERS, key=lambda c: -c.priority)
}


# learners that load (and predict) without their training extra installed
_LOADABLE: dict[str, type[Learner]] = {MLPLearner.name: MLPLearner}


def get_learner(name: str) -> type[Learner]:
    """The learner class called ``name``."""
    try:
        return CATALOG.get(name) or _LOADABLE[name]
    except KeyError:
        raise KeyError(f"unknown learner '{name}'; known: {sorted(CATALOG)}") from None
