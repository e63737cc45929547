"""TabularPredictor: the fitted ensemble of bagged candidates, and its data-only persistence."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlwright.evaluation.calibration import Calibration, apply_temperature
from mlwright.evaluation.leaderboard import Leaderboard
from mlwright.features.encoder import FeatureEncoder
from mlwright.models.base import Matrix, TaskName
from mlwright.tasks.tabular.candidate import BaggedCandidate
from mlwright.tasks.tabular.stack import StackedCandidate

Member = BaggedCandidate | StackedCandidate

__all__ = ["Member", "TabularPredictor"]


@dataclass
class TabularPredictor:
    """A weighted mean of bagged candidates, with classifier probabilities calibrated.

    ``oof`` holds the ensemble's out-of-fold predictions on the training rows (kept in memory only;
    the evaluation built from it is saved instead). ``calibration`` holds the temperature applied
    to the averaged probabilities (classifiers only).
    """

    task: TaskName
    n_classes: int
    members: list[tuple[Member, float]]
    leaderboard: Leaderboard
    oof: np.ndarray | None = None
    calibration: Calibration | None = None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` or values ``(n,)`` for a conformed feature frame."""
        total: np.ndarray | None = None
        encoded: dict[int, Matrix] = {}
        for cand, weight in self.members:
            pred = weight * cand.predict(X, encoded)
            total = pred if total is None else total + pred
        if total is None:
            raise RuntimeError("predictor has no members")
        if self.calibration is not None:
            total = apply_temperature(total, self.calibration.temperature)
        return total

    @property
    def member_names(self) -> list[str]:
        """Names of the candidates in the ensemble."""
        return [c.name for c, _ in self.members]

    @property
    def refitted(self) -> list[str]:
        """Names of the members refitted once on all rows (serving one model, not one per fold)."""
        return [c.name for c, _ in self.members if isinstance(c, BaggedCandidate) and c.refit]

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the members under ``directory``; return the JSON description for the manifest."""
        for cand, _ in self.members:
            cand.save(directory / cand.name)
        return {
            "members": [{"name": c.name, "weight": w} for c, w in self.members],
            "leaderboard": self.leaderboard.to_dict(),
            "calibration": None if self.calibration is None else asdict(self.calibration),
        }

    @classmethod
    def load(
        cls, directory: Path, description: dict[str, Any], task: TaskName, n_classes: int
    ) -> TabularPredictor:
        """Inverse of ``save``."""
        members: list[tuple[Member, float]] = []
        for m in description["members"]:
            folder = directory / m["name"]
            cand: Member = (
                StackedCandidate.load(folder, task, n_classes)
                if (folder / "stack.json").is_file()
                else BaggedCandidate.load(folder, task, n_classes)
            )
            members.append((cand, float(m["weight"])))
        _share_encoders(
            [
                b
                for c, _ in members
                for b in (c.bagged() if isinstance(c, StackedCandidate) else [c])
            ]
        )
        calibration = description.get("calibration")
        return cls(
            task,
            n_classes,
            members,
            Leaderboard.from_dict(description["leaderboard"]),
            calibration=None if calibration is None else Calibration(**calibration),
        )

    def describe(self) -> str:
        """One line naming the members and weights."""
        return json.dumps({c.name: round(w, 3) for c, w in self.members})


def _share_encoders(candidates: list[BaggedCandidate]) -> None:
    """Make candidates whose fold encoders are identical use one object, so that prediction
    encodes each row once per distinct encoder (in training they were one object already)."""
    seen: dict[str, FeatureEncoder] = {}
    for cand in candidates:
        shared = []
        for encoder, learner in cand.folds:
            shared.append((seen.setdefault(encoder.state_digest(), encoder), learner))
        cand.folds = shared
