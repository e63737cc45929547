"""Settings: the one typed configuration object, built once at the edge and passed down.

Values come, lowest priority first, from the defaults here, ``MLWRIGHT_*`` environment variables,
the project file ``mlwright.toml`` and finally explicit arguments (command-line flags).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlwright.errors import ConfigError

__all__ = [
    "PROJECT_FILE",
    "Constraints",
    "Costs",
    "DataSettings",
    "Settings",
    "TrainingSettings",
    "load_settings",
    "render_project_file",
]

PROJECT_FILE = "mlwright.toml"

TaskName = Literal["binary", "multiclass", "regression"]
Preset = Literal["fast", "balanced", "best"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataSettings(_Section):
    """Where the training data comes from and how to read it."""

    source: str | None = None
    query: str | None = None
    target: str | None = None
    weight: str | None = Field(
        None, description="column holding each row's weight (a non-negative number)"
    )
    sql_timeout: float = Field(300.0, gt=0, description="statement timeout for SQL sources, s")
    chunk_size: int = Field(50_000, gt=0, description="rows read per chunk")


class TrainingSettings(_Section):
    """How models are searched and scored."""

    task: TaskName | None = None
    metric: str | None = None
    time_limit: float = Field(60.0, gt=0, description="seconds for the whole training run")
    seed: int = 0
    preset: Preset = "balanced"
    folds: int | None = Field(None, ge=2, le=20, description="default: by preset")
    max_trials: int | None = Field(None, ge=1, description="stop after this many candidates")
    class_weight: Literal["none", "balanced"] = Field(
        "none",
        description="'balanced' weighs each class by the inverse of its frequency, so that a "
        "rare class counts as much as a common one",
    )
    deterministic: bool = Field(
        False,
        description="plan the search in work units instead of wall-clock seconds, so the same "
        "data and seed give the same model on any machine",
    )


class Costs(_Section):
    """The business cost of each kind of error (binary tasks)."""

    fp: float = Field(1.0, ge=0)
    fn: float = Field(1.0, ge=0)


class Constraints(_Section):
    """Limits agreed with the business."""

    max_latency_ms: float | None = Field(None, gt=0)
    sensitive_columns: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    """Everything mlwright can be told. Unknown keys are errors."""

    model_config = SettingsConfigDict(
        env_prefix="MLWRIGHT_", env_nested_delimiter="__", extra="forbid"
    )

    data: DataSettings = Field(default_factory=DataSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    costs: Costs | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    registry: str = "./mlwright-registry"
    progress: bool | None = None

    def with_overrides(self, **sections: dict[str, Any]) -> Settings:
        """A copy with fields replaced per section; ``None`` values are ignored."""
        data = self.model_dump()
        for section, values in sections.items():
            for key, value in values.items():
                if value is None:
                    continue
                if isinstance(data.get(section), dict) or data.get(section) is None:
                    data.setdefault(section, {})
                    if data[section] is None:
                        data[section] = {}
                    data[section][key] = value
                else:
                    data[section] = value
        return _validate(data, "arguments")


def _validate(data: dict[str, Any], where: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{loc}'")
            else:
                problems.append(f"'{loc}': {err['msg']}")
        raise ConfigError(
            f"invalid settings in {where}: {'; '.join(problems)}. "
            f"Fix or remove them; `mlwright init` writes a commented {PROJECT_FILE} "
            "that lists every key."
        ) from None


def load_settings(project_file: str | Path | None = None, *, search: bool = True) -> Settings:
    """Build Settings from the environment and the project file.

    Parameters
    ----------
    project_file:
        Path to a ``mlwright.toml``. When None and ``search`` is true, ``./mlwright.toml`` is
        read if
        it exists.
    """
    path = Path(project_file) if project_file is not None else None
    if path is None and search and Path(PROJECT_FILE).is_file():
        path = Path(PROJECT_FILE)
    base = Settings().model_dump(exclude_unset=True)
    if path is None:
        return _validate(base, "the environment")
    if not path.is_file():
        raise ConfigError(f"project file '{path}' not found. Create it with `mlwright init`.")
    try:
        loaded = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"project file '{path}' is not valid TOML: {exc}. Fix the line named."
        ) from None
    # drop keys the user left empty in the template (TOML has no null; we use "" for unset)
    merged = _deep_merge(base, _drop_empty(loaded))
    return _validate(merged, f"'{path}'")


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = _drop_empty(value)
        elif value != "":
            out[key] = value
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_TEMPLATE = """\
# mlwright project file: the requirements agreed with the business, in one reviewed place.
# Every mlwright command in this folder reads it; command-line flags override it.
# Unknown keys are errors. Leave a value "" (or delete the line) to use the default.

[data]
# A file (CSV, TSV, Parquet, JSON Lines, Excel) or a database URL
# (postgresql://, mysql://, mariadb://, sqlite:///, duckdb:///).
source = {source}
# For a database source: the SELECT that returns the training rows (run read-only).
query = {query}
# The column to predict.
target = {target}
# A column holding each row's weight (e.g. exposure, or recency), or "" for equal weights.
weight = ""
# Seconds a SQL query may run before it is stopped.
sql_timeout = 300

[training]
# "binary", "multiclass" or "regression"; detected from the target when empty ({task} found).
task = ""
# What "better" means. Binary: roc_auc, log_loss, accuracy, f1, average_precision, ...
# Multiclass: log_loss, accuracy, f1_macro, ... Regression: rmse, mae, r2, ...
metric = {metric}
# Seconds for the whole training run.
time_limit = 60
# Same seed, same data, same candidates: same model.
seed = 0
# "fast" (a good model soon), "balanced" or "best" (the most accurate model the time allows).
preset = "balanced"
# Cross-validation folds; "" lets the preset choose (fast 3, balanced 5, best 8).
folds = ""
# "balanced" makes a rare class count as much as a common one; "none" keeps the data's mix.
class_weight = "none"
# Plan the search in work units instead of seconds: the same data and seed give the same model.
deterministic = false

# The cost of each kind of mistake (binary tasks). The decision threshold minimises total cost.
# Uncomment and fill in with the business, e.g. a missed churner costs 5x a needless offer:
# [costs]
# fp = 1.0   # cost of a false alarm
# fn = 5.0   # cost of a missed case

[constraints]
# Milliseconds to score one row: the trained ensemble is compacted to meet it.
# max_latency_ms = 10
# Columns that are sensitive: results are reported per group of each (e.g. ["gender"]).
sensitive_columns = []
"""


def render_project_file(
    *, source: str, target: str, query: str | None, task: str, metric: str
) -> str:
    """The commented ``mlwright.toml`` that ``mlwright init`` writes."""

    def q(value: str | None) -> str:
        return (
            '""' if value is None else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        )

    return _TEMPLATE.format(
        source=q(source), query=q(query), target=q(target), task=task, metric=q(metric)
    )
