"""Ensemble selection (Caruana et al., 2004): greedy forward selection with replacement."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["select_ensemble"]


def select_ensemble(
    predictions: list[np.ndarray],
    loss: Callable[[np.ndarray], float],
    *,
    rounds: int = 40,
) -> list[float]:
    """Weights (summing to 1) over ``predictions`` that minimise ``loss`` of their weighted mean.

    Each round adds the member whose inclusion lowers the loss most (members can repeat); the
    weights are the counts. Stops early when no member improves the loss.
    """
    counts = np.zeros(len(predictions))
    current: np.ndarray | None = None
    best_loss = float("inf")
    for step in range(rounds):
        trial_losses = []
        for pred in predictions:
            blended = pred if current is None else (current * step + pred) / (step + 1)
            trial_losses.append(loss(blended))
        choice = int(np.nanargmin(trial_losses))
        if trial_losses[choice] >= best_loss - 1e-12 and current is not None:
            break
        best_loss = trial_losses[choice]
        counts[choice] += 1
        pred = predictions[choice]
        current = pred.copy() if current is None else (current * step + pred) / (step + 1)
    return [float(c) for c in counts / counts.sum()]
