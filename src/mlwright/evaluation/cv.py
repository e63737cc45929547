"""Cross-validation folds and early-stopping holdouts, stratified for classification."""

from __future__ import annotations

import warnings

import numpy as np

from mlwright.errors import ConfigError, DataError, MlwrightWarning

__all__ = ["holdout_split", "make_folds"]


def make_folds(
    y: np.ndarray, task: str, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold splits as ``(train_idx, val_idx)`` pairs; stratified for classification.

    Parameters
    ----------
    y:
        Class indices for classification, values for regression.
    n_folds:
        Wanted number of folds. Reduced (to at least 2), with a warning, when the smallest
        class or the data has fewer rows.
    seed:
        The same seed gives the same folds.

    Example
    -------
    >>> import numpy as np
    >>> folds = make_folds(np.array([0, 1] * 10), "binary", 5, seed=0)
    >>> len(folds), len(folds[0][1])
    (5, 4)
    """
    from sklearn.model_selection import KFold, StratifiedKFold  # training only

    y = np.asarray(y).ravel()
    if n_folds < 2:
        raise ConfigError(f"n_folds must be at least 2, got {n_folds}. Pass e.g. folds=5.")
    if len(y) < 2:
        raise DataError(
            f"cross-validation needs at least 2 rows, got {len(y)}. Train on more rows."
        )
    if task == "regression":
        folds = _reduce(n_folds, len(y), f"there are only {len(y)} rows")
        splitter: KFold | StratifiedKFold = KFold(folds, shuffle=True, random_state=seed)
    else:
        classes, counts = np.unique(y, return_counts=True)
        smallest = int(np.argmin(counts))
        label = classes.tolist()[smallest]  # a plain Python value for the message
        if counts[smallest] < 2:
            raise DataError(
                f"class {label!r} has a single row; each class needs at least 2 rows "
                "for stratified cross-validation. Add rows of that class or remove it."
            )
        folds = _reduce(
            n_folds,
            int(counts[smallest]),
            f"the smallest class ({label!r}) has only {counts[smallest]} rows",
        )
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [
        (np.sort(train).astype(np.int64), np.sort(val).astype(np.int64))
        for train, val in splitter.split(np.zeros((len(y), 1)), y)
    ]


def _reduce(n_folds: int, limit: int, reason: str) -> int:
    """``n_folds`` capped at ``limit`` (at least 2), warning when it had to be reduced."""
    if limit >= n_folds:
        return n_folds
    folds = max(2, limit)
    warnings.warn(
        f"{reason}, fewer than the {n_folds} folds asked for; using {folds} folds. "
        "Add rows or ask for fewer folds to silence this warning.",
        MlwrightWarning,
        stacklevel=3,
    )
    return folds


def holdout_split(
    idx: np.ndarray, y: np.ndarray, task: str, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into ``(fit_idx, holdout_idx)``, stratified on ``y`` where possible.

    ``y`` holds the targets of the rows in ``idx`` (same length). The holdout gets about
    ``fraction`` of the rows, and at least one row when there are two or more.

    Example
    -------
    >>> import numpy as np
    >>> fit, held = holdout_split(np.arange(10), np.array([0, 1] * 5), "binary", 0.2, seed=0)
    >>> len(fit), len(held)
    (8, 2)
    """
    from sklearn.model_selection import train_test_split  # training only

    idx = np.asarray(idx).ravel()
    y = np.asarray(y).ravel()
    if not 0 < fraction < 1:
        raise ConfigError(
            f"holdout fraction must be between 0 and 1, got {fraction}. Pass e.g. 0.1."
        )
    if len(idx) != len(y):
        raise DataError(
            f"holdout_split got {len(idx)} indices but {len(y)} targets; expected one target "
            "per index. Pass y[idx]."
        )
    if len(idx) < 2:
        return idx, idx[:0]
    n_held = min(len(idx) - 1, max(1, round(fraction * len(idx))))
    stratify = None
    if task != "regression":
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and len(counts) <= min(n_held, len(idx) - n_held):
            stratify = y
    fit, held = train_test_split(idx, test_size=n_held, random_state=seed, stratify=stratify)
    return np.sort(np.asarray(fit)), np.sort(np.asarray(held))
