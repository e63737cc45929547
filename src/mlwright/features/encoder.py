"""Encoders that turn a conformed (typed) feature frame into the matrix a learner needs.

Two kinds, fitted inside each cross-validation fold so that no statistic of a validation fold
leaks into training:

- ``"tree"``: a dense float matrix; categories become integer codes (declared categorical to the
  learner), dates become calendar parts, free text becomes length and word counts.
- ``"linear"``: a sparse matrix; numbers imputed, log-scaled when skewed and standardised, with
  missing indicators; categories one-hot; free text as TF-IDF over hashed word n-grams.
- ``"dense"``: as ``"linear"`` but a dense array, fewer one-hot columns, and free text reduced to
  scaled length and word counts (for distance-based learners).

An encoder's state is plain JSON plus NumPy arrays, so it saves without pickle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from mlwright.data.schema import Role, Schema
from mlwright.data.values import spread

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["EncoderKind", "FeatureEncoder"]

EncoderKind = Literal["tree", "linear", "dense"]

_MAX_CATEGORIES = {"tree": 1000, "linear": 200, "dense": 30}
_MIN_CATEGORY_COUNT = {"tree": 2, "linear": 5, "dense": 10}
_TEXT_FEATURES = 2**18


def _hasher() -> Any:
    # stateless: its "fit" stores nothing, so only the IDF weights need saving
    from sklearn.feature_extraction.text import HashingVectorizer  # only for text columns

    return HashingVectorizer(
        n_features=_TEXT_FEATURES,
        ngram_range=(1, 2),
        alternate_sign=False,
        norm=None,
        lowercase=True,
    )


@dataclass
class FeatureEncoder:
    """Fit on the training rows of a fold, then transform any rows of the same schema."""

    kind: EncoderKind
    columns: list[dict[str, Any]] = field(default_factory=list)
    idf: dict[str, np.ndarray] = field(default_factory=dict)
    feature_names_: list[str] = field(default_factory=list)
    categorical_indices_: list[int] = field(default_factory=list)
    _lookups: dict[str, dict[str, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, schema: Schema) -> FeatureEncoder:
        """Learn per-column statistics from ``X`` (a conformed feature frame)."""
        self.columns = []
        self.idf = {}
        self._lookups = {}
        for col in schema.features:
            s = X[col.name]
            spec: dict[str, Any] = {"name": col.name, "role": col.role.value}
            if col.role in (Role.CATEGORICAL,):
                spec["categories"] = self._categories(s)
            elif col.role is Role.DATETIME:
                spec["parts"] = self._date_parts(s)
                if self.kind != "tree":
                    spec["stats"] = [
                        self._numeric_stats(self._date_part(s, part)) for part in spec["parts"]
                    ]
            elif col.role is Role.TEXT and self.kind == "dense":
                chars, words = _text_counts(s)
                spec["stats"] = [self._numeric_stats(chars), self._numeric_stats(words)]
            elif col.role is Role.TEXT and self.kind == "linear":
                counts = _hasher().transform(s.fillna("").astype(str).to_numpy())
                df = np.bincount(counts.indices, minlength=_TEXT_FEATURES)
                self.idf[col.name] = (np.log((1 + len(s)) / (1 + df)) + 1).astype(np.float32)
            elif col.role in (Role.NUMERIC, Role.BOOLEAN) and self.kind != "tree":
                spec["stats"] = self._numeric_stats(s.to_numpy(dtype=float))
            self.columns.append(spec)
        self._name_features()
        return self

    def _categories(self, s: pd.Series) -> list[str]:
        counts = s.dropna().astype(str).value_counts()
        counts = counts[counts >= _MIN_CATEGORY_COUNT[self.kind]]
        return [str(v) for v in counts.index[: _MAX_CATEGORIES[self.kind]]]

    @staticmethod
    def _date_parts(s: pd.Series) -> list[str]:
        dt = pd.to_datetime(s)
        parts = ["epoch_days", "year", "month", "day", "day_of_week", "day_of_year"]
        if bool((dt.dt.hour.fillna(0) != 0).any()):
            parts.append("hour")
        return parts

    @staticmethod
    def _date_part(s: pd.Series, part: str) -> np.ndarray:
        dt = pd.to_datetime(s)
        if part == "epoch_days":
            values = (dt - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
        else:
            values = getattr(dt.dt, part)
        return np.asarray(values, dtype=float)

    @staticmethod
    def _numeric_stats(values: np.ndarray) -> dict[str, Any]:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return {"median": 0.0, "log": False, "mean": 0.0, "std": 1.0, "missing": False}
        median = float(np.median(finite))
        skewed = bool(finite.min() >= 0 and finite.size > 10 and _skew(finite) > 2.0)
        scaled = np.log1p(finite) if skewed else finite
        std = float(scaled.std())
        return {
            "median": median,
            "log": skewed,
            "mean": float(scaled.mean()),
            "std": std if std > 1e-12 else 1.0,
            "missing": bool(finite.size < values.size),
        }

    def _name_features(self) -> None:
        names: list[str] = []
        cats: list[int] = []
        for spec in self.columns:
            name, role = spec["name"], spec["role"]
            if self.kind == "tree":
                if role == Role.CATEGORICAL:
                    cats.append(len(names))
                    names.append(name)
                elif role == Role.DATETIME:
                    names += [f"{name}.{p}" for p in spec["parts"]]
                elif role == Role.TEXT:
                    names += [f"{name}.chars", f"{name}.words"]
                else:
                    names.append(name)
            else:
                if role == Role.CATEGORICAL:
                    names += [f"{name}={c}" for c in spec["categories"]]
                    names += [f"{name}=<other>", f"{name}=<missing>"]
                elif role == Role.DATETIME:
                    for p, st in zip(spec["parts"], spec["stats"], strict=True):
                        names.append(f"{name}.{p}")
                        if st["missing"]:
                            names.append(f"{name}.{p}=<missing>")
                elif role == Role.TEXT and self.kind == "dense":
                    names += [f"{name}.chars", f"{name}.words"]
                elif role == Role.TEXT:
                    names += [f"{name}#{i}" for i in range(_TEXT_FEATURES)]
                else:
                    names.append(name)
                    if spec["stats"]["missing"]:
                        names.append(f"{name}=<missing>")
        self.feature_names_ = names
        self.categorical_indices_ = cats

    # -- transforming ------------------------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> np.ndarray | sp.csr_matrix:
        """Encode rows; unseen categories and missing values are handled, never errors."""
        if self.kind == "tree":
            return self._transform_tree(X)
        if self.kind == "dense":
            return np.asarray(self._transform_linear(X).toarray())
        return self._transform_linear(X)

    def _lookup(self, spec: dict[str, Any]) -> dict[str, int]:
        """Category → code for a categorical column, built once per fitted encoder."""
        key = spec["name"]
        found = self._lookups.get(key)
        if found is None:
            found = {c: i for i, c in enumerate(spec["categories"])}
            self._lookups[key] = found
        return found

    def _codes(self, s: pd.Series, spec: dict[str, Any]) -> np.ndarray:
        """Float codes of a categorical column: known categories 0..k-1, others k, missing NaN."""
        lookup = self._lookup(spec)
        other = float(len(spec["categories"]))
        if len(s) > 16:  # look up each distinct value once
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            per_value = np.fromiter(
                (lookup.get(v if isinstance(v, str) else str(v), other) for v in uniques.tolist()),
                dtype=np.float64,
                count=len(uniques),
            )
            return spread(per_value, codes, np.nan)  # missing (code -1): NaN
        values = s.to_numpy(dtype=object)
        missing = pd.isna(values)
        return np.fromiter(
            (
                np.nan if gone else lookup.get(v if isinstance(v, str) else str(v), other)
                for v, gone in zip(values, missing, strict=True)
            ),
            dtype=np.float64,
            count=len(values),
        )

    def _transform_tree(self, X: pd.DataFrame) -> np.ndarray:
        n = len(X)
        out = np.empty((n, len(self.feature_names_)), dtype=np.float64)
        at = 0
        for spec in self.columns:
            s = X[spec["name"]]
            role = spec["role"]
            if role == Role.CATEGORICAL:
                # unseen/rare categories share the code after the known ones; missing stays NaN
                out[:, at] = self._codes(s, spec)
                at += 1
            elif role == Role.DATETIME:
                for p in spec["parts"]:
                    out[:, at] = self._date_part(s, p)
                    at += 1
            elif role == Role.TEXT:
                chars, words = _text_counts(s)
                out[:, at], out[:, at + 1] = chars, words
                at += 2
            else:
                out[:, at] = s.to_numpy(dtype=float)
                at += 1
        out[~np.isfinite(out)] = np.nan
        return out

    def _transform_linear(self, X: pd.DataFrame) -> sp.csr_matrix:
        import scipy.sparse as sp  # here only: a server of tree models never needs SciPy

        # every block is collected as (row, column, value) triplets, then one CSR is built
        n = len(X)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        at = 0
        row_ids = np.arange(n)

        def dense(block: np.ndarray) -> None:
            nonlocal at
            width = block.shape[1]
            rows.append(np.repeat(row_ids, width))
            cols.append(np.tile(np.arange(at, at + width), n))
            vals.append(block.ravel())
            at += width

        for spec in self.columns:
            s = X[spec["name"]]
            role = spec["role"]
            if role == Role.CATEGORICAL:
                cats = spec["categories"]
                codes = self._codes(s, spec)
                col = np.where(np.isnan(codes), len(cats) + 1, codes).astype(np.int64)
                rows.append(row_ids)
                cols.append(col + at)
                vals.append(np.ones(n))
                at += len(cats) + 2
            elif role == Role.DATETIME:
                for p, st in zip(spec["parts"], spec["stats"], strict=True):
                    dense(_scale(self._date_part(s, p), st))
            elif role == Role.TEXT and self.kind == "dense":
                for values, st in zip(_text_counts(s), spec["stats"], strict=True):
                    dense(_scale(values, st))
            elif role == Role.TEXT:
                counts = _hasher().transform(s.fillna("").astype(str).to_numpy())
                tfidf = counts.multiply(self.idf[spec["name"]]).tocsr()
                norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
                norms[norms == 0] = 1.0
                block = (sp.diags(1.0 / norms) @ tfidf).tocoo()
                rows.append(block.row.astype(np.int64))
                cols.append(block.col.astype(np.int64) + at)
                vals.append(block.data.astype(np.float64))
                at += _TEXT_FEATURES
            else:
                dense(_scale(s.to_numpy(dtype=float), spec["stats"]))
        if not rows:
            return sp.csr_matrix((n, 0))
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, at)
        )

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``encoder.json`` (and ``idf_<i>.npy`` for text columns) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        text_files = {}
        for i, (name, weights) in enumerate(sorted(self.idf.items())):
            fname = f"idf_{i}.npy"
            np.save(directory / fname, weights, allow_pickle=False)
            text_files[name] = fname
        state = {"kind": self.kind, "columns": self.columns, "idf_files": text_files}
        (directory / "encoder.json").write_text(json.dumps(state, indent=1), encoding="utf-8")

    def state_digest(self) -> str:
        """SHA-256 of the fitted state: equal digests mean identical transforms."""
        digest = hashlib.sha256(json.dumps([self.kind, self.columns], sort_keys=True).encode())
        for name in sorted(self.idf):
            digest.update(name.encode())
            digest.update(self.idf[name].tobytes())
        return digest.hexdigest()

    @classmethod
    def load(cls, directory: Path) -> FeatureEncoder:
        """Inverse of ``save``."""
        state = json.loads((directory / "encoder.json").read_text(encoding="utf-8"))
        enc = cls(kind=state["kind"], columns=state["columns"])
        enc.idf = {
            name: np.load(directory / fname, allow_pickle=False)
            for name, fname in state["idf_files"].items()
        }
        enc._name_features()
        return enc


def _text_counts(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Characters and words per value of a text column."""
    text = s.fillna("").astype(str)
    words = text.str.count(r"\S+")
    return text.str.len().to_numpy(float), words.to_numpy(float)


def _scale(values: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    missing = ~np.isfinite(values)
    filled = np.where(missing, stats["median"], values)
    if stats["log"]:
        filled = np.log1p(np.clip(filled, 0, None))
    scaled = np.clip((filled - stats["mean"]) / stats["std"], -10, 10)
    cols = [scaled]
    if stats["missing"]:
        cols.append(missing.astype(float))
    return np.column_stack(cols)


def _skew(x: np.ndarray) -> float:
    std = x.std()
    if std == 0:
        return 0.0
    return float(np.mean(((x - x.mean()) / std) ** 3))
