"""The rows of one retrain: the labelled logged predictions, the held-out split, and the
challenger's training frame (the champion's source re-read and/or the labelled feedback).

The newest usable labelled rows that the champion was neither trained nor judged on are held
out; they never reach the challenger's training rows. Feedback rows join the source with the
label as the target; rows that cannot be used are set aside by training, with reasons, as for
any training data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlwright.api import read_data
from mlwright.comparison import label_key
from mlwright.data.conform import conform_target
from mlwright.errors import ConfigError
from mlwright.model import Model
from mlwright.registry import Registry
from mlwright.registry.database import redact_url
from mlwright.registry.operations import SHADOW_SOURCE
from mlwright.settings import RetrainSettings

__all__ = [
    "WEIGHT",
    "LabelledRows",
    "Split",
    "encoded_labels",
    "labelled_rows",
    "split_rows",
    "training_frame",
    "typed_actuals",
]

WEIGHT = "mlwright_retrain_weight"  # the row weights of one retrain; never a feature


@dataclass
class LabelledRows:
    """The labelled logged predictions of a model, oldest first."""

    inputs: pd.DataFrame
    actual: pd.Series  # the label as one of the champion's classes (or a number); None: unusable
    at: pd.Series
    scored: np.ndarray  # True where the prediction was made (not rejected)
    unusable: dict[str, int]  # why labels could not be used, with counts


@dataclass
class Split:
    """Positions into ``LabelledRows``: the held-out rows and the rows that may be trained on."""

    holdout: np.ndarray
    train: np.ndarray
    candidates: int  # rows that could have been held out


def split_rows(labelled: LabelledRows, cutoff: datetime | None, policy: RetrainSettings) -> Split:
    """Hold out the newest usable, scored rows logged after ``cutoff`` (the rows the champion
    was trained or judged on): ``holdout_fraction`` of them, at least ``min_holdout_rows``.

    With fewer such rows than ``min_holdout_rows`` nothing is held out (``holdout`` is empty).
    """
    usable = labelled.actual.notna().to_numpy()
    candidates = usable & labelled.scored
    if cutoff is not None:
        candidates &= (labelled.at > pd.Timestamp(cutoff)).to_numpy()
    found = int(candidates.sum())
    if found < policy.min_holdout_rows:
        return Split(np.zeros(0, dtype=np.int64), np.flatnonzero(usable), found)
    size = max(policy.min_holdout_rows, math.ceil(policy.holdout_fraction * found))
    holdout = np.flatnonzero(candidates)[-size:]
    rest = usable.copy()
    rest[holdout] = False
    return Split(holdout, np.flatnonzero(rest), found)


def labelled_rows(registry: Registry, name: str, champion: Model) -> LabelledRows:
    """The labelled logged predictions of ``name``, labels typed as the champion's target.

    Rows a shadow scored (source "shadow") are left out: each is a second prediction for a
    request the served model answered, and that answer's row is here already.
    """
    window = registry.operations.read(name, labelled_only=True)
    live = (window.rows["source"] != SHADOW_SOURCE).to_numpy()
    rows = window.rows[live].reset_index(drop=True)
    inputs = window.inputs[live].reset_index(drop=True)
    actual, unusable = typed_actuals(rows["actual"], champion)
    scored = rows["rejected"].isna().to_numpy() if len(rows) else np.zeros(0, dtype=bool)
    return LabelledRows(inputs, actual, rows["at"], scored, unusable)


def typed_actuals(values: pd.Series, champion: Model) -> tuple[pd.Series, dict[str, int]]:
    """Logged labels typed as the champion's target (None where unusable), and why the
    unusable ones are, with counts."""
    target = champion.info_["target"]
    typed = conform_target(pd.Series(list(values), dtype=object), champion.schema_[target])
    unusable: dict[str, int] = {}
    actual: list[Any] = []
    lookup = None
    if champion.classes_ is not None:
        lookup = {label_key(c): c for c in champion.classes_}
    for value in typed:
        key = label_key(value)
        if key is None:
            problem = "missing or not a valid label"
        elif lookup is not None and key not in lookup:
            problem = "not a class the champion knows"
        else:
            actual.append(value if lookup is None else lookup[key])
            continue
        unusable[problem] = unusable.get(problem, 0) + 1
        actual.append(None)
    return pd.Series(actual, dtype=object), unusable


def encoded_labels(actual: pd.Series, champion: Model) -> np.ndarray:
    """Labels as class indices in the champion's order (values for regression)."""
    if champion.classes_ is None:
        return actual.to_numpy(dtype=float)
    index = {label_key(c): i for i, c in enumerate(champion.classes_)}
    return np.array([index[label_key(v)] for v in actual], dtype=np.int64)


def _read_source(champion: Model) -> pd.DataFrame:
    """The champion's training data, re-read from the source its manifest records."""
    data = champion.settings.data
    if data.source is None:
        raise ConfigError(
            "the champion has no recorded data source (it was trained from a DataFrame), so "
            '[retrain] data = "source" or "source+feedback" cannot re-read it. Train it with '
            '`mlwright train FILE --register NAME`, or set [retrain] data = "feedback".'
        )
    if "://" not in data.source and not Path(data.source).exists():
        raise ConfigError(
            f"the champion's training source '{data.source}' (recorded in its manifest) is not "
            f"found from {Path.cwd()}. Run the retrain from the folder it was trained in, or set "
            '[retrain] data = "feedback".'
        )
    return read_data(data.source, query=data.query, settings=champion.settings)


def training_frame(
    champion: Model, labelled: LabelledRows, split: Split, policy: RetrainSettings
) -> tuple[pd.DataFrame, str | None, dict[str, Any]]:
    """The challenger's rows (source and/or labelled feedback), the weight column to use and
    how many rows came from where."""
    user_weight = champion.settings.data.weight
    source = _read_source(champion) if policy.data != "feedback" else None
    parts: list[pd.DataFrame] = []
    weights: list[np.ndarray] = []
    info: dict[str, Any] = {
        "mode": policy.data,
        "source": None if source is None else len(source),
        "source_location": None if source is None else _where(champion),
        "feedback": 0,
        "holdout": len(split.holdout),
    }
    if source is not None:
        own = np.ones(len(source))
        if user_weight is not None and user_weight in source.columns:
            own = pd.to_numeric(source[user_weight], errors="coerce").to_numpy(dtype=float)
            source = source.drop(columns=[user_weight])
        parts.append(source)
        weights.append(own)
    if policy.data != "source":
        feedback = _feedback_frame(champion, labelled, split, source)
        info["feedback"] = len(feedback)
        parts.append(feedback)
        weights.append(np.ones(len(feedback)))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    share = policy.feedback_share
    mixed = source is not None and len(parts) == 2 and len(parts[1]) > 0
    if share is not None and mixed:
        # scaled so that the feedback rows carry ``share`` of the total weight, mean weight 1
        total = len(frame)
        weights[0] = weights[0] * (1 - share) * total / max(np.nansum(weights[0]), 1e-12)
        weights[1] = weights[1] * share * total / len(parts[1])
        info["feedback_share"] = share
    if user_weight is None and not (share is not None and mixed):
        return frame, None, info
    frame[WEIGHT] = np.concatenate(weights)
    return frame, WEIGHT, info


def _where(champion: Model) -> str:
    data = champion.settings.data
    assert data.source is not None
    return redact_url(data.source) + ("" if data.query is None else " (query)")


def _feedback_frame(
    champion: Model, labelled: LabelledRows, split: Split, source: pd.DataFrame | None
) -> pd.DataFrame:
    """Labelled logged rows to train on: their logged inputs and the label as the target.

    Only columns the source has (or, without a source, the champion's input columns) are kept;
    next to a source read as text (CSV), values are written as text too, so both parts are
    typed alike.
    """
    target = champion.info_["target"]
    inputs = labelled.inputs.iloc[split.train].reset_index(drop=True)
    allowed = list(source.columns) if source is not None else champion.schema_.feature_names
    keep = [c for c in inputs.columns if c in set(allowed) and c != target]
    frame = inputs[keep].copy()
    frame[target] = list(labelled.actual.iloc[split.train])
    if source is None:
        return frame
    for column in frame.columns:
        if column in source.columns and pd.api.types.is_string_dtype(source[column]):
            frame[column] = frame[column].map(_as_text).astype(source[column].dtype)
    return frame


def _as_text(value: Any) -> str:
    """A logged JSON value as a CSV reader gives it: "" if missing, 3 (not 3.0) if whole."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
