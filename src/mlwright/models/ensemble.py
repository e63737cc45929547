"""Ensemble selection (Caruana et al., 2004): greedy forward selection with replacement."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MIN_GAIN", "select_ensemble"]

# A member not yet in the ensemble must lower the loss by this share of it to join: each one
# adds its predict time to every request, and smaller out-of-fold gains are below what the
# estimate resolves. Measured at 60 s (seed 0): telco 6 -> 2 members, test AUC 0.8538 -> 0.8544;
# titanic 4 -> 2, 0.8486 -> 0.8495; california 4 -> 3, RMSE 44,906 -> 44,780; obesity, house
# prices and bike sharing unchanged.
MIN_GAIN = 3e-4


def select_ensemble(
    predictions: list[np.ndarray],
    loss: Callable[[np.ndarray], float],
    *,
    rounds: int = 40,
    min_gain: float = MIN_GAIN,
) -> list[float]:
    """Weights (summing to 1) over ``predictions`` that minimise ``loss`` of their weighted mean.

    Each round adds the member whose inclusion lowers the loss most (members can repeat); the
    weights are the counts. A member not chosen before joins only if it lowers the loss by at
    least ``min_gain`` times the current loss (a repeat needs any gain: it costs nothing to
    serve). Stops when no member qualifies.
    """
    counts = np.zeros(len(predictions))
    current: np.ndarray | None = None
    best_loss = float("inf")
    for step in range(rounds):
        trial_losses = []
        for i, pred in enumerate(predictions):
            blended = pred if current is None else (current * step + pred) / (step + 1)
            value = loss(blended)
            if current is not None:
                needed = 1e-12 if counts[i] > 0 else max(1e-12, min_gain * abs(best_loss))
                if not value <= best_loss - needed:
                    value = float("nan")  # does not qualify (NaN losses never do)
            trial_losses.append(value)
        if np.isnan(trial_losses).all():
            if current is None:
                raise ValueError("every prediction has a NaN loss; expected at least one finite")
            break
        choice = int(np.nanargmin(trial_losses))
        best_loss = trial_losses[choice]
        counts[choice] += 1
        pred = predictions[choice]
        current = pred.copy() if current is None else (current * step + pred) / (step + 1)
    return [float(c) for c in counts / counts.sum()]
