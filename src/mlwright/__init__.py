"""mlwright: the job of a machine-learning engineer, end to end.

Example:
    >>> import mlwright
    >>> model = mlwright.train("examples/telco_churn/train.csv", target="Churn", time_limit=30)
    >>> model.save("models/churn")
    >>> mlwright.load("models/churn").predict(new_rows)
"""

import os
from typing import TYPE_CHECKING

# OpenMP threads (LightGBM, XGBoost) spin for a long while before they sleep; when the cores are
# shared with other processes the spinning starves the threads that have work: a fit that takes
# 0.05 s alone took 19 s beside busy processes on 2 cores. Sleeping at once (OMP_WAIT_POLICY=
# PASSIVE) fixes that but made a 26-class LightGBM fit 14x slower on an idle machine; a short spin
# (10,000 iterations) was fast in both cases. Must be set before those libraries load; a value
# the user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from mlwright.api import (  # noqa: E402
    feedback,
    load,
    monitor,
    profile,
    read_data,
    register,
    registry,
    train,
)
from mlwright.errors import (
    ArtifactError,
    BudgetExceeded,
    ConfigError,
    DataError,
    MlwrightError,
    MlwrightWarning,
    NotTrainedError,
    RegistryConflict,
    RegistryError,
    SchemaMismatch,
    SourceError,
)
from mlwright.model import Model, Prediction
from mlwright.settings import Settings, load_settings

if TYPE_CHECKING:
    from mlwright.operate import RetrainDecision

__version__ = "0.1.0"


def retrain(
    name: str,
    *,
    alias: str | None = None,
    if_needed: bool = False,
    registry: str | None = None,
    settings: Settings | None = None,
) -> "RetrainDecision":
    """Train a challenger for registered model ``name`` and promote it only on evidence.

    The challenger is trained with the champion's settings on the ``[retrain] data`` rows and
    compared with the champion (``NAME@alias``, default ``[retrain] alias``) on the newest
    labelled predictions, held out, by a paired test; it replaces the champion only when it is
    better by ``[retrain] margin`` with significance. ``if_needed`` first checks the policy's
    triggers and skips when none fired. The decision, the evidence and the reason go to the
    audit log (``mlwright models history NAME``).

    Example:
        >>> decision = mlwright.retrain("churn", if_needed=True)
        >>> decision.decision, decision.reason
    """
    from mlwright.operate import retrain as run
    from mlwright.registry import open_registry

    reg = open_registry(registry)
    try:
        return run(reg, name, alias=alias, if_needed=if_needed, settings=settings)
    finally:
        reg.close()


__all__ = [
    "ArtifactError",
    "BudgetExceeded",
    "ConfigError",
    "DataError",
    "MlwrightError",
    "MlwrightWarning",
    "Model",
    "NotTrainedError",
    "Prediction",
    "RegistryConflict",
    "RegistryError",
    "SchemaMismatch",
    "Settings",
    "SourceError",
    "feedback",
    "load",
    "load_settings",
    "monitor",
    "profile",
    "read_data",
    "register",
    "registry",
    "retrain",
    "train",
]
