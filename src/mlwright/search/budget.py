"""TimeBudget: the wall-clock deadline of a training run, shared by everything inside it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["TimeBudget"]


@dataclass
class TimeBudget:
    """A deadline ``time_limit`` seconds after ``start`` (``time.monotonic`` clock)."""

    time_limit: float
    start: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        """Absolute monotonic time at which the run must end."""
        return self.start + self.time_limit

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.deadline - time.monotonic())

    def fits(self, estimate: float, reserve: float = 0.0) -> bool:
        """True when ``estimate`` seconds of work fit before the deadline less ``reserve``."""
        return estimate <= self.remaining() - reserve
