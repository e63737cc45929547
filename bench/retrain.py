"""Retraining benchmark: the full loop (log, label, retrain --if-needed, decide) on real data.

A champion is trained on ``train.csv.gz`` of one binary dataset of ../shared/datasets (that file
is its recorded source) and registered as ``production`` in a fresh registry per stream. Each
stream logs the champion's predictions for rows of ``test.csv.gz`` (drawn at random, no row
twice), then labels them, and calls ``mlwright.operate.retrain(..., if_needed=True)`` with a
``min_new_labels`` trigger, as ``mlwright retrain NAME --if-needed`` from cron would:

- A/A: ``--rows`` unchanged rows, one retrain when their labels are in. Any promotion is a false
  promotion. Run under the benchmark policy and again under the default policy (every row counts
  once: the challenger is as good as the champion, the hardest case for a false promotion).
- concept: ``--pre`` unchanged rows, then ``--post`` rows whose labels are flipped where one
  numeric feature (drawn per trial) is above its training median, inputs untouched; labels arrive
  in batches of ``--batch`` rows, each followed by a retrain --if-needed. The champion must be
  replaced after the change (and not before it); the delay is the labelled rows after the change
  until the promotion.

Policy: ``data = "source+feedback"`` (the source re-read, plus the labelled rows not held out),
the newest 30% (at least 100) labelled rows held out, alpha 0.05, the default margin (0.005
roc_auc: the improvement's 95% interval must clear it) unless ``--margin``, and
``--feedback-share`` of the training weight on the labelled rows (so a changed world can be
learnt from a few thousand rows next to a large source). Targets: 0 promotions in 20 A/A streams
under each policy; the challenger promoted after the change in every concept trial. JSON goes to
bench/results/.

Usage:
    .venv/bin/python bench/retrain.py [--dataset adult] [--aa 20] [--trials 3] [--quick]
    .venv/bin/python bench/retrain.py --report bench/results/retrain-<stamp>.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mlwright
from mlwright.errors import MlwrightWarning
from mlwright.operate import retrain
from mlwright.registry import Registry, open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "bench" / "results"
NAME = "model"


class Pool:
    """The champion and the test split it is fed from, scored once."""

    def __init__(self, dataset: str, time_limit: float, seed: int, folder: Path) -> None:
        meta = json.loads((DATASETS / dataset / "meta.json").read_text())
        if meta["task"] != "binary":
            raise SystemExit(f"{dataset} is a {meta['task']} dataset; pick a binary one.")
        self.dataset = dataset
        self.target = meta["target"]
        source = DATASETS / dataset / "train.csv.gz"
        settings = mlwright.Settings.model_validate(
            {
                "data": {"source": str(source), "target": self.target},
                "training": {"time_limit": time_limit, "preset": "fast", "seed": seed},
                "progress": False,
            }
        )
        start = time.perf_counter()
        model = mlwright.train(settings=settings)
        self.champion_seconds = time.perf_counter() - start
        self.model_dir = model.save(folder / "champion")
        assert model.classes_ is not None
        self.classes = [str(c) for c in model.classes_]
        train = mlwright.read_data(source)
        test = mlwright.read_data(DATASETS / dataset / "test.csv.gz")
        labels = test[self.target].astype(str).str.strip()
        test = test[labels.isin(self.classes)].reset_index(drop=True)
        self.inputs = test.drop(columns=[self.target])
        self.labels = test[self.target].astype(str).str.strip().to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            self.proba = model.predict_proba(self.inputs).to_numpy(dtype=float)
        self.numeric = {}
        for column in model.schema_.feature_names:
            values = pd.to_numeric(train[column], errors="coerce")
            if values.notna().mean() > 0.9 and values.nunique() >= 5:
                self.numeric[column] = float(values.median())
        self.cv_score = model.cv_evaluation_.to_dict()


def open_stream(pool: Pool, folder: Path) -> Registry:
    reg = open_registry(folder)
    reg.register(pool.model_dir, NAME, alias="production", reason="bench champion")
    return reg


def feed(
    reg: Registry, pool: Pool, rows: np.ndarray, labels: np.ndarray, start: datetime, first: int
) -> None:
    """Log the champion's predictions for pool rows ``rows`` (10 s apart), then their labels."""
    logged = []
    records = pool.inputs.iloc[rows].to_dict("records")
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        p = pool.proba[row]
        logged.append(
            LoggedRow(
                f"r-{first + i}",
                start + timedelta(seconds=10 * (first + i)),
                {k: (None if v is None or v != v else v) for k, v in record.items()},
                pool.classes[int(np.argmax(p))],
                [float(v) for v in p],
            )
        )
    with PredictionLog(reg, NAME, source="batch", flush_interval=0.05) as plog:
        plog.submit(1, logged)
        plog.flush(timeout=60)
    reg.operations.add_labels(NAME, [r.request_id for r in logged], list(labels))


def policy(args: argparse.Namespace, share: float | None) -> mlwright.Settings:
    section = {
        "data": "source+feedback",
        "feedback_share": share,
        "min_new_labels": args.min_new_labels,
        "holdout_fraction": 0.3,
        "min_holdout_rows": 100,
        "alpha": 0.05,
        "time_limit": args.retrain_time_limit,
    }
    if args.margin is not None:
        section["margin"] = args.margin
    return mlwright.Settings.model_validate({"retrain": section, "progress": False})


def decide(reg: Registry, settings: mlwright.Settings) -> dict[str, Any]:
    start = time.perf_counter()
    decision = retrain(reg, NAME, if_needed=True, settings=settings, actor="bench")
    evidence = decision.evidence or {}
    return {
        "decision": decision.decision,
        "reason": decision.reason,
        "seconds": time.perf_counter() - start,
        "train_seconds": decision.train_seconds,
        "holdout_rows": decision.holdout_rows,
        "champion_score": evidence.get("score_b"),
        "challenger_score": evidence.get("score_a"),
        "difference": evidence.get("difference"),
        "p_value": evidence.get("p_value"),
        "error": decision.error,
    }


def aa_stream(
    pool: Pool, settings: mlwright.Settings, rows: int, rng: np.random.Generator, folder: Path
) -> dict[str, Any]:
    reg = open_stream(pool, folder)
    try:
        picked = rng.choice(len(pool.labels), size=min(rows, len(pool.labels)), replace=False)
        start = datetime.now(UTC) - timedelta(days=30)
        feed(reg, pool, picked, pool.labels[picked], start, 0)
        return decide(reg, settings)
    finally:
        reg.close()


def concept_stream(
    pool: Pool,
    args: argparse.Namespace,
    settings: mlwright.Settings,
    rng: np.random.Generator,
    folder: Path,
) -> dict[str, Any]:
    column = str(rng.choice(sorted(pool.numeric)))
    median = pool.numeric[column]
    total = args.pre + args.post
    picked = rng.choice(len(pool.labels), size=min(total, len(pool.labels)), replace=False)
    values = pd.to_numeric(pool.inputs[column].iloc[picked], errors="coerce").to_numpy()
    labels = pool.labels[picked].copy()
    flip = (np.arange(len(picked)) >= args.pre) & (values > median)
    other = {pool.classes[0]: pool.classes[1], pool.classes[1]: pool.classes[0]}
    labels[flip] = [other[v] for v in labels[flip]]
    reg = open_stream(pool, folder)
    start = datetime.now(UTC) - timedelta(days=30)
    checks = []
    try:
        for first in range(0, len(picked), args.batch):
            part = slice(first, first + args.batch)
            feed(reg, pool, picked[part], labels[part], start, first)
            done = min(first + args.batch, len(picked))
            check = decide(reg, settings) | {"labelled": done, "after_change": done - args.pre}
            checks.append(check)
            print(
                f"  concept {column} > {median:g}: {done} labelled, {check['decision']}"
                f" ({check['seconds']:.0f} s)",
                flush=True,
            )
    finally:
        reg.close()
    promoted = [c for c in checks if c["decision"] == "promoted"]
    before = [c for c in promoted if c["after_change"] <= 0]
    after = [c for c in promoted if c["after_change"] > 0]
    return {
        "column": column,
        "median": median,
        "flipped_rows": int(flip.sum()),
        "checks": checks,
        "promoted_before_change": len(before),
        "promoted_after_change": bool(after),
        "delay_rows": after[0]["after_change"] if after else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    results: dict[str, Any] = {"dataset": args.dataset, "args": vars(args) | {"report": None}}
    with tempfile.TemporaryDirectory(prefix="mlwright-bench-retrain-") as tmp:
        folder = Path(tmp)
        pool = Pool(args.dataset, args.time_limit, args.seed, folder)
        print(
            f"champion on {args.dataset}: {pool.champion_seconds:.0f} s; "
            f"{len(pool.labels)} test rows to stream from",
            flush=True,
        )
        results["champion_seconds"] = pool.champion_seconds
        policies = {"bench": args.feedback_share, "default": None}
        results["aa"] = {}
        for label, share in policies.items():
            settings = policy(args, share)
            runs = []
            for i in range(args.aa):
                outcome = aa_stream(pool, settings, args.rows, rng, folder / f"aa-{label}-{i}")
                runs.append(outcome)
                print(
                    f"A/A {label} {i + 1}/{args.aa}: {outcome['decision']} "
                    f"(p {outcome['p_value']}, {outcome['seconds']:.0f} s)",
                    flush=True,
                )
            results["aa"][label] = {
                "feedback_share": share,
                "policy": settings.retrain.model_dump(),
                "runs": runs,
            }
        settings = policy(args, args.feedback_share)
        results["concept_policy"] = settings.retrain.model_dump()
        results["concept"] = []
        for trial in range(args.trials):
            outcome = concept_stream(pool, args, settings, rng, folder / f"concept-{trial}")
            results["concept"].append(outcome)
            print(
                f"concept {trial + 1}/{args.trials} ({outcome['column']}): promoted after change "
                f"{outcome['promoted_after_change']}, delay {outcome['delay_rows']} rows",
                flush=True,
            )
    return results


def report(results: dict[str, Any]) -> bool:
    ok = True
    print(f"\nRetraining on {results['dataset']} (champion {results['champion_seconds']:.0f} s)")
    print(f"{'stream':<40}{'runs':>6}{'promoted':>10}{'kept':>6}{'skipped':>9}{'median s':>10}")
    for label, group in results["aa"].items():
        runs = group["runs"]
        counts = {d: sum(r["decision"] == d for r in runs) for d in ("promoted", "kept", "skipped")}
        seconds = np.median([r["seconds"] for r in runs]) if runs else float("nan")
        share = group["feedback_share"]
        name = f"A/A {label} (share {share}, margin {group['policy']['margin']})"
        print(
            f"{name:<40}{len(runs):>6}{counts['promoted']:>10}{counts['kept']:>6}"
            f"{counts['skipped']:>9}{seconds:>10.1f}"
        )
    print(f"\n{'concept trial':<28}{'checks':>8}{'before':>8}{'promoted':>10}{'delay rows':>12}")
    for trial in results["concept"]:
        name = f"{trial['column']} > {trial['median']:g}"
        print(
            f"{name:<28}{len(trial['checks']):>8}{trial['promoted_before_change']:>8}"
            f"{'yes' if trial['promoted_after_change'] else 'no':>10}"
            f"{str(trial['delay_rows']):>12}"
        )
    print()
    for label, group in results["aa"].items():
        runs = group["runs"]
        promoted = sum(r["decision"] == "promoted" for r in runs)
        failed = sum(r["error"] is not None for r in runs)
        good = promoted == 0 and failed == 0
        ok &= good
        print(
            f"{'PASS' if good else 'FAIL'} A/A, {label} policy: {promoted} promotion(s) in "
            f"{len(runs)} streams (target 0){f'; {failed} failed run(s)' if failed else ''}"
        )
    for trial in results["concept"]:
        good = trial["promoted_after_change"] and trial["promoted_before_change"] == 0
        ok &= good
        print(
            f"{'PASS' if good else 'FAIL'} concept change on {trial['column']}: "
            + (
                f"promoted {trial['delay_rows']} labelled rows after the change"
                if trial["promoted_after_change"]
                else "never promoted"
            )
            + f", {trial['promoted_before_change']} promotion(s) before it (target: after, not "
            "before)"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--aa", type=int, default=20, help="A/A streams per policy")
    parser.add_argument("--rows", type=int, default=2000, help="labelled rows per A/A stream")
    parser.add_argument("--trials", type=int, default=3, help="concept-change streams")
    parser.add_argument("--pre", type=int, default=1000, help="rows before the change")
    parser.add_argument("--post", type=int, default=3000, help="rows after the change")
    parser.add_argument("--batch", type=int, default=500, help="labelled rows per check")
    parser.add_argument("--min-new-labels", type=int, default=1000)
    parser.add_argument("--feedback-share", type=float, default=0.8)
    parser.add_argument("--margin", type=float, help="[retrain] margin (default: its default)")
    parser.add_argument("--time-limit", type=float, default=20, help="champion, seconds")
    parser.add_argument("--retrain-time-limit", type=float, default=10, help="challenger, s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 A/A per policy, 1 trial, 5 s")
    parser.add_argument("--report", type=Path, help="re-print a results JSON")
    args = parser.parse_args()
    if args.report:
        sys.exit(0 if report(json.loads(args.report.read_text())) else 1)
    if args.quick:
        args.aa, args.trials, args.time_limit, args.retrain_time_limit = 3, 1, 10, 5
    if not (DATASETS / args.dataset / "meta.json").is_file():
        print(f"SKIP: dataset {args.dataset} not found in {DATASETS}")
        return
    logging.getLogger("mlwright").setLevel(logging.WARNING)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"retrain-{time.strftime('%Y%m%d-%H%M%S')}.json"
    started = time.time()
    results = run(args)
    results["seconds"] = time.time() - started
    path.write_text(json.dumps(results, indent=1, default=str))
    ok = report(results)
    print(f"\n{results['seconds'] / 60:.1f} min; results: {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
