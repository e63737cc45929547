"""The catalog: every learner class mlwright can use, one line each.

Learner modules are imported on first use: loading a saved model imports only the libraries of
its own members (a server for an XGBoost model never imports LightGBM, CatBoost or torch), while
``CATALOG`` — every learner whose library is installed, for training — is built on first access.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from mlwright.models.base import Learner

__all__ = ["CATALOG", "get_learner"]

# name: (module under mlwright.models, class, the package training needs or None if a dependency)
_ENTRIES: dict[str, tuple[str, str, str | None]] = {
    "extra_trees": ("forest", "ExtraTreesLearner", None),
    "knn": ("knn", "KNNLearner", None),
    "linear": ("linear", "LinearLearner", None),
    "random_forest": ("forest", "RandomForestLearner", None),
    # a dependency, but optional here: an image serving a model without it need not install it
    "lightgbm": ("lightgbm", "LightGBMLearner", "lightgbm"),
    "xgboost": ("xgboost", "XGBoostLearner", "xgboost"),  # pip install 'mlwright[boost]'
    "catboost": ("catboost", "CatBoostLearner", "catboost"),
    "mlp": ("mlp", "MLPLearner", "torch"),  # trains with the [nn] extra
}

# learners that load (and predict) without their training package installed
_LOADABLE = {"mlp"}

_catalog: dict[str, type[Learner]] | None = None
CATALOG: dict[str, type[Learner]]  # built by __getattr__ on first access


def _import(name: str) -> type[Learner]:
    module, class_name, _ = _ENTRIES[name]
    learner: type[Learner] = getattr(
        importlib.import_module(f"mlwright.models.{module}"), class_name
    )
    return learner


def _installed(package: str | None) -> bool:
    return package is None or importlib.util.find_spec(package) is not None


def _build() -> dict[str, type[Learner]]:
    classes = [_import(n) for n, (_, _, pkg) in _ENTRIES.items() if _installed(pkg)]
    return {cls.name: cls for cls in sorted(classes, key=lambda c: -c.priority)}


def __getattr__(attr: str) -> Any:
    if attr == "CATALOG":
        global _catalog
        if _catalog is None:
            _catalog = _build()
        return _catalog
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def get_learner(name: str) -> type[Learner]:
    """The learner class called ``name``, importing only its own module."""
    entry = _ENTRIES.get(name)
    if entry is None:
        raise KeyError(f"unknown learner '{name}'; known: {sorted(_ENTRIES)}")
    if not (_installed(entry[2]) or name in _LOADABLE):
        raise KeyError(
            f"learner '{name}' needs the '{entry[2]}' package, which is not installed; "
            "install mlwright[boost] (XGBoost, CatBoost) or the package itself."
        )
    return _import(name)
