"""mlwright: the job of a machine-learning engineer, end to end.

Example:
    >>> import mlwright
    >>> model = mlwright.train("examples/telco_churn/train.csv", target="Churn", time_limit=30)
    >>> model.save("models/churn")
    >>> mlwright.load("models/churn").predict(new_rows)
"""

import os

# OpenMP threads (LightGBM, XGBoost) spin for a long while before they sleep; when the cores are
# shared with other processes the spinning starves the threads that have work: a fit that takes
# 0.05 s alone took 19 s beside busy processes on 2 cores. Sleeping at once (OMP_WAIT_POLICY=
# PASSIVE) fixes that but made a 26-class LightGBM fit 14x slower on an idle machine; a short spin
# (10,000 iterations) was fast in both cases. Must be set before those libraries load; a value
# the user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from mlwright.api import load, profile, read_data, register, registry, train  # noqa: E402
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

__version__ = "0.1.0"

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
    "load",
    "load_settings",
    "profile",
    "read_data",
    "register",
    "registry",
    "train",
]
