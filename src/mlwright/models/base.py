"""The learner contract: what every algorithm wrapper in the catalog provides.

A learner is configured by ``params`` (a plain dict of JSON values), fitted on an encoded matrix,
and predicts probabilities of shape ``(n, n_classes)`` for classification or values of shape
``(n,)`` for regression. It saves itself as data files (no pickle) and loads back from them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeAlias

import numpy as np

from mlwright.search.space import SearchSpace

__all__ = [
    "PLATEAU_WINDOW",
    "SMALL_BATCH",
    "Learner",
    "Matrix",
    "TaskName",
    "hidden_sklearn",
    "plateaued",
]

SMALL_BATCH = 10_000  # rows below which a learner predicts on one thread, by default
# rows x trees below which a tree ensemble predicts on one thread (~5 ms of LightGBM's time)
SMALL_TREE_WORK = 100_000

TaskName = Literal["binary", "multiclass", "regression"]


@contextlib.contextmanager
def hidden_sklearn() -> Iterator[None]:
    """Import a boosting library without letting it import scikit-learn.

    LightGBM, XGBoost and CatBoost import scikit-learn, when installed, only to offer their own
    scikit-learn wrapper classes, which mlwright does not use. A serving process would pay
    about 55 MB and half a second for them; hiding scikit-learn while the library is first
    imported avoids that, and scikit-learn stays importable afterwards.
    """
    if "sklearn" in sys.modules:
        yield
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "sklearn" in sys.modules and sys.modules["sklearn"] is None:
            del sys.modules["sklearn"]


if TYPE_CHECKING:  # SciPy costs a server ~10 MB; only linear models' encoder needs it
    import scipy.sparse as sp

Matrix: TypeAlias = "np.ndarray | sp.csr_matrix"


class Learner(ABC):
    """Base class of every learner.

    Class attributes: ``name`` (stable id used in artifacts), ``priority`` (higher is tried
    first), ``input_kind`` (which FeatureEncoder kind it consumes).
    """

    name: ClassVar[str]
    priority: ClassVar[int]
    input_kind: ClassVar[Literal["tree", "linear", "dense"]]
    # True for learners that estimate their own out-of-sample predictions while fitting on all
    # rows (bagged forests: out-of-bag rows). The trainer then fits them once instead of once
    # per fold, which costs a k-th of the fit and prediction time. See ``oob_predictions``.
    out_of_bag: ClassVar[bool] = False
    # whether ``fit`` honours ``sample_weight``; the trainer leaves out those that do not when
    # the rows are weighted
    supports_weights: ClassVar[bool] = True

    def predict_threads(self, n_rows: int) -> int:
        """Threads for predicting ``n_rows``: one while the work is small.

        Starting a thread team costs more than scoring a few rows (for XGBoost, 1.5 ms against
        0.1 ms for one row), and a server gets its parallelism from concurrent requests. The
        work is ``n_rows`` times ``trees_per_row()`` when a learner counts its trees (a
        thousand rows through 700 LightGBM trees take 38 ms on one thread, 23 on two), else
        ``n_rows`` against ``SMALL_BATCH``.
        """
        trees = self.trees_per_row()
        small = n_rows < SMALL_BATCH if trees is None else n_rows * trees < SMALL_TREE_WORK
        return 1 if small else max(1, self.n_jobs)

    def trees_per_row(self) -> int | None:
        """Trees each row goes through in ``predict`` (None: not a tree ensemble, or trees so
        cheap that rows alone decide the threads)."""
        return None

    def __init__(
        self,
        task: TaskName,
        n_classes: int,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.params = dict(params or {})
        self.seed = seed
        self.n_jobs = n_jobs

    @classmethod
    @abstractmethod
    def search_space(cls, task: TaskName) -> SearchSpace:
        """The hyperparameters worth tuning, with their ranges."""

    @classmethod
    def priority_for(cls, has_text: bool) -> int:
        """``priority`` for the data at hand; ``has_text``: some input column is free text."""
        return cls.priority

    @classmethod
    @abstractmethod
    def portfolio(cls, task: TaskName) -> list[dict[str, Any]]:
        """Strong default configurations, best first."""

    @abstractmethod
    def fit(
        self,
        X: Matrix,
        y: np.ndarray,
        *,
        X_val: Matrix | None = None,
        y_val: np.ndarray | None = None,
        categorical: list[int] | None = None,
        deadline: float | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Fit on ``X, y``; ``X_val, y_val`` may drive early stopping; stop by ``deadline``
        (a ``time.monotonic`` value) at the latest. ``sample_weight`` weighs the training rows
        (only learners with ``supports_weights``)."""

    @abstractmethod
    def predict(self, X: Matrix) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` or values ``(n,)``."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the fitted state as data files into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, task: TaskName, n_classes: int) -> Self:
        """Rebuild a fitted learner from ``save``'s files."""

    @classmethod
    def estimate_cost(
        cls, task: TaskName, n_rows: int, n_features: int, n_classes: int, params: dict[str, Any]
    ) -> tuple[float, float]:
        """Rough (seconds, bytes) to fit one fold on 2 cores, before anything was measured.

        The search replaces this by measured times once a learner of the family has run; the
        default assumes a linear-time learner.
        """
        cells = max(1, n_rows) * max(1, n_features) * max(1, n_classes)
        return 2e-7 * cells, 16.0 * cells

    def oob_predictions(self) -> np.ndarray:
        """Out-of-bag predictions for the training rows (``out_of_bag`` learners only); rows
        that were never out of bag hold NaN."""
        raise NotImplementedError(f"{self.name} does not estimate out-of-bag predictions")

    def fitted_params(self) -> dict[str, Any]:
        """Parameters as fitted (e.g. the number of boosting rounds early stopping chose)."""
        return dict(self.params)

    def _transform_target(
        self, y: np.ndarray, y_val: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(y, y_val)`` in log1p space when the configuration asks for it and ``y`` has no
        negatives (counts, prices); sets ``log_target_``, which predictions undo with expm1."""
        self.log_target_ = bool(
            self.task == "regression"
            and self.params.get("target_transform") == "log1p"
            and np.min(y) >= 0
        )
        if not self.log_target_:
            return y, y_val
        return np.log1p(y), None if y_val is None else np.log1p(np.clip(y_val, 0, None))

    @staticmethod
    def time_left(deadline: float | None) -> float:
        """Seconds until ``deadline`` (infinite when there is none)."""
        return float("inf") if deadline is None else deadline - time.monotonic()


PLATEAU_WINDOW = 50  # rounds of a boosted learner's validation history looked back over


def plateaued(losses: list[float], window: int = PLATEAU_WINDOW, tolerance: float = 1e-4) -> bool:
    """True when the last ``window`` rounds lowered the validation loss by less than
    ``tolerance`` times the first round's loss.

    Boosting's usual early stopping waits for a round with no improvement at all; on separable
    data the loss keeps falling by ever smaller amounts and every round would run.

    Example
    -------
    >>> plateaued([1.0] + [0.5 * 0.5**i for i in range(60)])
    False
    >>> plateaued([1.0] + [1e-3 + 1e-9 * (60 - i) for i in range(60)])
    True
    """
    if len(losses) <= window:
        return False
    gained = losses[-window - 1] - min(losses[-window:])
    return bool(gained < tolerance * abs(losses[0]))
