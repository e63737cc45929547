"""A bagged candidate: one learner configuration fitted once per cross-validation fold (or,
refitted for serving, once on all rows)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlwright.data.schema import Schema
from mlwright.features.encoder import EncoderKind, FeatureEncoder
from mlwright.models.base import Learner, Matrix, TaskName
from mlwright.models.catalog import get_learner

__all__ = ["BaggedCandidate"]


@dataclass
class BaggedCandidate:
    """Fold models of one configuration; predictions are their mean.

    ``oof_`` holds the out-of-fold predictions every score and ensemble weight is based on.
    ``refit`` marks a candidate refitted once on all rows (``refitted``): one model instead of
    one per fold, scored by the out-of-fold predictions of the folds it replaces.
    """

    name: str
    learner: str
    params: dict[str, Any]
    folds: list[tuple[FeatureEncoder, Learner]] = field(default_factory=list)
    oof_: np.ndarray | None = None
    score_: float = float("nan")
    fit_time_: float = 0.0
    predict_time_per_1k_: float = 0.0
    refit: bool = False

    def refitted(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        schema: Schema,
        *,
        seed: int,
        n_jobs: int,
        encoders: dict[EncoderKind, FeatureEncoder] | None = None,
        sample_weight: np.ndarray | None = None,
        deadline: float | None = None,
    ) -> BaggedCandidate:
        """This configuration fitted once on all rows, with the rounds its folds settled on.

        The folds' out-of-fold predictions and score carry over as the estimate (the refit sees
        more rows, so it is rarely worse). ``encoders`` (by kind) lets the refits of one ensemble
        share one encoder per kind, so that prediction encodes each row once per kind.
        """
        start = time.monotonic()
        encoders = {} if encoders is None else encoders
        kind = self.folds[0][0].kind
        if kind not in encoders:
            encoders[kind] = FeatureEncoder(kind).fit(X, schema)
        encoder = encoders[kind]
        task, n_classes = self.folds[0][1].task, self.folds[0][1].n_classes
        learner = get_learner(self.learner)(task, n_classes, dict(self.params), seed, n_jobs)
        learner.fit(
            encoder.transform(X),
            y,
            categorical=encoder.categorical_indices_,
            deadline=deadline,
            sample_weight=sample_weight,
        )
        out = BaggedCandidate(self.name, self.learner, dict(self.params), [(encoder, learner)])
        out.refit = True
        out.oof_ = self.oof_
        out.score_ = self.score_
        out.predict_time_per_1k_ = out.time_predict(X)
        out.fit_time_ = self.fit_time_ + time.monotonic() - start
        return out

    def time_predict(self, X: pd.DataFrame) -> float:
        """Milliseconds per 1,000 rows to predict (timed on up to 1,000 rows of ``X``), for a
        candidate fitted on all rows, whose timing no fold measured."""
        sample = X.iloc[: min(len(X), 1000)]
        t0 = time.perf_counter()
        self.predict(sample)
        return (time.perf_counter() - t0) / max(1, len(sample)) * 1e6

    def predict(self, X: pd.DataFrame, encoded: dict[int, Matrix] | None = None) -> np.ndarray:
        """Mean of the fold models' predictions on a conformed feature frame.

        Each fold has its own encoder (statistics of its own training rows); candidates that
        share an encoder object share its output through ``encoded`` (keyed by ``id``).
        """
        encoded = {} if encoded is None else encoded
        total: np.ndarray | None = None
        for encoder, learner in self.folds:
            key = id(encoder)
            if key not in encoded:
                encoded[key] = encoder.transform(X)
            pred = learner.predict(encoded[key])
            total = pred if total is None else total + pred
        if total is None:
            raise RuntimeError(f"candidate {self.name} has no fitted folds")
        return total / len(self.folds)

    def save(self, directory: Path) -> None:
        """Write every fold's encoder and learner as data files, plus ``candidate.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for i, (encoder, learner) in enumerate(self.folds):
            encoder.save(directory / f"fold{i}" / "encoder")
            learner.save(directory / f"fold{i}" / "learner")
        meta = {
            "name": self.name,
            "learner": self.learner,
            "params": self.params,
            "n_folds": len(self.folds),
            "score": _json_float(self.score_),
            "fit_time": self.fit_time_,
            "predict_time_per_1k": self.predict_time_per_1k_,
            "refit": self.refit,
        }
        (directory / "candidate.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> BaggedCandidate:
        """Inverse of ``save``; the learners may use every core for large batches."""
        meta = json.loads((directory / "candidate.json").read_text(encoding="utf-8"))
        learner_cls = get_learner(meta["learner"])
        folds = [
            (
                FeatureEncoder.load(directory / f"fold{i}" / "encoder"),
                learner_cls.load(directory / f"fold{i}" / "learner", task, n_classes),
            )
            for i in range(meta["n_folds"])
        ]
        for _, learner in folds:
            learner.n_jobs = max(1, os.cpu_count() or 1)
        cand = cls(meta["name"], meta["learner"], meta["params"], folds)
        cand.score_ = float("nan") if meta["score"] is None else meta["score"]
        cand.fit_time_ = meta["fit_time"]
        cand.predict_time_per_1k_ = meta["predict_time_per_1k"]
        cand.refit = bool(meta.get("refit", False))
        return cand


def _json_float(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)
