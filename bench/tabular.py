"""Benchmark: mlwright.train on every tabular dataset of ../shared/datasets, next to the peers.

Each dataset runs in a fresh subprocess (so peak memory is that run's own), trains on
``train.csv.gz`` with ``time_limit`` seconds, and is scored on ``test.csv.gz`` with the metric in
``meta.json``. The table puts the test score beside FLAML's and AutoGluon's from
``../shared/datasets/BASELINES.md`` and checks this issue's target: no worse than FLAML minus 0.01
(AUC, accuracy) or plus 5% (RMSE, log loss).

Usage:
    .venv/bin/python bench/tabular.py --time-limit 60 [--datasets adult,titanic] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "bench" / "results"
TABULAR_TASKS = {"binary", "multiclass", "regression"}


def tabular_datasets() -> list[str]:
    """Names of the tabular datasets in the shared pack (text and forecasting excluded)."""
    names = []
    for meta_path in sorted(DATASETS.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta["task"] in TABULAR_TASKS:
            names.append(meta_path.parent.name)
    return names


def baselines() -> dict[str, dict[str, float]]:
    """First number of each peer cell in BASELINES.md's tabular table."""
    out: dict[str, dict[str, float]] = {}
    text = (DATASETS / "BASELINES.md").read_text()
    section = text.split("## Tabular", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or cells[0] in ("dataset", "") or cells[0].startswith("---"):
            continue
        nums = [re.match(r"[-+0-9.e]+", c) for c in cells[2:5]]
        if all(nums):
            out[cells[0]] = dict(
                zip(
                    ["flaml", "ag_medium", "ag_best"],
                    [float(n.group()) for n in nums if n],
                    strict=True,
                )
            )
    return out


def run_one(name: str, time_limit: float, seed: int) -> dict[str, Any]:
    """Train and score one dataset in this process (called in a child process)."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score

    import mlwright

    folder = DATASETS / name
    meta = json.loads((folder / "meta.json").read_text())
    target = meta["target"]
    settings = mlwright.Settings(progress=False)
    start = time.monotonic()
    model = mlwright.train(
        folder / "train.csv.gz", target=target, time_limit=time_limit, seed=seed, settings=settings
    )
    fit_s = time.monotonic() - start
    test = mlwright.read_data(folder / "test.csv.gz")
    y_raw = test[target].astype(str).str.strip()
    t0 = time.perf_counter()
    if meta["task"] == "regression":
        pred = model.predict(test)
        predict_ms = (time.perf_counter() - t0) / len(test) * 1e6
        keep = pred.notna().to_numpy()
        score = float(mean_squared_error(y_raw[keep].astype(float), pred[keep]) ** 0.5)
        extra: dict[str, float] = {}
    else:
        proba = model.predict_proba(test)
        predict_ms = (time.perf_counter() - t0) / len(test) * 1e6
        keep = proba.notna().all(axis=1).to_numpy()
        labels = [str(c) for c in proba.columns]
        p = proba[keep].to_numpy(dtype=float)
        y = y_raw[keep].to_numpy()
        if meta["task"] == "binary":
            pos = labels.index(str(meta["positive_class"]))
            score = float(roc_auc_score(y == str(meta["positive_class"]), p[:, pos]))
            extra = {}
        else:
            p = np.clip(p, 1e-15, 1)
            p = p / p.sum(axis=1, keepdims=True)
            score = float(log_loss(y, p, labels=labels))
            pred_labels = np.asarray(labels)[p.argmax(axis=1)]
            extra = {"accuracy": float(accuracy_score(y, pred_labels))}
    rejected = int((~keep).sum())
    best = model.leaderboard.best()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "dataset": name,
        "metric": meta["metric"],
        "score": score,
        **extra,
        "fit_s": fit_s,
        "predict_ms_per_1k": predict_ms,
        "peak_mb": peak_mb,
        "test_rows_rejected": rejected,
        "best": best.name,
        "candidates": len(model.leaderboard.rows),
        "cv_score": best.score,
        "rows": len(pd.read_csv(folder / "train.csv.gz", usecols=[0])),
    }


def passes(metric: str, score: float, flaml: float) -> bool:
    """This issue's target: within 0.01 of FLAML (higher-better) or 5% (lower-better)."""
    if metric in ("rmse", "log_loss"):
        return score <= flaml * 1.05
    return score >= flaml - 0.01


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--time-limit", type=float, default=60)
    parser.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per dataset; medians shown")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, seed = args.child.split(":")
        print(json.dumps(run_one(name, args.time_limit, int(seed))))
        return
    if not DATASETS.is_dir():
        print(f"shared datasets not found at {DATASETS}; nothing to benchmark")
        return
    names = [n for n in args.datasets.split(",") if n] or tabular_datasets()
    peers = baselines()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        runs = []
        for rep in range(args.repeats):
            cmd = [
                sys.executable,
                __file__,
                "--time-limit",
                str(args.time_limit),
                "--child",
                f"{name}:{rep}",
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{name}: FAILED\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        if not runs:
            rows.append({"dataset": name, "failed": True})
            continue
        row = {
            k: (statistics.median(r[k] for r in runs) if isinstance(v, float) else v)
            for k, v in runs[0].items()
        }
        row["runs"] = len(runs)
        rows.append(row)
        print(_line(row, peers.get(name, {})), flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"tabular-{int(args.time_limit)}s-{stamp}.json"
    out.write_text(json.dumps(rows, indent=2))
    print()
    print(_table(rows, peers))
    print(f"\nresults: {out}")


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.4e}" if abs(x) >= 1e4 else f"{x:.1f}"


def _line(row: dict[str, Any], peer: dict[str, float]) -> str:
    return (
        f"{row['dataset']}: {row['metric']} {_fmt(row['score'])} "
        f"(FLAML {_fmt(peer.get('flaml', float('nan')))}) fit {row['fit_s']:.1f}s "
        f"peak {row['peak_mb']:.0f} MB"
    )


def _table(rows: list[dict[str, Any]], peers: dict[str, dict[str, float]]) -> str:
    head = (
        "| dataset | metric | mlwright | FLAML 60s | AG medium | AG best | target met | fit s | "
        "predict ms/1k | peak MB | best model |"
    )
    lines = [head, "|" + "---|" * 11]
    met = 0
    for r in rows:
        if r.get("failed"):
            lines.append(f"| {r['dataset']} | failed |" + " |" * 9)
            continue
        p = peers.get(r["dataset"], {})
        ok = passes(r["metric"], r["score"], p["flaml"]) if "flaml" in p else None
        met += bool(ok)
        acc = f" (acc {r['accuracy']:.4f})" if "accuracy" in r else ""
        verdict = "yes" if ok else "NO" if ok is not None else "?"
        lines.append(
            f"| {r['dataset']} | {r['metric']} | {_fmt(r['score'])}{acc} | "
            f"{_fmt(p.get('flaml', float('nan')))} | {_fmt(p.get('ag_medium', float('nan')))} | "
            f"{_fmt(p.get('ag_best', float('nan')))} | {verdict} | "
            f"{r['fit_s']:.1f} | {r['predict_ms_per_1k']:.0f} | {r['peak_mb']:.0f} | {r['best']} |"
        )
    lines.append(f"\ntarget met on {met} of {len(rows)} datasets")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
