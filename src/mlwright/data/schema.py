"""Schema: what each column of the training data is, saved with the model as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["ColumnSchema", "Role", "Schema"]


class Role(StrEnum):
    """What a column is for."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"
    CONSTANT = "constant"
    TARGET = "target"

    @property
    def is_feature(self) -> bool:
        """True when the column feeds the learners."""
        return self in _FEATURE_ROLES


_FEATURE_ROLES = {Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN, Role.DATETIME, Role.TEXT}


@dataclass
class ColumnSchema:
    """One column as inferred from training data.

    ``parse`` says how raw values become typed values: ``"number"`` (plain or with thousands
    separators, currency or percent signs), ``"bool"``, ``"datetime"`` or ``"string"``.
    ``true_values`` lists the raw spellings that mean True for a boolean column (others are False).
    ``datetime_format`` is the strftime format found for text dates (None: ISO or mixed).
    ``dayfirst`` is True when text dates put the day first.
    ``reason`` says why a column is not used as a feature (identifier, constant).
    """

    name: str
    role: Role
    dtype: str
    parse: str = "string"
    missing_fraction: float = 0.0
    n_unique: int = 0
    true_values: list[str] = field(default_factory=list)
    datetime_format: str | None = None
    dayfirst: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["role"] = self.role.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        """Inverse of ``to_dict``."""
        return cls(**{**data, "role": Role(data["role"])})


@dataclass
class Schema:
    """Every column of the training data, in order, and which one is the target."""

    columns: list[ColumnSchema]
    target: str

    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def features(self) -> list[ColumnSchema]:
        """Columns that feed the learners, in training order."""
        return [c for c in self.columns if c.role.is_feature]

    @property
    def feature_names(self) -> list[str]:
        """Names of ``features``."""
        return [c.name for c in self.features]

    @property
    def dropped(self) -> list[ColumnSchema]:
        """Columns not used (identifiers, constants), each with its reason."""
        return [c for c in self.columns if not c.role.is_feature and c.role is not Role.TARGET]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"target": self.target, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Inverse of ``to_dict``."""
        return cls(
            columns=[ColumnSchema.from_dict(c) for c in data["columns"]], target=data["target"]
        )
