"""Evidently's default data-drift preset on a batch of windows, for bench/drift.py.

Runs under bench/.venvs/evidently. Reads ``reference.parquet`` (the training features) and
``windows.parquet`` (every window's rows, with a ``__window__`` column naming the window), runs
``Report([DataDriftPreset()])`` with all defaults on each window against the reference, and writes
``evidently.json``: per window the share and count of drifted columns and the dataset-level verdict
(share >= the preset's ``drift_share``, 0.5 by default), plus the seconds each run took.

API as in evidently 0.7 (evidently/presets/drift.py, evidently/metrics/column_statistics.py):
``Report([...]).run(current_data=..., reference_data=...)`` returns a snapshot whose ``dict()``
lists metrics by ``metric_name``; ``DriftedColumnsCount`` carries ``{"count", "share"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry (there is no network anyway)

import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

DRIFT_SHARE = DataDriftPreset().drift_share  # the preset's own default (0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    reference = pd.read_parquet(args.folder / "reference.parquet")
    windows = pd.read_parquet(args.folder / "windows.parquet")
    out = []
    for window, rows in windows.groupby("__window__", sort=True):
        current = rows.drop(columns="__window__").reset_index(drop=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snapshot = Report([DataDriftPreset()]).run(
                current_data=current, reference_data=reference
            )
        seconds = time.perf_counter() - start
        count = share = 0.0
        for metric in snapshot.dict()["metrics"]:
            name = str(metric.get("metric_name") or metric.get("metric_id") or "")
            if name.startswith("DriftedColumnsCount"):
                count, share = metric["value"]["count"], metric["value"]["share"]
                break
        else:
            raise RuntimeError(
                f"no DriftedColumnsCount in Evidently's snapshot for window {window}"
            )
        out.append(
            {
                "window": int(window),
                "drifted_columns": float(count),
                "share": float(share),
                "dataset_drift": bool(share >= DRIFT_SHARE),
                "seconds": seconds,
            }
        )
    (args.folder / "evidently.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
