"""The one exception tree of mlwright.

Every error says what happened, what was expected and what to do::

    MlwrightError
    ├── DataError(ValueError)              bad or unusable input data
    │   ├── SchemaMismatch                 prediction input does not match the saved schema
    │   └── SourceError                    a file or a SQL source cannot be read
    ├── ConfigError(ValueError)            invalid settings, project file or argument combination
    ├── NotTrainedError(AttributeError)    a Model used before train() or load()
    ├── BudgetExceeded(RuntimeError)       the time limit ran out before any model finished
    ├── ArtifactError(ValueError)          a saved model is missing, tampered with or truncated
    └── RegistryError                      a model reference does not resolve, or a registry
        └── RegistryConflict               write lost a race (e.g. an alias moved meanwhile)

Each class has a stable ``code`` that later maps to an HTTP status and a docs anchor.
``MlwrightWarning`` is the category of every warning mlwright emits.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "BudgetExceeded",
    "ConfigError",
    "DataError",
    "MlwrightError",
    "MlwrightWarning",
    "NotTrainedError",
    "RegistryConflict",
    "RegistryError",
    "SchemaMismatch",
    "SourceError",
]


class MlwrightError(Exception):
    """Base of every error mlwright raises on purpose."""

    code = "mlwright_error"
    http_status = 500


class DataError(MlwrightError, ValueError):
    """The input data cannot be used as given."""

    code = "data_error"
    http_status = 422


class SchemaMismatch(DataError):
    """Rows to score do not match the schema the model was trained on."""

    code = "schema_mismatch"
    http_status = 422


class SourceError(DataError):
    """A file or a SQL source cannot be read."""

    code = "source_error"
    http_status = 400


class ConfigError(MlwrightError, ValueError):
    """Settings, the project file or an argument combination is invalid."""

    code = "config_error"
    http_status = 400


class NotTrainedError(MlwrightError, AttributeError):
    """A Model was used before it was trained or loaded."""

    code = "not_trained"
    http_status = 409


class BudgetExceeded(MlwrightError, RuntimeError):
    """The time limit ran out before any model finished."""

    code = "budget_exceeded"
    http_status = 503


class ArtifactError(MlwrightError, ValueError):
    """A saved model directory is missing, tampered with or truncated."""

    code = "artifact_error"
    http_status = 500


class RegistryError(MlwrightError):
    """A model reference does not resolve, or the registry cannot be opened or written."""

    code = "registry_error"
    http_status = 404


class RegistryConflict(RegistryError):
    """A registry write lost a race: an alias moved or a version changed since it was read."""

    code = "registry_conflict"
    http_status = 409


class MlwrightWarning(UserWarning):
    """Something was handled, but the user should know (extra columns, rows set aside, ...)."""
