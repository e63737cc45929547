"""Settings: the one typed configuration object, built once at the edge and passed down.

Values come, lowest priority first, from the defaults here, ``MLWRIGHT_*`` environment variables,
the project file ``mlwright.toml`` and finally explicit arguments (command-line flags).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlwright.errors import ConfigError

__all__ = [
    "DURATION",
    "PROJECT_FILE",
    "AlertSettings",
    "Constraints",
    "Costs",
    "DataSettings",
    "GuardrailSettings",
    "MonitoringSettings",
    "PredictionLogSettings",
    "RetrainSettings",
    "Settings",
    "TrainingSettings",
    "load_settings",
    "parse_duration",
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


class CardSettings(_Section):
    """What only the model's owner knows, written into the model card (``mlwright card``)."""

    intended_use: str | None = None
    out_of_scope: str | None = None
    owner: str | None = None
    ethical_considerations: str | None = None


class PredictionLogSettings(_Section):
    """The prediction log: predictions served or batch-scored, kept in the registry database."""

    enabled: bool = Field(
        True, description="log the predictions of registry models (serve and predict NAME@ALIAS)"
    )
    buffer_rows: int = Field(
        1000, ge=1, description="rows written per transaction; a crash loses at most these"
    )
    flush_interval_s: float = Field(
        1.0, gt=0, description="most seconds between writes; a crash loses at most these"
    )
    retention_days: float | None = Field(
        None, gt=0, description="delete logged predictions (and their labels) older than this"
    )


GuardrailAction = Literal["off", "flag", "default", "review"]


class GuardrailSettings(_Section):
    """Per-prediction rules of the model server, each with an action (``off`` by default)."""

    out_of_range: GuardrailAction = Field(
        "off", description="an input far outside the training data (see out_of_range_k)"
    )
    out_of_range_k: float = Field(
        1.0,
        ge=0,
        description="a number is out of range beyond the training min/max by more than k "
        "times the training range; a category is when training never saw it",
    )
    low_confidence: GuardrailAction = Field(
        "off", description="a classifier's top probability below low_confidence_threshold"
    )
    low_confidence_threshold: float = Field(0.6, gt=0, le=1)
    default_prediction: str | int | float | None = Field(
        None, description="the answer that replaces a prediction under the 'default' action"
    )

    @model_validator(mode="after")
    def _default_given(self) -> GuardrailSettings:
        uses = [r for r in ("out_of_range", "low_confidence") if getattr(self, r) == "default"]
        if uses and self.default_prediction is None:
            raise ValueError(
                f"guardrail {uses[0]} has action 'default' but no default_prediction is set; "
                "set default_prediction (a class label or a number), or use 'flag' or 'review'"
            )
        return self

    @property
    def active(self) -> bool:
        """True when some rule is on."""
        return self.out_of_range != "off" or self.low_confidence != "off"


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | timedelta) -> timedelta:
    """``"30m"``, ``"6h"``, ``"1d"``, ``"2w"`` (or a timedelta) as a positive timedelta.

    Example:
        >>> parse_duration("36h")
        datetime.timedelta(days=1, seconds=43200)
    """
    if isinstance(text, timedelta):
        value = text
    else:
        found = DURATION.match(str(text))
        if found is None:
            raise ConfigError(
                f"'{str(text)[:40]}' is not a duration; write a number and a unit: 30m, 6h, 1d "
                "or 2w (s, m, h, d, w)."
            )
        value = timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])
    if value <= timedelta(0):
        raise ConfigError(f"a duration must be positive, got {value}; write e.g. 1d or 6h.")
    return value


ALERT_RULES = (
    "status:alert",
    "status:warning",
    "drift",
    "drift:COLUMN",
    "prediction_drift",
    "performance",
    "performance:realized",
    "performance:estimated",
    "quality",
    "quality:COLUMN",
)


class MonitoringSettings(_Section):
    """How ``mlwright monitor`` and ``GET /monitoring`` judge the prediction log."""

    since: str = Field(
        "7d",
        description="range judged when none is given: a duration back from now (7d, 24h) or an "
        "ISO time",
    )
    window: str | None = Field(
        None,
        description="cut the range into windows of this length (1d, 6h, 30m), each judged and "
        "stored for trend plots",
    )
    alpha: float = Field(
        0.01, gt=0, lt=0.5, description="chance that an unchanged window is not reported ok"
    )

    @field_validator("window")
    @classmethod
    def _duration(cls, window: str | None) -> str | None:
        if window and not DURATION.match(window):
            raise ValueError(
                f"window must be a duration such as 30m, 6h, 1d or 1w, got '{window[:40]}'"
            )
        return window or None


class AlertSettings(_Section):
    """Which monitoring findings open an alert, and where alerts are sent."""

    rules: list[str] = Field(default_factory=lambda: ["status:alert"])
    webhook_url: str | None = Field(
        None, description="HTTP(S) URL that receives a JSON POST when an alert opens or clears"
    )
    timeout_s: float = Field(5.0, gt=0, description="seconds to wait for the webhook")
    retries: int = Field(3, ge=0, le=10, description="retries after a failed webhook call")
    backoff_s: float = Field(1.0, ge=0, description="wait before the first retry, doubled after")

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        fixed = {r for r in ALERT_RULES if not r.endswith("COLUMN")}
        for rule in rules:
            kind, _, column = rule.partition(":")
            if rule in fixed or (kind in ("drift", "quality") and column.strip()):
                continue
            raise ValueError(
                f"unknown alert rule '{rule}'; expected one of {', '.join(ALERT_RULES)} "
                "(COLUMN is an input column name)"
            )
        return rules

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must start with http:// or https://, got '{url[:40]}'")
        return url or None


class RetrainSettings(_Section):
    """The retraining policy: when ``mlwright retrain --if-needed`` (and the runner of ``mlwright
    serve``) retrains, on which rows, and what a challenger must show to replace the champion."""

    schedule: str | None = Field(
        None, description="retrain when the last retraining decision is older than this (7d, 12h)"
    )
    on_alert: bool = Field(
        False, description="retrain when an alert of the model opened since the last decision"
    )
    min_new_labels: int | None = Field(
        None, ge=1, description="retrain when this many labels arrived since the last decision"
    )
    data: Literal["source", "source+feedback", "feedback"] = Field(
        "source+feedback",
        description="'source' re-reads the champion's training source; '+feedback' adds the "
        "labelled logged predictions (inputs with their actual value)",
    )
    feedback_share: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="share of the training weight carried by the labelled logged rows "
        "(default: every row counts once); e.g. 0.8 to learn a changed world from few rows",
    )
    holdout_fraction: float = Field(
        0.3, gt=0, lt=1, description="share of the newest labelled rows held out to compare"
    )
    min_holdout_rows: int = Field(
        100,
        ge=20,
        description="fewest held-out labelled rows a comparison needs (with compare = 'shadow': "
        "labelled requests both versions scored)",
    )
    alpha: float = Field(
        0.05, gt=0, lt=0.5, description="significance level of the paired comparison"
    )
    margin: float = Field(
        0.005,
        ge=0,
        description="smallest improvement of the model's metric, in its own units, that the "
        "challenger must show with significance (the interval's lower end)",
    )
    alias: str = Field("production", description="the alias whose version is the champion")
    compare: Literal["holdout", "shadow"] = Field(
        "holdout",
        description="'holdout' trains a challenger and compares both on held-out labelled rows; "
        "'shadow' trains nothing and compares the champion with the version `shadow` names on "
        "the labelled requests both scored live (`mlwright serve --shadow`)",
    )
    shadow: str = Field(
        "challenger",
        description="the shadow challenger with compare = 'shadow': an alias or version of the "
        "model (challenger, 4, or NAME@ALIAS)",
    )
    time_limit: float | None = Field(
        None, gt=0, description="seconds to train the challenger (default: the champion's)"
    )
    check_interval_s: float = Field(
        3600.0, gt=0, description="how often the runner of `mlwright serve` checks the policy"
    )
    lock_ttl_s: float = Field(
        300.0, ge=5, description="lease of the retraining lock, renewed while training"
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str | None) -> str | None:
        if schedule and not DURATION.match(schedule):
            raise ValueError(
                f"schedule must be a duration such as 12h, 7d or 4w, got '{schedule[:40]}'"
            )
        return schedule or None


class Settings(BaseSettings):
    """Everything mlwright can be told. Unknown keys are errors."""

    model_config = SettingsConfigDict(
        env_prefix="MLWRIGHT_", env_nested_delimiter="__", extra="forbid"
    )

    data: DataSettings = Field(default_factory=DataSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    costs: Costs | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    card: CardSettings = Field(default_factory=CardSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    prediction_log: PredictionLogSettings = Field(default_factory=PredictionLogSettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
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

# The model card (`mlwright card`, and the report's last part): what only the owner knows.
# Left empty, the card marks each as "to be filled in by the model owner".
[card]
# intended_use = "Monthly retention campaign: who gets a discount offer."
# out_of_scope = "Credit decisions; customers outside the consumer segment."
# owner = "Retention analytics, retention-ml@example.com"
# ethical_considerations = "A missed churner loses an offer; nobody is charged more."

# The prediction log: what `mlwright serve NAME@ALIAS` and `mlwright predict NAME@ALIAS` scored,
# in the registry database, for monitoring and labels (`--no-log` turns it off for one run).
# [prediction_log]
# enabled = true
# buffer_rows = 1000        # rows per write; a crash loses at most the rows buffered ...
# flush_interval_s = 1.0    # ... or this many seconds of traffic
# retention_days = 90       # delete older predictions and their labels (default: keep all)

# Per-prediction guardrails of `mlwright serve`: each rule "off", "flag" (reported in the
# answer), "default" (the prediction replaced by default_prediction, reported) or "review"
# (reported with "review": true; the rows are found later by the log's flags).
# [guardrails]
# out_of_range = "flag"           # a number beyond the training min..max by more than k times
# out_of_range_k = 1.0            # the training range, or a category training never saw
# low_confidence = "review"       # a classifier's top probability below the threshold
# low_confidence_threshold = 0.6
# default_prediction = "No"       # the answer given under the "default" action

# `mlwright monitor` and GET /monitoring: drift, data quality and performance of logged predictions.
# [monitoring]
# since = "7d"      # range judged when --since is not given: a duration back from now, or ISO time
# window = "1d"     # cut the range into windows (1d, 6h, 30m), each judged and stored for trends
# alpha = 0.01      # chance that a window where nothing changed is reported as anything but ok

# Alerts open when a rule fires, are sent once, and are sent again ("resolved") when they clear.
# Rules: "status:alert", "status:warning" (warning or worse), "drift" (any input column),
# "drift:COLUMN", "prediction_drift", "performance" (realized or estimated drop),
# "performance:realized", "performance:estimated", "quality", "quality:COLUMN".
# [alerts]
# rules = ["status:alert"]
# webhook_url = "https://hooks.example.com/..."   # or MLWRIGHT_ALERTS__WEBHOOK_URL (a secret)
# timeout_s = 5
# retries = 3

# `mlwright retrain NAME --if-needed` (cron) and `mlwright serve --retrain`: retrain when a
# trigger fires, compare champion and challenger on the newest labelled rows, promote only if the
# challenger is significantly better by at least the margin. Every decision is in the history.
# [retrain]
# schedule = "7d"                 # retrain when the last decision is older than this
# on_alert = true                 # retrain when an alert opened since the last decision
# min_new_labels = 1000           # retrain when this many labels arrived since then
# data = "source+feedback"        # or "source" (re-read the training source), or "feedback"
# feedback_share = 0.8            # weight of the labelled logged rows (default: 1 per row)
# holdout_fraction = 0.3          # newest labelled rows held out (never trained on) ...
# min_holdout_rows = 100          # ... at least this many, or the decision is skipped
# alpha = 0.05                    # significance of the paired bootstrap
# margin = 0.005                  # the improvement's interval must clear this (metric units)
# alias = "production"
# time_limit = 300                # seconds for the challenger (default: the champion's)
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
