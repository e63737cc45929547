"""Search spaces declared by learners, and seeded sampling from them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Categorical", "Float", "Int", "SearchSpace", "sample"]


@dataclass(frozen=True)
class Float:
    """A real parameter in [low, high], sampled on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    """An integer parameter in [low, high], sampled on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Categorical:
    """One of ``choices``."""

    choices: tuple[Any, ...]


SearchSpace = dict[str, Float | Int | Categorical]


def sample(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    """Draw one configuration from ``space``."""
    params: dict[str, Any] = {}
    for name, dim in sorted(space.items()):
        if isinstance(dim, Categorical):
            params[name] = dim.choices[int(rng.integers(len(dim.choices)))]
        elif isinstance(dim, Float):
            if dim.log:
                params[name] = float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
            else:
                params[name] = float(rng.uniform(dim.low, dim.high))
        else:
            if dim.log:
                value = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high + 1)))
                params[name] = int(min(dim.high, max(dim.low, math.floor(value))))
            else:
                params[name] = int(rng.integers(dim.low, dim.high + 1))
    return params
