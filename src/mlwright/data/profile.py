"""Data-quality profile: roles, missing values, cardinality, messy values and leakage suspects."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlwright.data.conform import Converted, conform_target, convert_column
from mlwright.data.inference import detect_task, infer_schema
from mlwright.data.schema import ColumnSchema, Role, Schema
from mlwright.data.values import distinct_texts, is_text_dtype
from mlwright.errors import DataError

__all__ = ["LEAKAGE_SCORE", "Profile", "Suspect", "profile_data"]

LEAKAGE_SCORE = 0.98  # single-column ROC AUC (classification) or R² (regression) that is suspect
_SAMPLE_ROWS = 20_000
_FOLDS = 3
_BINS = 64
_SMOOTHING = 2.0


@dataclass
class Suspect:
    """A column that deserves a look before training: a likely leak or an identifier."""

    column: str
    kind: str  # "leakage" | "identifier"
    detail: str


@dataclass
class Profile:
    """What the data looks like, column by column, and what looks wrong."""

    rows: int
    target: str
    task: str
    schema: Schema
    columns: list[dict[str, Any]]
    suspects: list[Suspect]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rows": int(self.rows),
            "target": self.target,
            "task": self.task,
            "schema": self.schema.to_dict(),
            "columns": [_plain(c) for c in self.columns],
            "suspects": [asdict(s) for s in self.suspects],
            "warnings": list(self.warnings),
        }

    def to_rich(self) -> RenderableType:
        """Tables of columns and suspects, then the warnings, for a Rich console."""
        title = f"{self.rows} rows, target '{self.target}' ({self.task})"
        table = Table(title=title, title_justify="left")
        for header in ("column", "role", "missing", "unique", "summary", "notes"):
            table.add_column(header, overflow="fold")
        for col in self.columns:
            table.add_row(
                col["name"],
                col["role"],
                f"{col['missing_fraction']:.1%}" if col["missing"] else "",
                str(col["n_unique"]),
                _summary(col),
                "; ".join([*([col["reason"]] if col.get("reason") else []), *col["notes"]]),
            )
        parts: list[RenderableType] = [table]
        if self.suspects:
            suspects = Table(title="suspects", title_justify="left")
            for header in ("column", "kind", "detail"):
                suspects.add_column(header, overflow="fold")
            for s in self.suspects:
                suspects.add_row(s.column, s.kind, s.detail)
            parts.append(suspects)
        for sentence in self.warnings:
            parts.append(Text(f"warning: {sentence}", style="yellow"))
        return Group(*parts)


def _summary(col: dict[str, Any]) -> str:
    if "mean" in col and col["mean"] is not None:
        return f"{col['min']:.4g} .. {col['max']:.4g}, mean {col['mean']:.4g}"
    if col.get("top"):
        return ", ".join(f"{t['value']} ({t['count']})" for t in col["top"][:3])
    if col.get("min") is not None:
        return f"{col['min']} .. {col['max']}"
    return ""


def _plain(value: Any) -> Any:
    """Numpy scalars and containers as plain Python (NaN as None) so json.dumps works."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def profile_data(
    df: pd.DataFrame, target: str, *, schema: Schema | None = None, seed: int = 0
) -> Profile:
    """Profile ``df``: each column's role and quality, leakage suspects and warnings.

    Example:
        >>> profile_data(df, "Churn").to_dict()["suspects"]
        [{'column': 'customerID', 'kind': 'identifier', 'detail': 'the name looks like ...'}]
    """
    schema = schema if schema is not None else infer_schema(df, target)
    names = [str(c) for c in df.columns]
    if target not in names:
        raise DataError(
            f"target column '{target}' not found; columns are {names[:30]}. "
            "Pass target= one of these."
        )
    position = {name: i for i, name in enumerate(names)}
    y = conform_target(df.iloc[:, position[target]], schema[target])
    usable = np.asarray(y.notna().to_numpy(), dtype=bool)
    task = detect_task(y[usable]) if usable.any() else "binary"
    columns: list[dict[str, Any]] = []
    converted: dict[str, Converted] = {}
    notes: list[str] = []
    for col in schema.columns:
        if col.name not in position:
            continue
        raw = df.iloc[:, position[col.name]]
        if col.role is Role.TARGET:
            columns.append(_describe_target(raw, y, col))
            continue
        conv = convert_column(raw, col)
        if col.role.is_feature:
            converted[col.name] = conv
        info, column_warnings = _describe_column(raw, conv, col)
        columns.append(info)
        notes.extend(column_warnings)
    suspects = [
        Suspect(c.name, "identifier", c.reason or "looks like an identifier")
        for c in schema.columns
        if c.role is Role.IDENTIFIER
    ]
    suspects.extend(_leakage_suspects(converted, schema, y, usable, task, seed))
    if not usable.all():
        notes.append(
            f"{int((~usable).sum())} row(s) have no usable target value and are set aside "
            "for training."
        )
    return Profile(len(df), target, task, schema, columns, suspects, notes)


def _base_info(raw: pd.Series, col: ColumnSchema, missing: int) -> dict[str, Any]:
    return {
        "name": col.name,
        "role": col.role.value,
        "dtype": str(raw.dtype),
        "parse": col.parse,
        "missing": int(missing),
        "missing_fraction": round(missing / max(len(raw), 1), 6),
        "n_unique": int(col.n_unique),
        "reason": col.reason,
        "notes": [],
    }


def _describe_target(raw: pd.Series, y: pd.Series, col: ColumnSchema) -> dict[str, Any]:
    info = _base_info(raw, col, int(y.isna().sum()))
    _add_summary(info, y, col)
    return info


def _top(values: pd.Series) -> list[dict[str, Any]]:
    counts = values.value_counts(dropna=True).head(5)
    return [{"value": str(k), "count": int(v)} for k, v in counts.items()]


def _add_summary(info: dict[str, Any], values: pd.Series, col: ColumnSchema) -> None:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        present = values.dropna()
        info["min"] = present.min().isoformat() if len(present) else None
        info["max"] = present.max().isoformat() if len(present) else None
    elif pd.api.types.is_numeric_dtype(values.dtype) and col.role is not Role.BOOLEAN:
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = array[np.isfinite(array)]
        has = len(finite) > 0
        info["min"] = float(finite.min()) if has else None
        info["max"] = float(finite.max()) if has else None
        info["mean"] = float(finite.mean()) if has else None
        info["std"] = float(finite.std(ddof=1)) if len(finite) > 1 else None
        if col.role is Role.TARGET and col.n_unique <= 20:
            info["top"] = _top(values)
    elif col.role is not Role.TEXT:
        info["top"] = _top(values)


def _describe_column(
    raw: pd.Series, conv: Converted, col: ColumnSchema
) -> tuple[dict[str, Any], list[str]]:
    """The per-column profile entry and the warnings it raises."""
    info = _base_info(raw, col, int(conv.missing.sum()))
    if col.role in (Role.IDENTIFIER, Role.CONSTANT):
        return info, []
    _add_summary(info, conv.values.where(~conv.failed), col)
    notes: list[str] = info["notes"]
    found: list[str] = []
    text = is_text_dtype(raw)
    if text and col.parse == "number":
        notes.append("numbers stored as text")
    if text and col.parse == "datetime":
        notes.append("dates as text")
        if col.datetime_format is None and _mixed_dates(raw, conv):
            notes.append("dates in mixed formats")
            found.append(f"column '{col.name}' holds dates in mixed formats; check how they read.")
    blanks = conv.markers.get("", 0)
    if blanks:
        notes.append(f"{blanks} blank value{'s' if blanks != 1 else ''}")
    others = {k: v for k, v in conv.markers.items() if k != ""}
    for spelling, count in sorted(others.items(), key=lambda kv: -kv[1])[:3]:
        notes.append(f"{count} value{'s' if count != 1 else ''} written as '{spelling}'")
    if conv.failed.any():
        numbers = conv.values.to_numpy() if col.parse == "number" else None
        infinite = np.isinf(numbers.astype(np.float64)) if numbers is not None else None
        n_inf = int(infinite.sum()) if infinite is not None else 0
        n_bad = int(conv.failed.sum()) - n_inf
        if n_inf:
            notes.append(f"{n_inf} infinite value{'s' if n_inf != 1 else ''}")
            found.append(
                f"column '{col.name}' has {n_inf} infinite value(s); those rows are set aside. "
                "Replace them with real numbers or blanks to use the rows."
            )
        if n_bad:
            example = str(raw[conv.failed & ~(infinite if infinite is not None else False)].iloc[0])
            notes.append(f"{n_bad} value(s) that {conv.problem}, e.g. '{example.strip()[:40]}'")
            found.append(
                f"column '{col.name}' has {n_bad} value(s) that {conv.problem} (e.g. "
                f"'{example.strip()[:40]}'); those rows are set aside. Fix or blank them."
            )
    return info, found


def _mixed_dates(raw: pd.Series, conv: Converted) -> bool:
    """True when text dates are not all ISO 8601."""
    texts = distinct_texts(raw[~conv.missing & ~conv.failed]).texts
    if len(texts) == 0:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601", errors="coerce")
    return bool(iso.isna().any())


# -- leakage ------------------------------------------------------------------------------------
def _as_float(values: pd.Series) -> np.ndarray | None:
    """Numbers (dates as nanoseconds) with non-finite values as NaN; None for categories."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        x = values.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        x[values.isna().to_numpy()] = np.nan
        return x
    if pd.api.types.is_numeric_dtype(values.dtype):
        x = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isfinite(x), x, np.nan)
    return None


def _bins(values: pd.Series) -> np.ndarray:
    """Integer bucket per value: distinct values or quantile bins; missing values get their own."""
    x = _as_float(values)
    if x is not None:
        finite = np.isfinite(x)
        distinct = np.unique(x[finite])
        if len(distinct) <= _BINS:
            codes = np.searchsorted(distinct, x)
        else:
            edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, _BINS + 1)[1:-1]))
            codes = np.searchsorted(edges, x, side="right")
        top = int(codes[finite].max()) + 1 if finite.any() else 0
        return np.where(finite, codes, top).astype(np.int64)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    return np.where(codes < 0, codes.max() + 1, codes)


def _folds(labels: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number per row, stratified by ``labels`` when given."""
    order = rng.permutation(n)
    if labels is not None:
        order = order[np.argsort(labels[order], kind="stable")]
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) % _FOLDS
    return folds


def _oof_classification(bins: np.ndarray, y: np.ndarray, k: int, folds: np.ndarray) -> np.ndarray:
    n_bins = int(bins.max()) + 1
    out = np.zeros((len(y), k))
    for f in range(_FOLDS):
        train, valid = folds != f, folds == f
        table = np.bincount(bins[train] * k + y[train], minlength=n_bins * k).reshape(n_bins, k)
        prior = np.bincount(y[train], minlength=k) / max(int(train.sum()), 1)
        proba = (table + _SMOOTHING * prior) / (table.sum(axis=1, keepdims=True) + _SMOOTHING)
        out[valid] = proba[bins[valid]]
    return out


def _oof_regression(
    bins: np.ndarray, y: np.ndarray, folds: np.ndarray, x: np.ndarray | None
) -> np.ndarray:
    """Out-of-fold bucket means; with ``x``, a line per bucket (piecewise linear in ``x``)."""
    n_bins = int(bins.max()) + 1
    out = np.zeros(len(y))
    for f in range(_FOLDS):
        train, valid = folds != f, folds == f
        b, yt = bins[train], y[train]
        counts = np.bincount(b, minlength=n_bins).astype(np.float64)
        mean = yt.mean()
        y_bar = (np.bincount(b, weights=yt, minlength=n_bins) + _SMOOTHING * mean) / (
            counts + _SMOOTHING
        )
        if x is None:
            out[valid] = y_bar[bins[valid]]
            continue
        xt = np.nan_to_num(x[train])
        xv = np.nan_to_num(x[valid])
        safe = np.maximum(counts, 1)
        x_bar = np.bincount(b, weights=xt, minlength=n_bins) / safe
        y_raw = np.bincount(b, weights=yt, minlength=n_bins) / safe
        dx = xt - x_bar[b]
        cxx = np.bincount(b, weights=dx * dx, minlength=n_bins)
        cxy = np.bincount(b, weights=dx * (yt - y_raw[b]), minlength=n_bins)
        var = float(((xt - xt.mean()) ** 2).sum())
        slope_all = float(((xt - xt.mean()) * (yt - mean)).sum()) / var if var > 0 else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ols = np.where(cxx > 0, cxy / cxx, slope_all)
        # few rows in a bucket: lean on the slope of the whole column
        slope = (ols * counts + _SMOOTHING * slope_all) / (counts + _SMOOTHING)
        bv = bins[valid]
        seen = counts[bv] > 0
        line = y_raw[bv] + slope[bv] * (xv - x_bar[bv])
        out[valid] = np.where(seen, line, mean + slope_all * (xv - xt.mean()))
    return out


def _score(
    bins: np.ndarray, y: np.ndarray, task: str, k: int, folds: np.ndarray, x: np.ndarray | None
) -> float:
    """Cross-validated ROC AUC (classification) or R² (regression) of one bucketed column."""
    from sklearn.metrics import roc_auc_score  # profiling only: serving never imports it

    if task == "regression":
        pred = _oof_regression(bins, y, folds, x)
        total = float(((y - y.mean()) ** 2).sum())
        return 1.0 - float(((y - pred) ** 2).sum()) / total if total > 0 else 0.0
    proba = _oof_classification(bins, y.astype(np.int64), k, folds)
    if k == 2:
        return float(roc_auc_score(y == 1, proba[:, 1]))
    # a near-perfect predictor is accurate; skip the per-class AUCs for the rest
    if float((proba.argmax(axis=1) == y).mean()) < 0.9:
        return 0.5
    aucs = [
        float(roc_auc_score(y == c, proba[:, c])) for c in range(k) if 0 < (y == c).sum() < len(y)
    ]
    return float(np.mean(aucs)) if aucs else 0.5


def _leakage_suspects(
    converted: dict[str, Converted],
    schema: Schema,
    y: pd.Series,
    usable: np.ndarray,
    task: str,
    seed: int,
) -> list[Suspect]:
    """Features that alone predict the target almost perfectly in cross-validation."""
    rows = np.flatnonzero(usable)
    if len(rows) < 3 * _FOLDS:
        return []
    rng = np.random.default_rng(seed)
    if len(rows) > _SAMPLE_ROWS:
        rows = np.sort(rng.choice(rows, _SAMPLE_ROWS, replace=False))
    target = y.iloc[rows]
    if task == "regression":
        labels = None
        values = target.to_numpy(dtype=np.float64)
        k = 0
    else:
        codes, classes = pd.factorize(target)
        values = np.asarray(codes, dtype=np.int64)
        labels, k = values, len(classes)
        if k < 2:
            return []
    folds = _folds(labels, len(rows), rng)
    metric = "R²" if task == "regression" else "ROC AUC"
    out = []
    for col in schema.features:
        if col.role is Role.TEXT or col.name not in converted:
            continue
        column = converted[col.name].values.iloc[rows]
        bins = _bins(column)
        if len(np.unique(bins)) < 2:
            continue
        x = _as_float(column) if task == "regression" else None
        score = _score(bins, values, task, k, folds, x)
        if score >= LEAKAGE_SCORE:
            out.append(
                Suspect(
                    col.name,
                    "leakage",
                    f"'{col.name}' alone gives {metric} {score:.3f} in cross-validation; "
                    "check that it is known at prediction time",
                )
            )
    return out
