"""ReferenceProfile: what the training data and the model's scores looked like, kept small.

Built once at fit time from the conformed training rows and the out-of-fold predictions, saved in
the model folder as ``reference/profile.json`` plus ``reference/samples.npy`` (and the scores of
the sampled rows as ``.npy``), never pickled. Monitoring compares every window against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlwright.artifact import sha256_file
from mlwright.data.schema import Role, Schema
from mlwright.errors import ArtifactError, DataError
from mlwright.evaluation.metrics import get_metric

__all__ = [
    "CategoricalReference",
    "FeatureReference",
    "NumericReference",
    "ReferenceProfile",
    "SkippedReference",
    "build_reference",
    "column_values",
    "prediction_values",
]

BINS = 10  # quantile bins of a continuous column (deciles)
DISCRETE_VALUES = 20  # a numeric column with at most this many values is binned by value
TOP_CATEGORIES = 20  # categories kept by name; the rest share an "other" bucket
SEEN_CATEGORIES = 1000  # categories remembered for the unseen-category check
SAMPLE_ROWS = 5000  # training rows kept for two-sample tests and score distributions
FORMAT = 1


@dataclass
class NumericReference:
    """A numeric column (or text length, or a score): bins, range and a sample of values.

    ``edges`` are the inner bin edges (bin ``i`` holds ``edges[i-1] < x <= edges[i]``);
    ``counts`` has one entry per bin. ``discrete`` columns are binned by value (edges halfway
    between the distinct values) and tested with chi-square instead of Kolmogorov-Smirnov.
    """

    name: str
    role: str
    rows: int
    missing: int
    edges: list[float]
    counts: list[float]
    minimum: float
    maximum: float
    median: float
    discrete: bool
    sample: np.ndarray = field(repr=False)
    kind: str = "numeric"

    def bucket(self, values: np.ndarray) -> np.ndarray:
        """Counts of ``values`` (no NaN) per bin."""
        index = np.searchsorted(np.asarray(self.edges), values, side="left")
        return np.bincount(index, minlength=len(self.counts)).astype(float)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the sample as a list)."""
        return {**self._head(), "sample": [float(v) for v in self.sample]}

    def _head(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sample"}


@dataclass
class CategoricalReference:
    """A categorical or boolean column: the shares of its top categories and of the rest.

    ``counts`` has one entry per name in ``categories`` and a last one for every other category.
    ``seen`` lists every category of the training data (None when there were more than 1,000);
    ``singletons`` counts categories seen once, which estimates how often a new one appears.
    """

    name: str
    role: str
    rows: int
    missing: int
    categories: list[str]
    counts: list[float]
    seen: list[str] | None
    singletons: int
    kind: str = "categorical"

    def bucket(self, values: pd.Series) -> np.ndarray:
        """Counts of ``values`` (strings, no missing) per category, then "other"."""
        position = {c: i for i, c in enumerate(self.categories)}
        codes = values.map(position).fillna(len(self.categories)).to_numpy(dtype=np.int64)
        return np.bincount(codes, minlength=len(self.counts)).astype(float)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class SkippedReference:
    """A column checked for missing values only (dates move forward by nature)."""

    name: str
    role: str
    rows: int
    missing: int
    reason: str
    kind: str = "skipped"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


FeatureReference = NumericReference | CategoricalReference | SkippedReference


@dataclass
class ReferenceProfile:
    """The training data and the model's out-of-fold scores, summarised for monitoring.

    ``performance`` holds the reference metrics (out-of-fold): ``accuracy`` and ``roc_auc`` for
    classifiers, ``rmse`` and ``mse_var`` for regression, and ``rows``. ``scores``/``labels`` are
    the out-of-fold scores and encoded targets of at most 5,000 training rows, and
    ``sample_frame`` the conformed feature values of the same rows (for reports: segments, effects;
    None in models saved before it was kept). A profile read from a model folder leaves that
    sample on disk until ``sample_rows()`` first asks for it: a server never needs it, and
    reading Parquet costs a process about 25 MB (pyarrow's reader and memory pool).

    Example:
        >>> ref = model.reference_
        >>> ReferenceProfile.from_dict(ref.to_dict()).features[0].name == ref.features[0].name
        True
    """

    task: str
    classes: list[Any] | None
    threshold: float | None
    rows: int
    rows_rejected: int
    features: list[FeatureReference]
    prediction: FeatureReference | None
    performance: dict[str, float]
    scores: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    sample_frame: pd.DataFrame | None = field(default=None, repr=False)
    # the sample's file and the SHA-256 the manifest gives it, while it is still unread
    rows_file: tuple[Path, str] | None = field(default=None, repr=False, compare=False)

    def sample_rows(self) -> pd.DataFrame | None:
        """``sample_frame``, read on first use from the model folder it was loaded from (its
        hash checked again then, since the folder was checked at load time only)."""
        if self.sample_frame is None and self.rows_file is not None:
            path, sha256 = self.rows_file
            if not path.is_file() or sha256_file(path) != sha256:
                raise ArtifactError(
                    f"'{path}' is missing or changed since the model was loaded; expected the "
                    "file the model's manifest lists. Load the model again from an unaltered "
                    "folder."
                )
            self.sample_frame = pd.read_parquet(path)
            self.rows_file = None
        return self.sample_frame

    def feature(self, name: str) -> FeatureReference:
        """The reference of column ``name``."""
        for ref in self.features:
            if ref.name == name:
                return ref
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: numbers, strings and lists (arrays as lists)."""
        return {
            **self._head(),
            "features": [f.to_dict() for f in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "scores": None if self.scores is None else self.scores.tolist(),
            "labels": None if self.labels is None else self.labels.tolist(),
        }

    def _head(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "task": self.task,
            "classes": self.classes,
            "threshold": self.threshold,
            "rows": self.rows,
            "rows_rejected": self.rows_rejected,
            "performance": self.performance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        """Inverse of ``to_dict``."""
        if data.get("format") != FORMAT:
            raise ArtifactError(
                f"reference profile has format {data.get('format')!r}; expected {FORMAT}. "
                "Retrain the model with this mlwright version to monitor it."
            )
        scores, labels = data.get("scores"), data.get("labels")
        return cls(
            task=data["task"],
            classes=data["classes"],
            threshold=data["threshold"],
            rows=int(data["rows"]),
            rows_rejected=int(data["rows_rejected"]),
            features=[_feature_from_dict(f) for f in data["features"]],
            prediction=None
            if data["prediction"] is None
            else _feature_from_dict(data["prediction"]),
            performance={k: float(v) for k, v in data["performance"].items()},
            scores=None if scores is None else np.asarray(scores, dtype=float),
            labels=None if labels is None else np.asarray(labels, dtype=float),
        )

    # -- files ---------------------------------------------------------------------------------
    def write(self, directory: Path) -> None:
        """Write ``profile.json`` and the samples as ``.npy`` files (no pickle) in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        numeric = [f for f in self._all() if isinstance(f, NumericReference)]
        samples = [f.sample.astype(np.float64) for f in numeric]
        np.save(directory / "samples.npy", np.concatenate(samples) if samples else np.zeros(0))
        if self.scores is not None:
            np.save(directory / "scores.npy", self.scores.astype(np.float64))
        if self.labels is not None:
            np.save(directory / "labels.npy", self.labels.astype(np.float64))
        if (sample := self.sample_rows()) is not None:
            _parquet_safe(sample).to_parquet(directory / "rows.parquet", index=False)
        body = {
            **self._head(),
            "features": [_without_sample(f) for f in self.features],
            "prediction": None if self.prediction is None else _without_sample(self.prediction),
            "sample_sizes": [len(s) for s in samples],
        }
        (directory / "profile.json").write_text(json.dumps(body, indent=1), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, *, rows_sha256: str | None = None) -> ReferenceProfile:
        """Inverse of ``write``. The row sample is read only when ``rows_sha256`` (its hash as
        the manifest lists it) is given, and then only on first use: see ``sample_rows``."""
        body = json.loads((directory / "profile.json").read_text(encoding="utf-8"))
        flat = np.load(directory / "samples.npy", allow_pickle=False)
        offsets = np.cumsum([0, *body.pop("sample_sizes")])
        entries = [*body["features"], *([body["prediction"]] if body["prediction"] else [])]
        numeric = [e for e in entries if e["kind"] == "numeric"]
        for entry, start, stop in zip(numeric, offsets[:-1], offsets[1:], strict=True):
            entry["sample"] = flat[start:stop].tolist()
        for name in ("scores", "labels"):
            path = directory / f"{name}.npy"
            body[name] = np.load(path, allow_pickle=False).tolist() if path.is_file() else None
        profile = cls.from_dict(body)
        if rows_sha256 is not None:
            profile.rows_file = (directory / "rows.parquet", rows_sha256)
        return profile

    def _all(self) -> list[FeatureReference]:
        return [*self.features, *([self.prediction] if self.prediction is not None else [])]


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with object columns as strings (missing kept), which Parquet stores as-is."""
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        if out[name].dtype == object or isinstance(out[name].dtype, pd.CategoricalDtype):
            column = out[name].astype(object)
            out[name] = column.where(column.isna(), column.astype(str))
    return out


def _without_sample(ref: FeatureReference) -> dict[str, Any]:
    return ref._head() if isinstance(ref, NumericReference) else ref.to_dict()


def _feature_from_dict(data: dict[str, Any]) -> FeatureReference:
    kind = data["kind"]
    if kind == "numeric":
        fields = {k: v for k, v in data.items() if k not in ("kind", "sample")}
        return NumericReference(**fields, sample=np.asarray(data["sample"], dtype=float))
    if kind == "categorical":
        return CategoricalReference(**{k: v for k, v in data.items() if k != "kind"})
    return SkippedReference(**{k: v for k, v in data.items() if k != "kind"})


# -- building ----------------------------------------------------------------------------------
def column_values(series: pd.Series, role: str) -> tuple[str, np.ndarray | pd.Series, np.ndarray]:
    """How a conformed column is compared: ``(kind, values, missing mask)``.

    Numbers as float arrays; text as its length in characters; booleans as the strings
    "true"/"false"; categories as strings; dates are not compared (kind "skipped").
    """
    missing = np.asarray(series.isna().to_numpy(), dtype=bool)
    if role == Role.NUMERIC:
        return "numeric", pd.to_numeric(series, errors="coerce").to_numpy(dtype=float), missing
    if role == Role.TEXT:
        lengths = series.astype(object).map(lambda v: len(str(v)), na_action="ignore")
        return "numeric", pd.to_numeric(lengths).to_numpy(dtype=float), missing
    if role == Role.BOOLEAN:
        numbers = pd.to_numeric(series, errors="coerce")
        labels = numbers.map({1.0: "true", 0.0: "false"}).astype(object)
        return "categorical", labels[~missing], missing
    if role == Role.DATETIME:
        return "skipped", np.zeros(0), missing
    return "categorical", series[~missing].astype(str), missing


def prediction_values(
    scores: np.ndarray,
    task: str,
    classes: list[Any] | None,
    threshold: float | None = None,
    *,
    as_scores: bool = False,
) -> Any:
    """What prediction drift compares: the predicted class for classifiers (as strings; binary
    at ``threshold``), the predicted value for regression.

    Classes, not probabilities: the reference's scores are out-of-fold predictions of single
    fold models, while the deployed model averages them (less extreme probabilities, same
    decisions), so comparing probabilities would report a drift on unchanged data. ``as_scores``
    gives P(positive) for binary, as references saved before this change hold.
    """
    scores = np.asarray(scores, dtype=float)
    if task == "binary" and as_scores:
        return scores[:, 1] if scores.ndim == 2 else scores
    if task in ("binary", "multiclass"):
        names = np.asarray([str(c) for c in (classes or [])], dtype=object)
        if task == "binary":
            positive = scores[:, 1] if scores.ndim == 2 else scores
            cut = 0.5 if threshold is None else threshold
            return pd.Series(names[(positive >= cut).astype(int)], dtype=object)
        return pd.Series(names[np.argmax(scores, axis=1)], dtype=object)
    return scores.ravel()


def _numeric_reference(
    name: str, role: str, values: np.ndarray, missing: np.ndarray, sample_rows: np.ndarray
) -> NumericReference:
    finite = values[~missing & np.isfinite(values)]
    distinct = np.unique(finite)
    discrete = len(distinct) <= DISCRETE_VALUES
    if discrete:
        edges = (distinct[:-1] + distinct[1:]) / 2
    else:
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)
    sample = values[sample_rows]
    empty = len(finite) == 0
    return NumericReference(
        name=name,
        role=role,
        rows=len(values),
        missing=int(missing.sum()),
        edges=[float(e) for e in edges],
        counts=[float(c) for c in counts],
        minimum=math.nan if empty else float(distinct[0]),
        maximum=math.nan if empty else float(distinct[-1]),
        median=math.nan if empty else float(np.median(finite)),
        discrete=bool(discrete),
        sample=sample[np.isfinite(sample)],
    )


def _categorical_reference(
    name: str, role: str, values: pd.Series, missing: np.ndarray
) -> CategoricalReference:
    counts = values.value_counts(sort=True)
    top = counts.iloc[:TOP_CATEGORIES]
    other = float(counts.iloc[TOP_CATEGORIES:].sum())
    return CategoricalReference(
        name=name,
        role=role,
        rows=len(missing),
        missing=int(missing.sum()),
        categories=[str(c) for c in top.index],
        counts=[float(c) for c in top.to_numpy()] + [other],
        seen=[str(c) for c in counts.index] if len(counts) <= SEEN_CATEGORIES else None,
        singletons=int((counts == 1).sum()),
    )


def _reference_of(
    name: str, role: str, kind: str, values: Any, missing: np.ndarray, sample_rows: np.ndarray
) -> FeatureReference:
    if kind == "numeric":
        return _numeric_reference(name, role, np.asarray(values, dtype=float), missing, sample_rows)
    if kind == "categorical":
        return _categorical_reference(name, role, values, missing)
    reason = "dates move forward by nature, so only their missing values are checked"
    return SkippedReference(name, role, len(missing), int(missing.sum()), reason)


def build_reference(
    features: pd.DataFrame,
    schema: Schema,
    *,
    task: str,
    classes: list[Any] | None = None,
    threshold: float | None = None,
    scores: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    rows_rejected: int = 0,
    seed: int = 0,
) -> ReferenceProfile:
    """Summarise the conformed training rows (and the model's out-of-fold scores) for monitoring.

    Parameters
    ----------
    features:
        ``conform(train, schema).features``: the typed training rows.
    scores:
        Out-of-fold predictions for the same rows: class probabilities ``(n, k)`` or values.
    labels:
        The encoded targets of the same rows (class indices, or values).
    rows_rejected:
        Training rows set aside as unusable, to judge the share of rejects later.

    Example:
        >>> conformed = conform(train, schema, require_target=True)
        >>> ref = build_reference(conformed.features, schema, task="binary", classes=["no", "yes"])
    """
    n = len(features)
    if n == 0:
        raise DataError(
            "cannot build a monitoring reference from 0 rows; expected the training rows. "
            "Pass the conformed training features."
        )
    rng = np.random.default_rng(seed)
    sample_rows = np.sort(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False))
    refs: list[FeatureReference] = []
    for col in schema.features:
        kind, values, missing = column_values(features[col.name], col.role)
        refs.append(_reference_of(col.name, col.role.value, kind, values, missing, sample_rows))
    prediction: FeatureReference | None = None
    performance: dict[str, float] = {}
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        values = prediction_values(scores, task, classes, threshold)
        missing = np.zeros(n, dtype=bool)
        kind = "numeric" if task == "regression" else "categorical"
        prediction = _reference_of("prediction", "prediction", kind, values, missing, sample_rows)
        if labels is not None:
            performance = reference_performance(task, np.asarray(labels), scores, threshold)
    return ReferenceProfile(
        task=task,
        classes=classes,
        threshold=threshold,
        rows=n,
        rows_rejected=int(rows_rejected),
        features=refs,
        prediction=prediction,
        performance=performance,
        scores=None if scores is None else scores[sample_rows],
        labels=None if labels is None else np.asarray(labels, dtype=float)[sample_rows],
        sample_frame=features.iloc[sample_rows].reset_index(drop=True),
    )


def reference_performance(
    task: str, labels: np.ndarray, scores: np.ndarray, threshold: float | None
) -> dict[str, float]:
    """The metrics monitoring compares windows with, from out-of-fold predictions."""
    cut = 0.5 if threshold is None else threshold
    out: dict[str, float] = {"rows": float(len(labels))}
    if task == "regression":
        errors = (np.asarray(scores, dtype=float).ravel() - labels.astype(float)) ** 2
        out["rmse"] = float(np.sqrt(errors.mean()))
        out["mse_var"] = float(errors.var())
        return out
    y = labels.astype(np.int64)
    out["accuracy"] = get_metric("accuracy", task).score(y, scores, threshold=cut)
    if task == "binary":
        out["roc_auc"] = get_metric("roc_auc", task).score(y, scores)
        out["positives"] = float(y.sum())
    return out
