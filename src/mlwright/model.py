"""Model: the fitted, saveable object users hold — predict, evaluate, save, load."""

from __future__ import annotations

import copy
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlwright.artifact import read_verified, write_artifact
from mlwright.data.conform import Conformed, conform
from mlwright.data.fingerprint import fingerprint
from mlwright.data.inference import detect_task, infer_schema
from mlwright.data.profile import profile_data
from mlwright.data.schema import Role, Schema
from mlwright.data.typed import TypedRows, Values, typed_features
from mlwright.errors import (
    ArtifactError,
    BudgetExceeded,
    ConfigError,
    DataError,
    MlwrightWarning,
    NotTrainedError,
)
from mlwright.evaluation import (
    Evaluation,
    Leaderboard,
    choose_threshold,
    default_metric,
    evaluate_predictions,
    get_metric,
)
from mlwright.evaluation.explain import Explanation, shapley_values
from mlwright.monitoring import (
    CategoricalReference,
    MonitorReport,
    NumericReference,
    ReferenceProfile,
    build_reference,
    monitor,
)
from mlwright.progress import progress_bar
from mlwright.search.budget import TimeBudget
from mlwright.settings import Settings
from mlwright.tasks.tabular.compact import CompactReport, compact_predictor
from mlwright.tasks.tabular.predictor import TabularPredictor

__all__ = ["Model", "Prediction", "ScoredRows"]

# up to this many rows, predict() types plain values as the server does instead of conform
_FEW_ROWS = 512  # measured on Telco: 1.5x faster at 500 rows, 1.2x at 1,000, slower at 3,000
_COMPACT_SHARE = 0.15  # of the time limit kept for compaction when max_latency_ms is set
_CV_BOOT = 200  # bootstrap resamples behind the cross-validated estimate's intervals ...
_CV_BOOT_MIN = 50  # ... fewer, down to this, where they would take more than ...
_CV_BOOT_SHARE = 0.1  # ... this share of the time limit (on very many rows)

_VERSIONED = (
    "mlwright",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "catboost",
    "optuna",
    "pyarrow",
)


@dataclass
class Prediction:
    """Predictions for the rows that could be scored, and the rows set aside with reasons.

    ``frame`` has the input's index, a ``prediction`` column and, for classifiers, one
    ``proba_<label>`` column per class; rejected rows are absent from it and present in
    ``rejects`` (original values, ``_row`` position and ``_reason``).
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


@dataclass
class ScoredRows:
    """Labelled rows as ``Model.evaluate_scored`` measured them."""

    evaluation: Evaluation
    conformed: Conformed
    y: np.ndarray
    scores: np.ndarray


class Model:
    """A trained mlwright model.

    Create one with ``mlwright.train(...)`` or ``Model(settings).fit(df, target)``, or restore one
    with ``mlwright.load(dir)``.

    Example:
        >>> model = mlwright.train("examples/telco_churn/train.csv", target="Churn", time_limit=30)
        >>> model.predict(test_df)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    # -- training ------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, target: str, *, budget: TimeBudget | None = None) -> Model:
        """Infer the schema, set bad rows aside, train within the time limit; returns self."""
        # the search (and optuna) is for training only: loading and serving never import it
        from mlwright.tasks.tabular.trainer import TabularTrainer

        cfg = self.settings.training
        budget = budget or TimeBudget(cfg.time_limit)
        weight = self.settings.data.weight
        if weight is not None and weight == target:
            raise ConfigError(
                f"'{weight}' is both the target and the weight column; "
                "choose a different weight column or none."
            )
        features_only = df.drop(columns=[weight]) if weight in df.columns else df
        schema = infer_schema(features_only, target)
        conformed = conform(df, schema, require_target=True, weight=weight)
        if conformed.target is None or len(conformed.target) < 2:
            raise DataError(
                f"only {0 if conformed.target is None else len(conformed.target)} usable row(s) "
                f"after setting aside {len(conformed.rejects)} bad row(s); at least 2 are needed. "
                "See the rejects for the reasons."
            )
        task = cfg.task or detect_task(conformed.target)
        y, classes = _encode_target(conformed.target, task, target)
        sample_weight = _row_weights(conformed.weight, y, task, cfg.class_weight)
        metric = get_metric(cfg.metric or default_metric(task), task)
        self.profile_ = profile_data(df, target, schema=schema, seed=cfg.seed)
        trainer = TabularTrainer(
            task=task,
            n_classes=len(classes) if classes is not None else 0,
            metric=metric,
            folds=cfg.folds,
            seed=cfg.seed,
            max_trials=cfg.max_trials,
            preset=cfg.preset,
            deterministic=cfg.deterministic,
            n_jobs=max(1, os.cpu_count() or 1),
        )
        # the search leaves time for the cross-validated evaluation that follows it ...
        n_boot, evaluation_seconds = self._plan_evaluation(
            task, metric.name, y, len(classes) if classes is not None else 0, budget
        )
        search_limit = budget.time_limit - evaluation_seconds
        if self.settings.constraints.max_latency_ms is not None:
            # ... and for compaction (timing the options, refitting members)
            search_limit -= budget.time_limit * _COMPACT_SHARE
        if search_limit <= 0:
            raise BudgetExceeded(
                f"time_limit={budget.time_limit:g}s leaves no time to search: evaluating "
                f"{len(y):,} rows alone needs ~{evaluation_seconds:.1f}s. Raise the time limit "
                "(--time-limit) or train on fewer rows."
            )
        search_budget = TimeBudget(search_limit, budget.start)
        with progress_bar(self.settings.progress) as progress:
            predictor = trainer.fit(
                conformed.features, y, schema, search_budget, progress, sample_weight=sample_weight
            )
        self.schema_ = schema
        self.task_ = task
        self.classes_ = classes
        self.metric_ = metric.name
        self.compaction_: CompactReport | None = None
        limit = self.settings.constraints.max_latency_ms
        if limit is not None:
            oof = {c.name: c.oof_ for c, _ in predictor.members if c.oof_ is not None}
            predictor, self.compaction_ = compact_predictor(
                predictor,
                conformed.features,
                y,
                schema,
                max_latency_ms=limit,
                candidate_oof=oof,
                seed=cfg.seed,
                n_jobs=trainer.n_jobs,
            )
        self.predictor_ = predictor
        self._decide(y, n_boot=n_boot)
        self.reference_: ReferenceProfile | None = self._reference(conformed, y)
        self.training_rejects_ = conformed.rejects
        self.info_: dict[str, Any] = {
            "target": target,
            "rows": int(len(df)),
            "rows_used": int(len(y)),
            "rows_rejected": int(len(conformed.rejects)),
            "data_fingerprint": fingerprint(df),
            "seed": cfg.seed,
            "weighted": sample_weight is not None,
            "time_limit": budget.time_limit,
            "fit_seconds": round(budget.elapsed(), 3),
            "skipped": trainer.skipped_,
            "warnings": list(conformed.warnings) + list(self.profile_.warnings),
            "suspects": [s.__dict__ for s in self.profile_.suspects],
            "calibration": None if predictor.calibration is None else vars(predictor.calibration),
            "compaction": None if self.compaction_ is None else self.compaction_.to_dict(),
        }
        return self

    def _plan_evaluation(
        self, task: str, metric: str, y: np.ndarray, n_classes: int, budget: TimeBudget
    ) -> tuple[int, float]:
        """Bootstrap resamples for the cross-validated evaluation, and the seconds it will take.

        Its cost grows with rows and classes (about a second for 200 resamples of 20,000 binary
        rows), so it is timed here on a tenth of the resamples, with random predictions of the
        right shape, and scaled. Where 200 would take more than a tenth of the time limit, fewer
        are drawn (at least 50): on that many rows the intervals are narrow anyway.
        """
        if self.settings.training.deterministic:
            return _CV_BOOT, 0.0  # the search counts estimated work, not this machine's clock
        rng = np.random.default_rng(0)
        if task == "regression":
            pred = rng.normal(size=len(y))
        else:
            pred = rng.dirichlet(np.ones(max(2, n_classes)), size=len(y))
        trial = _CV_BOOT // 10
        start = time.perf_counter()
        evaluate_predictions(task, y, pred, primary=metric, n_boot=trial, costs=self._costs(task))
        per_boot = (time.perf_counter() - start) / trial
        n_boot = _CV_BOOT
        if per_boot * n_boot > _CV_BOOT_SHARE * budget.time_limit:
            n_boot = max(_CV_BOOT_MIN, int(_CV_BOOT_SHARE * budget.time_limit / per_boot))
        return n_boot, per_boot * n_boot

    def _decide(self, y: np.ndarray, n_boot: int = _CV_BOOT) -> None:
        """Choose the threshold and estimate the model from its out-of-fold predictions."""
        oof = self.predictor_.oof
        assert oof is not None
        self.threshold_ = None
        if self.task_ == "binary":
            self.threshold_ = choose_threshold(
                y, oof[:, 1], metric=self.metric_, costs=self._costs()
            )
        self.cv_evaluation_ = evaluate_predictions(
            self.task_,
            y,
            oof,
            primary=self.metric_,
            classes=self.classes_,
            threshold=self.threshold_,
            n_boot=n_boot,
            seed=self.settings.training.seed,
            costs=self._costs(),
        )

    def _reference(self, conformed: Conformed, y: np.ndarray) -> ReferenceProfile:
        """The monitoring reference: training rows plus out-of-fold scores (or, without them,
        the model's scores on a sample of training rows)."""
        scores, labels = self.predictor_.oof, y
        features = conformed.features
        if scores is None:
            rng = np.random.default_rng(self.settings.training.seed)
            rows = np.sort(rng.choice(len(y), size=min(len(y), 5000), replace=False))
            features, labels = features.iloc[rows], y[rows]
            scores = self.predictor_.predict(features)
        return build_reference(
            features,
            self.schema_,
            task=self.task_,
            classes=self.classes_,
            threshold=self.threshold_,
            scores=scores,
            labels=labels,
            rows_rejected=len(conformed.rejects),
            seed=self.settings.training.seed,
        )

    def compact(self, data: pd.DataFrame, *, max_latency_ms: float | None = None) -> Model:
        """A copy of this model in the cheapest form that keeps its accuracy.

        Measures the ensemble, each member alone and, when ``data`` holds the target, each member
        refitted once on all of ``data``; then keeps the best option within ``max_latency_ms``
        per row, or without a limit the fastest option not significantly worse than the best.
        ``model.compaction_`` holds the measured trade-off (``.to_rich()`` prints it).

        Parameters
        ----------
        data:
            The training rows (refits learn from them; rows without the target only time the
            options).
        max_latency_ms:
            Milliseconds to score one row that the model must meet.

        Example:
            >>> small = model.compact(train_df, max_latency_ms=5)
            >>> small.save("models/churn-small")
        """
        self._check_fitted()
        target = self.info_["target"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed = conform(data, self.schema_, require_target=target in data.columns)
        if len(conformed.features) == 0:
            raise DataError(
                "compact() got no usable rows; expected rows of the training schema. "
                "Pass the training data."
            )
        y = None
        if conformed.target is not None:
            y = _encode_known(conformed.target, self.task_, self.classes_)
        # out-of-fold predictions line up with these rows only when they are the training rows
        same_rows = fingerprint(data) == self.info_.get("data_fingerprint")
        oof = {}
        if same_rows:
            oof = {c.name: c.oof_ for c, _ in self.predictor_.members if c.oof_ is not None}
        predictor, report = compact_predictor(
            self.predictor_,
            conformed.features,
            y,
            self.schema_,
            max_latency_ms=max_latency_ms,
            candidate_oof=oof,
            seed=int(self.info_["seed"]),
            n_jobs=max(1, os.cpu_count() or 1),
        )
        small = copy.copy(self)
        small.predictor_ = predictor
        small.compaction_ = report
        small.info_ = {**self.info_, "compaction": report.to_dict()}
        if predictor.oof is not None and y is not None and same_rows:
            small._decide(y)
        return small

    # -- prediction ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "predictor_"):
            raise NotTrainedError(
                "this Model is not trained; call mlwright.train(...) or mlwright.load(dir) first."
            )

    def _typed_few(self, df: pd.DataFrame) -> TypedRows | None:
        """The features of a few rows, typed as the server types JSON values, or None where
        ``conform`` must decide.

        conform costs ~0.3 ms a column whatever the number of rows (6 ms for one Telco row);
        typing plain Python values takes microseconds, with the same result
        (``data.typed``). Taken only when every column is one the schema knows (conform warns
        about others), every feature column holds NumPy numbers or booleans, objects or text
        (not dates, categoricals or nullable numbers), and every row can be scored: a row to set
        aside goes through conform, which words the reasons and the warning.
        """
        if (
            not isinstance(df, pd.DataFrame)
            or not 0 < len(df) <= _FEW_ROWS
            or not all(isinstance(c, str) for c in df.columns)
        ):
            return None
        known = {c.name for c in self.schema_.columns}
        if df.columns.has_duplicates or not set(df.columns) <= known:
            return None
        features = self.schema_.feature_names
        if not set(features) <= set(df.columns):
            return None
        columns: dict[str, Values] = {}
        for name in features:
            column = df[name]
            plain = isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufO"
            if plain and column.dtype.kind != "O":
                columns[name] = column.to_numpy()  # numbers: a numeric feature takes them as is
            elif isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
                text = pa.array(column.array)  # Arrow parses a numeric feature's text
                chunked = isinstance(text, pa.ChunkedArray)  # as pd.concat leaves it
                columns[name] = text.combine_chunks() if chunked else text
            elif plain or isinstance(column.dtype, pd.StringDtype):
                columns[name] = column.tolist()
            else:
                return None
        try:
            typed = typed_features(columns, self.schema_, len(df))
        except (TypeError, ValueError, OverflowError):  # a value conform must judge (pd.NA)
            return None
        return None if typed.reasons else typed

    def _positions_and_raw(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the rows scored and the predictor's output for them."""
        self._check_fitted()
        typed = self._typed_few(df)
        if typed is not None:
            return typed.keep, self.predictor_.predict(typed.features)
        conformed, raw = self._raw(df, stacklevel=4)
        return np.asarray(conformed.row_positions, dtype=np.int64), raw

    def _raw(self, df: pd.DataFrame, stacklevel: int = 3) -> tuple[Conformed, np.ndarray]:
        self._check_fitted()
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame of rows to score, got {type(df).__name__}. "
                "Read files with mlwright.read_data(path) first."
            )
        conformed = conform(df, self.schema_)
        if len(conformed.rejects):
            reasons = conformed.rejects["_reason"].value_counts().head(3)
            warnings.warn(
                f"{len(conformed.rejects)} of {len(df)} row(s) could not be scored and were set "
                f"aside (most common: {'; '.join(reasons.index)}). Use Model.score() or "
                "`mlwright predict --rejects FILE` to get them with reasons.",
                MlwrightWarning,
                stacklevel=stacklevel,
            )
        if len(conformed.features) == 0:
            return conformed, np.zeros((0, len(self.classes_ or [])) if self.classes_ else 0)
        return conformed, self.predictor_.predict(conformed.features)

    def predict(self, df: pd.DataFrame) -> pd.Series:
        """One prediction per input row, in the input's order and index (NaN for set-aside rows)."""
        positions, raw = self._positions_and_raw(df)
        out = pd.Series(np.nan, index=df.index, dtype=object, name=self.info_["target"])
        out.iloc[positions] = list(self._labels(raw))  # type: ignore[call-overload]
        if self.task_ == "regression":
            return out.astype(float)
        return out

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities: one column per class, named by the label as in the training data."""
        if self.task_ == "regression":
            raise ConfigError(
                "predict_proba() is for classifiers; this model does regression. Use predict()."
            )
        positions, raw = self._positions_and_raw(df)
        assert self.classes_ is not None
        out = pd.DataFrame(np.nan, index=df.index, columns=pd.Index(self.classes_, dtype=object))
        out.iloc[positions, :] = raw
        return out

    def score(self, df: pd.DataFrame) -> Prediction:
        """Predictions plus the rows set aside, for batch scoring that loses nothing."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed, raw = self._raw(df)
        index = df.index[conformed.row_positions]
        frame = pd.DataFrame({"prediction": list(self._labels(raw))}, index=index)
        if self.task_ != "regression" and self.classes_ is not None:
            for i, label in enumerate(self.classes_):
                frame[f"proba_{label}"] = raw[:, i]
        return Prediction(frame, conformed.rejects, list(conformed.warnings))

    def score_features(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Labels and raw output (class probabilities, or values) for rows already conformed.

        The serving fast path: ``features`` is ``conform(...).features`` or equal to it.
        """
        self._check_fitted()
        raw = self.predictor_.predict(features)
        return self._labels(raw), raw

    def _labels(self, raw: np.ndarray) -> np.ndarray:
        if self.task_ == "regression":
            return raw
        assert self.classes_ is not None
        labels: np.ndarray = np.asarray(self.classes_, dtype=object)
        if self.task_ == "binary":
            threshold = 0.5 if self.threshold_ is None else self.threshold_
            picked: np.ndarray = labels[(raw[:, 1] >= threshold).astype(int)]
        else:
            picked = labels[np.argmax(raw, axis=1)]
        return picked

    # -- explanation ---------------------------------------------------------------------------
    def explain(
        self,
        df: pd.DataFrame,
        *,
        background: pd.DataFrame | None = None,
        n_permutations: int = 64,
        seed: int | None = None,
    ) -> Explanation:
        """Why each row got its prediction: Shapley values of the input columns, in the units of
        the prediction (the probability of the positive class for binary, of each class for
        multiclass, the value for regression), with ``base + values.sum(axis=1) == prediction``.

        Every learner and ensemble is explained through its calibrated output by sampling column
        orderings (see ``mlwright.evaluation.explain``); rows that cannot be scored are in
        ``.rejects``. ``background`` rows (raw, like ``df``) stand for "a typical row"; without
        them the model uses one baseline row of training medians and most frequent categories
        (dates and free text: missing), so the values are baseline Shapley values.

        Example:
            >>> explanation = model.explain(test_df.head(5))
            >>> explanation.values.round(3)        # rows x input columns
            >>> explanation.to_dict(top=5)         # the JSON of POST /explain
        """
        self._check_fitted()
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame of rows to explain, got {type(df).__name__}. "
                "Read files with mlwright.read_data(path) first."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed = conform(df, self.schema_)
            rest = None if background is None else conform(background, self.schema_).features
        if len(conformed.rejects):
            warnings.warn(
                f"{len(conformed.rejects)} of {len(df)} row(s) could not be scored and are not "
                "explained; the explanation's .rejects has them with reasons.",
                MlwrightWarning,
                stacklevel=2,
            )
        explanation = self.explain_features(
            conformed.features, background=rest, n_permutations=n_permutations, seed=seed
        )
        explanation.rejects = conformed.rejects
        return explanation

    def explain_features(
        self,
        features: pd.DataFrame,
        *,
        background: pd.DataFrame | None = None,
        n_permutations: int = 64,
        seed: int | None = None,
    ) -> Explanation:
        """``explain`` for rows already conformed (and conformed ``background`` rows)."""
        self._check_fitted()
        seed = int(self.info_["seed"]) if seed is None else seed
        reference = self._explain_background(features, background, n_permutations, seed)
        outputs, unit, pick = [str(self.info_["target"])], "value", slice(None)
        if self.task_ != "regression":
            assert self.classes_ is not None
            binary = self.task_ == "binary"
            outputs = [str(c) for c in (self.classes_[1:] if binary else self.classes_)]
            unit, pick = "probability", slice(1, 2) if binary else slice(None)

        def predict(frame: pd.DataFrame) -> np.ndarray:
            raw = self.predictor_.predict(frame)
            return raw[:, pick] if raw.ndim == 2 else raw

        phi, base, pred, errors, method = shapley_values(
            predict, features, reference, n_permutations=n_permutations, seed=seed
        )
        labels = None
        if self.task_ != "regression" and len(features):
            labels = list(self._labels(self.predictor_.predict(features)))
        return Explanation(
            phi,
            base,
            pred,
            errors,
            list(features.columns),
            outputs,
            features.index,
            method,
            unit,
            len(reference),
            inputs=features,
            labels=labels,
        )

    def _explain_background(
        self, features: pd.DataFrame, background: pd.DataFrame | None, n: int, seed: int
    ) -> pd.DataFrame:
        """Background rows: a sample of ``background``, or the training data's typical row."""
        if background is None:
            if self.reference_ is None:
                raise ArtifactError(
                    "this model has no training profile to explain against (it was saved by an "
                    "older mlwright); pass background= rows, e.g. a sample of the training data."
                )
            return _typical_row(self.reference_, self.schema_, features)
        if len(background) == 0:
            raise DataError(
                "background= has no usable rows; expected rows of the training schema. "
                "Pass a sample of the training data."
            )
        keep = min(len(background), max(1, (n + 1) // 2))  # one per antithetic pair at most
        rows = np.random.default_rng(seed).choice(len(background), size=keep, replace=False)
        return background.iloc[np.sort(rows)][list(features.columns)]

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, df: pd.DataFrame, *, n_boot: int = 1000) -> Evaluation:
        """Metrics with 95% bootstrap intervals on labelled rows ``df``."""
        scored = self.evaluate_scored(df, n_boot=n_boot)
        if len(scored.conformed.rejects):
            warnings.warn(
                f"{len(scored.conformed.rejects)} of {len(df)} evaluation row(s) were set aside "
                "(unusable values or missing target) and are not in the metrics.",
                MlwrightWarning,
                stacklevel=2,
            )
        return scored.evaluation

    def evaluate_scored(self, df: pd.DataFrame, *, n_boot: int = 1000) -> ScoredRows:
        """``evaluate`` with what it measured: the conformed rows, their encoded targets (class
        indices for classifiers) and the model's raw scores, for plots and per-group results.
        Rows set aside are in ``.conformed.rejects``."""
        self._check_fitted()
        target = self.info_["target"]
        if target not in df.columns:
            raise DataError(
                f"evaluation data has no target column '{target}'; columns are "
                f"{list(df.columns)[:20]}. Evaluate on labelled rows."
            )
        conformed = conform(df, self.schema_, require_target=True)
        if conformed.target is None or len(conformed.target) == 0:
            raise DataError("no evaluation row has both usable features and a target value.")
        raw = self.predictor_.predict(conformed.features)
        y = _encode_known(conformed.target, self.task_, self.classes_)
        evaluation = evaluate_predictions(
            self.task_,
            y,
            raw,
            primary=self.metric_,
            classes=self.classes_,
            threshold=self.threshold_,
            n_boot=n_boot,
            seed=int(self.info_["seed"]),
            costs=self._costs(),
        )
        return ScoredRows(evaluation, conformed, y, raw)

    def monitor(self, df: pd.DataFrame, *, alpha: float = 0.01) -> MonitorReport:
        """Judge a window of production rows against the training data: drift, data quality and
        performance (realized where ``df`` holds the target, estimated where it does not).

        ``report.status`` is "ok", "warning" or "alert"; ``report.reasons`` says why, and
        ``report.to_dict()`` is the JSON of ``mlwright monitor --json``. A window where nothing
        changed is reported as anything but "ok" with probability at most ``alpha``.

        Example:
            >>> report = model.monitor(last_week_df)
            >>> report.status, report.reasons
        """
        self._check_fitted()
        if self.reference_ is None:
            raise ArtifactError(
                "this model has no monitoring reference (it was saved by an older mlwright); "
                "retrain it with this version to monitor it."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed = conform(df, self.schema_)
        raw = self.predictor_.predict(conformed.features) if len(conformed.features) else None
        return monitor(
            self.reference_,
            conformed.features,
            raw,
            conformed.target,
            rows_rejected=len(conformed.rejects),
            alpha=alpha,
            seed=int(self.info_["seed"]),
        )

    def _costs(self, task: str | None = None) -> tuple[float, float] | None:
        """The (fp, fn) costs for a binary task (this model's, unless ``task`` is given)."""
        costs = self.settings.costs
        binary = (task or self.task_) == "binary"
        return (costs.fp, costs.fn) if costs is not None and binary else None

    @property
    def leaderboard(self) -> Leaderboard:
        """Every candidate tried, with its cross-validated score, fit and predict times."""
        self._check_fitted()
        return self.predictor_.leaderboard

    @property
    def schema(self) -> Schema:
        """The schema inferred from the training data."""
        self._check_fitted()
        return self.schema_

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model as a directory of data files plus a hashed manifest; no pickle."""
        self._check_fitted()

        def write(tmp: Path) -> dict[str, Any]:
            if len(self.training_rejects_):
                self.training_rejects_.astype(str).to_csv(tmp / "training_rejects.csv", index=False)
            reference = getattr(self, "reference_", None)
            if reference is not None:
                reference.write(tmp / "reference")
            return {"predictor": self.predictor_.save(tmp / "candidates")}

        manifest = {
            "task": self.task_,
            "target": self.info_["target"],
            "metric": self.metric_,
            "classes": self.classes_,
            "threshold": self.threshold_,
            "schema": self.schema_.to_dict(),
            "cv_evaluation": self.cv_evaluation_.to_dict(),
            "training": self.info_,
            "settings": self.settings.model_dump(mode="json"),
            "versions": _versions(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return write_artifact(directory, manifest, write)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Model:
        """Check every file's hash, then rebuild the model. Refuses tampered or partial folders."""
        manifest = read_verified(directory)
        root = Path(directory)
        model = cls(Settings.model_validate(manifest["settings"]))
        model.task_ = manifest["task"]
        model.metric_ = manifest["metric"]
        model.classes_ = manifest["classes"]
        model.threshold_ = manifest["threshold"]
        model.schema_ = Schema.from_dict(manifest["schema"])
        n_classes = len(model.classes_) if model.classes_ else 0
        model.predictor_ = TabularPredictor.load(
            root / "candidates", manifest["predictor"], model.task_, n_classes
        )
        model.cv_evaluation_ = Evaluation.from_dict(manifest["cv_evaluation"])
        model.info_ = manifest["training"]
        model.training_rejects_ = pd.DataFrame()
        # older artifacts have no reference; load it only when the manifest vouches for it
        files = manifest["files"]
        listed = "reference/profile.json" in files
        rows = files.get("reference/rows.parquet")  # hash-checked only when listed
        model.reference_ = (
            ReferenceProfile.read(root / "reference", rows_sha256=rows and rows["sha256"])
            if listed
            else None
        )
        return model

    def __repr__(self) -> str:
        if not hasattr(self, "predictor_"):
            return "Model(untrained)"
        return (
            f"Model(task={self.task_!r}, target={self.info_['target']!r}, "
            f"metric={self.metric_!r}, members={self.predictor_.member_names})"
        )


def _row_weights(
    column: np.ndarray | None, y: np.ndarray, task: str, class_weight: str
) -> np.ndarray | None:
    """Row weights from the weight column and/or balanced classes, scaled to mean 1."""
    weights = None if column is None else column.astype(float)
    if class_weight == "balanced" and task != "regression":
        counts = np.bincount(y.astype(np.int64))
        per_class = len(y) / (len(counts) * np.maximum(counts, 1))
        weights = per_class[y.astype(np.int64)] * (1.0 if weights is None else weights)
    if weights is None:
        return None
    if not weights.sum() > 0:
        raise DataError(
            "every usable row has weight 0; expected some positive weights. "
            "Check the weight column."
        )
    scaled: np.ndarray = weights / weights.mean()
    return scaled


def _encode_target(target: pd.Series, task: str, name: str) -> tuple[np.ndarray, list[Any] | None]:
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(target):
            raise ConfigError(
                f"task 'regression' needs a numeric target, but '{name}' holds labels such as "
                f"{list(target.unique()[:3])}. Use task='binary' or 'multiclass', "
                "or leave it unset."
            )
        return target.to_numpy(dtype=float), None
    classes = sorted(pd.unique(target).tolist(), key=lambda v: (str(type(v)), v))
    if task == "binary" and len(classes) != 2:
        raise ConfigError(
            f"task 'binary' needs exactly 2 classes in '{name}', found {len(classes)}. "
            "Use task='multiclass' or leave it unset."
        )
    if len(classes) > 1000:
        raise ConfigError(
            f"'{name}' has {len(classes)} distinct values, too many for classification. "
            "Use task='regression' if it is a quantity."
        )
    y = _encode_known(target, task, classes)
    return y, [_plain(c) for c in classes]


def _encode_known(target: pd.Series, task: str, classes: list[Any] | None) -> np.ndarray:
    if task == "regression" or classes is None:
        return target.to_numpy(dtype=float)
    lookup = {str(c): i for i, c in enumerate(classes)}
    lookup.update({c: i for i, c in enumerate(classes)})  # typed labels first, then their text
    unknown = sorted({str(v) for v in target if v not in lookup and str(v) not in lookup})
    if unknown:
        raise DataError(
            f"target has label(s) {unknown[:5]} that the model never saw in training "
            f"(known: {classes[:10]}). Evaluate only on rows with known labels."
        )
    return np.array([lookup[v] if v in lookup else lookup[str(v)] for v in target], np.int64)


def _typical_row(
    reference: ReferenceProfile, schema: Schema, features: pd.DataFrame
) -> pd.DataFrame:
    """One row of training medians and most frequent categories (dates and text: missing)."""
    values: dict[str, Any] = {}
    for col in schema.features:
        ref = reference.feature(col.name)
        value: Any = None
        if isinstance(ref, NumericReference) and col.role is Role.NUMERIC:
            value = ref.median
        elif isinstance(ref, CategoricalReference) and ref.categories:
            value = ref.categories[0]
            if col.role is Role.BOOLEAN:
                value = 1.0 if value == "true" else 0.0
        values[col.name] = [value]
    row = pd.DataFrame(values, columns=features.columns)
    return row.astype(features.dtypes.to_dict())


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        out[name] = "not installed"
        for distribution in (name, f"{name}-cpu"):  # xgboost ships as xgboost or xgboost-cpu
            try:
                out[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return out
