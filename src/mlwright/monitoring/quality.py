"""Input data quality of a window: missing values, unseen categories, out-of-range numbers, rejects.

Each check compares a share in the window with what training leads one to expect, with a one-sided
Fisher exact test (so one odd row in a small window is not an alarm) and an effect floor (so a
huge window does not flag a negligible rise). The p-values join the window's Holm family.

- missing: the column's missing share rose by at least 5 points over training's.
- unseen: at least 1% of values are categories training never saw; the no-change rate is
  estimated as (categories seen once) / (training rows), the Good-Turing estimate.
- out of range: at least 1% of values fall outside training's min..max; with no change about
  2 / (training rows + 1) of new values do.
- rejected: at least 1% of rows could not be used at all (unparseable values), above the
  training share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlwright.monitoring.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    column_values,
)
from mlwright.monitoring.stattests import proportion_increase_test

__all__ = ["MIN_INCREASE", "ColumnQuality", "QualityCheck", "quality_checks"]

MIN_INCREASE = {"missing": 0.05, "unseen": 0.01, "out_of_range": 0.01, "rejected": 0.01}
_NAMES = {
    "missing": "missing values",
    "unseen": "categories not seen in training",
    "out_of_range": "values outside the training range",
    "rejected": "unusable rows",
}


@dataclass
class QualityCheck:
    """One share in the window against its reference share; ``fired`` is the verdict."""

    column: str
    kind: str  # "missing" | "unseen" | "out_of_range" | "rejected"
    count: int
    rows: int
    reference_share: float
    p_value: float | None = None
    p_threshold: float | None = None
    significant: bool = False

    @property
    def share(self) -> float:
        """The share in the window."""
        return self.count / self.rows if self.rows else 0.0

    @property
    def fired(self) -> bool:
        """Significant and at least ``MIN_INCREASE`` above the reference share."""
        return self.significant and self.share - self.reference_share >= MIN_INCREASE[self.kind]

    def sentence(self) -> str:
        """What happened and what to do, for a person."""
        where = "of rows" if self.kind == "rejected" else f"in '{self.column}'"
        return (
            f"{self.share:.1%} {_NAMES[self.kind]} {where} ({self.count} of {self.rows}), "
            f"against {self.reference_share:.1%} in training; check the pipeline feeding "
            f"{'the model' if self.kind == 'rejected' else 'this column'}."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "kind": self.kind,
            "share": round(self.share, 6),
            "reference_share": round(self.reference_share, 6),
            "count": self.count,
            "rows": self.rows,
            "p_value": None if self.p_value is None else float(f"{self.p_value:.6g}"),
            "threshold": None if self.p_threshold is None else float(f"{self.p_threshold:.6g}"),
            "fired": self.fired,
        }


@dataclass
class ColumnQuality:
    """The quality checks of one column (or of the whole table, for rejects)."""

    name: str
    checks: list[QualityCheck]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the shares by kind, then every check."""
        shares = {f"{c.kind}_share": round(c.share, 6) for c in self.checks}
        return {
            "name": self.name,
            **shares,
            "issues": [c.sentence() for c in self.checks if c.fired],
            "checks": [c.to_dict() for c in self.checks],
        }


def _check(
    column: str, kind: str, count: int, rows: int, ref_count: float, ref_rows: float
) -> QualityCheck:
    reference_share = ref_count / ref_rows if ref_rows else 0.0
    check = QualityCheck(column, kind, int(count), int(rows), float(reference_share), 1.0)
    # the test only matters when the rise is big enough to act on; below that the check keeps
    # p = 1, still counted in the Holm family so that the family-wise rate stays exact
    if rows and check.share - reference_share >= MIN_INCREASE[kind]:
        check.p_value = proportion_increase_test(int(count), int(rows), ref_count, ref_rows)
    return check


def quality_checks(
    reference: ReferenceProfile, features: pd.DataFrame, rows_rejected: int = 0
) -> list[ColumnQuality]:
    """Missing, unseen and out-of-range shares per column, and the share of rejected rows.

    Example:
        >>> [c.to_dict() for c in quality_checks(model.reference_, window_features)]
    """
    n = len(features)
    out: list[ColumnQuality] = []
    total = n + rows_rejected
    ref_total = reference.rows + reference.rows_rejected
    out.append(
        ColumnQuality(
            "(rows)",
            [
                _check(
                    "(rows)", "rejected", rows_rejected, total, reference.rows_rejected, ref_total
                )
            ],
        )
    )
    for ref in reference.features:
        kind, values, missing = column_values(features[ref.name], ref.role)
        checks = [_check(ref.name, "missing", int(missing.sum()), n, ref.missing, ref.rows)]
        present = n - int(missing.sum())
        if isinstance(ref, NumericReference) and present:
            numbers = np.asarray(values, dtype=float)[~missing]
            outside = int(((numbers < ref.minimum) | (numbers > ref.maximum)).sum())
            # with no change, a new value falls outside the n values seen with chance 2/(n+1)
            checks.append(_check(ref.name, "out_of_range", outside, present, 2.0, ref.rows + 1))
        elif isinstance(ref, CategoricalReference) and ref.seen is not None and present:
            unseen = int((~pd.Series(values, dtype=object).isin(ref.seen)).sum())
            seen_rows = ref.rows - ref.missing
            expected = max(ref.singletons, 1)  # Good-Turing: the share of once-seen categories
            checks.append(_check(ref.name, "unseen", unseen, present, expected, seen_rows + 1))
        out.append(ColumnQuality(ref.name, checks))
    return out
