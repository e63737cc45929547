"""mlwright: the job of a machine-learning engineer, end to end.

Example:
    >>> import mlwright
    >>> model = mlwright.train("examples/telco_churn/train.csv", target="Churn", time_limit=30)
    >>> model.save("models/churn")
    >>> mlwright.load("models/churn").predict(new_rows)
"""

from mlwright.api import load, profile, read_data, train
from mlwright.errors import (
    ArtifactError,
    BudgetExceeded,
    ConfigError,
    DataError,
    MlwrightError,
    MlwrightWarning,
    NotTrainedError,
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
    "SchemaMismatch",
    "Settings",
    "SourceError",
    "load",
    "load_settings",
    "profile",
    "read_data",
    "train",
]
