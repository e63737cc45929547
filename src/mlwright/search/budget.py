"""TimeBudget: the wall-clock deadline of a training run, shared by everything inside it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

__all__ = ["TimeBudget", "available_memory"]


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


def available_memory() -> float | None:
    """Bytes of memory the system can give now (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
