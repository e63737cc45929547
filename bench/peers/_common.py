"""What every runner shares: its arguments, the data and the files it hands back to bench/automl.py.

A runner trains one tool on ``<data>/train.csv.gz`` within ``--budget`` seconds, predicts
``<data>/test.csv.gz`` and writes into ``--out``:

- ``pred.csv``: regression, one column ``prediction``; classification, one probability column per
  class, named by the class label as a string;
- ``result.json``: ``fit_s``, ``predict_ms_per_1k`` and whatever else the runner wants to record.

Runs under each peer's own interpreter, so it needs nothing beyond pandas.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (with meta.json)")
    parser.add_argument("--budget", type=float, required=True, help="training time limit, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder to write results into")
    parser.add_argument("--preset", default="", help="AutoGluon preset")
    parser.add_argument(
        "--compact", action="store_true", help="mlwright: compact the model after training"
    )
    return parser.parse_args()


def load_meta(data: Path) -> dict[str, Any]:
    return json.loads((data / "meta.json").read_text())  # type: ignore[no-any-return]


def load(data: Path, m: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Train features, train target (class labels as stripped strings) and test features."""
    target = m["target"]
    train = pd.read_csv(data / "train.csv.gz")
    test = pd.read_csv(data / "test.csv.gz").drop(columns=[target])
    y = train.pop(target)
    y = y.astype(float) if m["task"] == "regression" else y.astype(str).str.strip()
    return train, y, test


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def write(
    out: Path, pred: pd.DataFrame | pd.Series, fit_s: float, predict_s: float, **extra: Any
) -> None:
    """Predictions (values or a probability frame) and timings, for the parent to score."""
    if isinstance(pred, pd.Series):
        frame = pd.DataFrame({"prediction": pred.to_numpy()})
    else:
        frame = pred.set_axis([str(c) for c in pred.columns], axis=1).reset_index(drop=True)
    frame.to_csv(out / "pred.csv", index=False)
    result = {"fit_s": fit_s, "predict_ms_per_1k": predict_s / len(frame) * 1e6, **extra}
    (out / "result.json").write_text(json.dumps(result))
