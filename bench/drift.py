"""Drift benchmark: mlwright's monitoring vs Evidently's default data-drift preset, same streams.

For each dataset of ../shared/datasets it trains mlwright on ``train.csv.gz`` (preset "fast"), then
builds streams of windows from the rows of ``test.csv.gz`` (drawn with replacement when a window is
larger than the split; sizes over 3x the split are skipped):

- A/A: windows of unchanged rows (labels given to every other window);
- changes injected after 2 unchanged windows, then 2 changed windows: a value shift of 0.25, 0.5
  or 1 standard deviation added to 3 random numeric features (``shift_*``); a covariate shift by
  resampling, rows weighted by exp(b z) on a random numeric feature so its mean moves 0.5 SD and
  P(y | x) stays true (``covariate``); one category's share doubled (``category``); the minority
  class's share doubled, or the top quartile of a regression target (``label``); the labels of
  the rows above one feature's median changed, inputs untouched, labels given (``concept``).

Each window is judged by ``mlwright.monitoring.monitor`` (an alarm is status "alert"; "not ok"
counts warnings too) and, in the same run, by Evidently's ``DataDriftPreset()`` with defaults in its
own venv (an alarm is its dataset-level drift; "any column" counts windows with a drifted column).
It reports false alarms per 100 A/A windows, detection within 2 windows and delay, and, for
classifiers, estimated (no labels) against realized accuracy. Targets: at most 1 false alarm per
100 A/A windows at every window size on every dataset; a 0.5 SD shift detected within 2 windows
of 1,000 rows in >= 95% of trials; estimated accuracy within 2 points of realized on the
covariate-shifted streams (mean over windows of >= 1,000 rows). JSON goes to bench/results/.

Usage:
    .venv/bin/python bench/drift.py [--datasets adult,letter] [--trials 20] [--aa-windows 100]
        [--sizes 100,1000,10000] [--time-limit 15] [--no-evidently] [--setup]
    .venv/bin/python bench/drift.py --report bench/results/drift-<stamp>.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mlwright
from mlwright.data.conform import conform
from mlwright.errors import MlwrightWarning
from mlwright.monitoring import monitor
from mlwright.monitoring.report import encode_labels

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "bench" / "results"
PEERS = REPO / "bench" / "peers"
EVIDENTLY = REPO / "bench" / ".venvs" / "evidently"
DEFAULT_DATASETS = "adult,bank_marketing,california_housing,letter"
SCENARIOS = ("shift_0.25", "shift_0.5", "shift_1", "covariate", "category", "label", "concept")
PRE, POST = 2, 2  # unchanged windows before the change, changed windows after it
MAX_REPEAT = 3  # largest window, as a multiple of the test split's rows


# ---------------------------------------------------------------- setup (Evidently's own venv)


def setup(force: bool) -> bool:
    """Build bench/.venvs/evidently from peers/evidently-requirements.txt; False if it fails."""
    marker = EVIDENTLY / ".installed"
    if marker.exists() and not force:
        return True
    print(f"setting up {EVIDENTLY} (pip, a few minutes) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY)], check=True)
        pip = [str(EVIDENTLY / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", "evidently-requirements.txt"], cwd=PEERS, check=True)
    except subprocess.CalledProcessError as exc:
        print(f"Evidently setup failed ({exc}); running without it.")
        return False
    marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    return True


# ---------------------------------------------------------------- one dataset: model and pool


@dataclass
class Pool:
    """The test split, conformed and scored once; windows index into it."""

    name: str
    task: str
    model: mlwright.Model
    features: pd.DataFrame
    proba: np.ndarray
    labels: np.ndarray  # encoded: class index, or value
    numeric: list[str]  # numeric features with >= 5 distinct training values
    categories: list[tuple[str, str, float]]  # (column, category, training share)
    sd: dict[str, float]
    medians: dict[str, float]


def load_pool(name: str, time_limit: float, seed: int) -> Pool:
    meta = json.loads((DATASETS / name / "meta.json").read_text())
    train = mlwright.read_data(DATASETS / name / "train.csv.gz")
    test = mlwright.read_data(DATASETS / name / "test.csv.gz")
    settings = mlwright.Settings.model_validate(
        {"training": {"time_limit": time_limit, "preset": "fast", "seed": seed}, "progress": False}
    )
    model = mlwright.train(train, target=meta["target"], settings=settings)
    assert model.reference_ is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        pool = conform(test, model.schema_, require_target=True)
        trained = conform(train, model.schema_, require_target=True).features
    features = pool.features.reset_index(drop=True)
    proba = model.predictor_.predict(features)
    labels = encode_labels(model.reference_, pool.target)
    keep = np.isfinite(labels)
    features, proba, labels = features[keep].reset_index(drop=True), proba[keep], labels[keep]
    numeric, categories, sd, medians = [], [], {}, {}
    for col in model.schema_.features:
        values = trained[col.name]
        if col.role.value == "numeric" and values.nunique() >= 5:
            numeric.append(col.name)
            sd[col.name] = float(values.std())
            medians[col.name] = float(values.median())
        if col.role.value == "categorical":
            shares = values.value_counts(normalize=True)
            categories += [
                (col.name, str(c), float(s)) for c, s in shares.items() if 0.05 <= s <= 0.45
            ]
    return Pool(name, model.task_, model, features, proba, labels, numeric, categories, sd, medians)


# ---------------------------------------------------------------- windows


@dataclass
class Window:
    stream: str  # "aa" or "<scenario>/<trial>"
    scenario: str
    size: int
    position: int  # 0-based; post-change windows have position >= PRE
    changed: bool
    features: pd.DataFrame
    proba: np.ndarray
    labels: np.ndarray  # the truth for the bench
    labels_given: bool


def _draw(pool: Pool, n: int, rng: np.random.Generator, p: np.ndarray | None = None) -> np.ndarray:
    total = len(pool.labels)
    return rng.choice(total, size=n, replace=p is not None or n > total, p=p)


def _mix(
    pool: Pool, n: int, rng: np.random.Generator, inside: np.ndarray, share: float
) -> np.ndarray:
    """Indices with ``share`` of rows drawn from ``inside`` rows and the rest from the others."""
    k = int(round(share * n))
    chosen = np.flatnonzero(inside)
    others = np.flatnonzero(~inside)
    return np.concatenate(
        [rng.choice(chosen, size=k, replace=True), rng.choice(others, size=n - k, replace=True)]
    )


def _tilt(z: np.ndarray, target: float) -> np.ndarray:
    """Sampling weights exp(b z), with b found so that the weighted mean of z is ``target``."""
    z = np.nan_to_num(z)
    low, high = 0.0, 10.0
    for _ in range(50):
        b = (low + high) / 2
        w = np.exp(b * z - np.max(b * z))
        if np.sum(w * z) / np.sum(w) < target:
            low = b
        else:
            high = b
    return w / w.sum()


def changed_window(
    pool: Pool, scenario: str, n: int, rng: np.random.Generator, plan: dict[str, Any]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, bool]:
    """Rows, scores, true labels and whether labels are given, for one changed window."""
    if scenario.startswith("shift_"):
        idx = _draw(pool, n, rng)
        features = pool.features.iloc[idx].reset_index(drop=True)
        for col in plan["columns"]:
            features[col] = features[col] + float(scenario.split("_")[1]) * pool.sd[col]
        proba = pool.model.predictor_.predict(features)
        return features, proba, pool.labels[idx], False
    if scenario == "covariate":
        col = plan["columns"][0]
        z = (pool.features[col].to_numpy(dtype=float) - pool.medians[col]) / pool.sd[col]
        idx = _draw(pool, n, rng, _tilt(z - np.nanmean(z), 0.5))
    elif scenario == "category":
        col, category, share = plan["category"]
        inside = (pool.features[col].astype(str) == category).to_numpy()
        idx = _mix(pool, n, rng, inside, 2 * share)
    elif scenario == "label":
        idx = _mix(pool, n, rng, plan["inside"], 2 * plan["share"])
    else:  # concept: same inputs, labels changed above one feature's median
        idx = _draw(pool, n, rng)
        labels = pool.labels[idx].copy()
        above = pool.features[plan["columns"][0]].to_numpy(dtype=float)[idx] > plan["median"]
        if pool.task == "regression":
            labels[above] += np.std(pool.labels)
        else:
            k = pool.proba.shape[1]
            labels[above] = (labels[above] + 1) % k
        return pool.features.iloc[idx].reset_index(drop=True), pool.proba[idx], labels, True
    return pool.features.iloc[idx].reset_index(drop=True), pool.proba[idx], pool.labels[idx], False


def plan_trial(pool: Pool, scenario: str, rng: np.random.Generator) -> dict[str, Any] | None:
    """The random choices of one trial (which features, category or class); None if impossible."""
    if scenario.startswith("shift_") or scenario in ("covariate", "concept"):
        if not pool.numeric:
            return None
        count = 3 if scenario.startswith("shift_") else 1
        columns = list(rng.choice(pool.numeric, size=min(count, len(pool.numeric)), replace=False))
        return {"columns": columns, "median": pool.medians[columns[0]]}
    if scenario == "category":
        if not pool.categories:
            return None
        return {"category": pool.categories[int(rng.integers(len(pool.categories)))]}
    if pool.task == "regression":
        inside = pool.labels > np.quantile(pool.labels, 0.75)
        return {"inside": inside, "share": 0.25}
    counts = np.bincount(pool.labels.astype(np.int64), minlength=pool.proba.shape[1])
    present = np.flatnonzero(counts)
    target = (
        int(present[np.argmin(counts[present])])
        if pool.task == "binary"
        else int(rng.choice(present))
    )
    inside = pool.labels == target
    share = float(inside.mean())
    return {"inside": inside, "share": min(share, 0.45)}


def streams(pool: Pool, sizes: list[int], aa_windows: int, trials: int, seed: int) -> list[Window]:
    rng = np.random.default_rng(seed)
    out: list[Window] = []
    for size in sizes:
        if size > MAX_REPEAT * len(pool.labels):
            # every row would repeat > 3 times: the split's own sampling difference from the
            # training rows then looks like drift to any test, so this is no A/A stream
            rows = len(pool.labels)
            print(f"SKIP {pool.name} @ {size}: more than {MAX_REPEAT}x its {rows} test rows")
            continue
        for i in range(aa_windows):
            idx = _draw(pool, size, rng)
            features = pool.features.iloc[idx].reset_index(drop=True)
            out.append(
                Window(
                    "aa",
                    "aa",
                    size,
                    i,
                    False,
                    features,
                    pool.proba[idx],
                    pool.labels[idx],
                    i % 2 == 0,
                )
            )
        for scenario in SCENARIOS:
            for trial in range(trials if size < 10_000 else max(trials // 2, 1)):
                plan = plan_trial(pool, scenario, rng)
                if plan is None:
                    break
                name = f"{scenario}/{trial}"
                labelled = scenario == "concept"
                for position in range(PRE):
                    idx = _draw(pool, size, rng)
                    features = pool.features.iloc[idx].reset_index(drop=True)
                    out.append(
                        Window(
                            name,
                            scenario,
                            size,
                            position,
                            False,
                            features,
                            pool.proba[idx],
                            pool.labels[idx],
                            labelled,
                        )
                    )
                for position in range(PRE, PRE + POST):
                    features, proba, labels, given = changed_window(pool, scenario, size, rng, plan)
                    out.append(
                        Window(name, scenario, size, position, True, features, proba, labels, given)
                    )
    return out


# ---------------------------------------------------------------- judging


def judge_mlwright(pool: Pool, windows: list[Window]) -> list[dict[str, Any]]:
    assert pool.model.reference_ is not None
    out = []
    classes = pool.model.classes_
    for w in windows:
        start = time.perf_counter()
        labels = None
        if w.labels_given:
            labels = (
                w.labels
                if classes is None
                else np.asarray(classes, dtype=object)[w.labels.astype(int)]
            )
        report = monitor(pool.model.reference_, w.features, w.proba, labels)
        seconds = time.perf_counter() - start
        row: dict[str, Any] = {"status": report.status, "seconds": seconds}
        if pool.task != "regression" and report.performance is not None:
            estimated = {m.name: m.value for m in report.performance.estimated}
            cut = 0.5 if pool.model.threshold_ is None else pool.model.threshold_
            if pool.task == "binary":
                predicted = (w.proba[:, 1] >= cut).astype(int)
            else:
                predicted = np.argmax(w.proba, axis=1)
            row["estimated_accuracy"] = estimated.get("accuracy")
            row["realized_accuracy"] = float(np.mean(predicted == w.labels.astype(int)))
        out.append(row)
    return out


def evidently_subset(windows: list[Window], aa: int, trials: int) -> list[int]:
    """Windows Evidently judges (it takes ~1 s each): the first ``aa`` A/A windows of each size
    and the first ``trials`` 0.5 SD trials at 1,000 rows."""
    keep = []
    for i, w in enumerate(windows):
        if w.scenario == "aa" and w.position < aa:
            keep.append(i)
        elif w.scenario == "shift_0.5" and w.size == 1000 and int(w.stream.split("/")[1]) < trials:
            keep.append(i)
    return keep


def judge_evidently(
    pool: Pool, windows: list[Window], subset: list[int]
) -> list[dict[str, Any] | None] | None:
    if not (EVIDENTLY / ".installed").exists():
        return None
    reference = pool.model.reference_
    assert reference is not None
    names = [f.name for f in reference.features]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train = DATASETS / pool.name / "train.csv.gz"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            ref = conform(mlwright.read_data(train), pool.model.schema_).features[names]
        _for_parquet(ref).to_parquet(folder / "reference.parquet")
        frames = []
        for i in subset:
            frame = windows[i].features[names].copy()
            frame["__window__"] = i
            frames.append(frame)
        _for_parquet(pd.concat(frames, ignore_index=True)).to_parquet(folder / "windows.parquet")
        python = EVIDENTLY / "bin" / "python"
        runner = PEERS / "evidently_runner.py"
        done = subprocess.run(
            [str(python), str(runner), "--folder", tmp], capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"Evidently failed on {pool.name}: {done.stderr[-2000:]}")
            return None
        rows: list[dict[str, Any]] = json.loads((folder / "evidently.json").read_text())
    by_window = {r["window"]: r for r in rows}
    return [by_window.get(i) for i in range(len(windows))]


def _for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith("str"):
            out[col] = out[col].astype("string")
    return out


# ---------------------------------------------------------------- summaries


def summarise(
    pool: Pool,
    windows: list[Window],
    ours: list[dict[str, Any]],
    theirs: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    frame = pd.DataFrame(
        {
            "stream": [w.stream for w in windows],
            "scenario": [w.scenario for w in windows],
            "size": [w.size for w in windows],
            "position": [w.position for w in windows],
            "changed": [w.changed for w in windows],
            "alert": [r["status"] == "alert" for r in ours],
            "not_ok": [r["status"] != "ok" for r in ours],
            "seconds": [r["seconds"] for r in ours],
            "estimated": [r.get("estimated_accuracy") for r in ours],
            "realized": [r.get("realized_accuracy") for r in ours],
        }
    )
    if theirs is not None:
        frame["ev_alert"] = [None if r is None else r["dataset_drift"] for r in theirs]
        frame["ev_any"] = [None if r is None else r["drifted_columns"] > 0 for r in theirs]
        frame["ev_seconds"] = [None if r is None else r["seconds"] for r in theirs]
    out: dict[str, Any] = {
        "dataset": pool.name,
        "task": pool.task,
        "aa": [],
        "detection": [],
        "estimation": [],
    }
    for size, group in frame[frame.scenario == "aa"].groupby("size"):
        row = {
            "size": int(size),
            "windows": len(group),
            "alerts_per_100": 100 * group.alert.mean(),
            "not_ok_per_100": 100 * group.not_ok.mean(),
            "ms_per_window": 1000 * group.seconds.mean(),
        }
        if theirs is not None:
            group = group[group.ev_alert.notna()]
            row |= {
                "evidently_windows": len(group),
                "evidently_per_100": 100 * group.ev_alert.astype(float).mean(),
                "evidently_any_column_per_100": 100 * group.ev_any.astype(float).mean(),
                "evidently_ms_per_window": 1000 * group.ev_seconds.astype(float).mean(),
            }
        out["aa"].append(row)
    trials = frame[frame.scenario != "aa"]
    for (scenario, size), group in trials.groupby(["scenario", "size"], sort=False):
        row = {"scenario": scenario, "size": int(size)} | _detection(group, "alert")
        pre = group[~group.changed]
        row["pre_change_alerts_per_100"] = 100 * pre.alert.mean()
        judged = group[group.ev_alert.notna()] if theirs is not None else group.iloc[:0]
        if len(judged):
            row |= {f"evidently_{k}": v for k, v in _detection(judged, "ev_alert").items()}
            any_column = _detection(judged, "ev_any")
            row["evidently_any_column_detected_pct"] = any_column["detected_pct"]
            pre_judged = judged[~judged.changed]
            row["evidently_pre_change_per_100"] = 100 * pre_judged.ev_alert.astype(float).mean()
        out["detection"].append(row)
        changed = group[group.changed & group.estimated.notna()]
        if len(changed):
            est = changed.estimated.astype(float)
            real = changed.realized.astype(float)
            out["estimation"].append(
                {
                    "scenario": scenario,
                    "size": int(size),
                    "windows": len(changed),
                    "realized": real.mean(),
                    "estimated": est.mean(),
                    "bias": est.mean() - real.mean(),
                    "mae": (est - real).abs().mean(),
                }
            )
    return out


def _detection(group: pd.DataFrame, column: str) -> dict[str, Any]:
    delays = []
    for _, stream in group.groupby("stream"):
        post = stream[stream.changed].sort_values("position")
        hits = np.flatnonzero(post[column].astype(bool).to_numpy())
        delays.append(int(hits[0]) + 1 if len(hits) else None)
    found = [d for d in delays if d is not None]
    return {
        "trials": len(delays),
        "detected_pct": 100 * len(found) / max(len(delays), 1),
        "mean_delay": float(np.mean(found)) if found else None,
    }


# ---------------------------------------------------------------- report


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    print(f"\n{title}")
    print(
        "".join(
            h.ljust(w) if i < 2 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells)))


def report(results: list[dict[str, Any]]) -> bool:
    ok = True
    aa = [
        [
            r["dataset"],
            str(a["size"]),
            str(a["windows"]),
            _fmt(a["alerts_per_100"]),
            _fmt(a["not_ok_per_100"]),
            _fmt(a["ms_per_window"], ".0f"),
            _fmt(a.get("evidently_windows"), "d"),
            _fmt(a.get("evidently_per_100")),
            _fmt(a.get("evidently_any_column_per_100")),
            _fmt(a.get("evidently_ms_per_window"), ".0f"),
        ]
        for r in results
        for a in r["aa"]
    ]
    _table(
        "False alarms per 100 A/A windows (mlwright: alert, not ok; Evidently: dataset drift, "
        "any column drifted)",
        [
            "dataset",
            "size",
            "windows",
            "alert",
            "not ok",
            "ms",
            "ev windows",
            "ev",
            "ev any",
            "ev ms",
        ],
        aa,
    )
    detection = [
        [
            r["dataset"],
            d["scenario"],
            str(d["size"]),
            str(d["trials"]),
            _fmt(d["detected_pct"], ".0f"),
            _fmt(d["mean_delay"], ".2f"),
            _fmt(d["pre_change_alerts_per_100"]),
            _fmt(d.get("evidently_trials"), "d"),
            _fmt(d.get("evidently_detected_pct"), ".0f"),
            _fmt(d.get("evidently_mean_delay"), ".2f"),
            _fmt(d.get("evidently_any_column_detected_pct"), ".0f"),
        ]
        for r in results
        for d in r["detection"]
    ]
    _table(
        "Detection within 2 windows after the change (% of trials; delay in windows; pre FA: "
        "alerts per 100 windows before it)",
        [
            "dataset",
            "scenario",
            "size",
            "trials",
            "ours %",
            "delay",
            "pre FA",
            "ev trials",
            "ev %",
            "ev delay",
            "ev any %",
        ],
        detection,
    )
    estimation = [
        [
            r["dataset"],
            e["scenario"],
            str(e["size"]),
            str(e["windows"]),
            f"{e['realized']:.4f}",
            f"{e['estimated']:.4f}",
            f"{e['bias']:+.4f}",
            f"{e['mae']:.4f}",
        ]
        for r in results
        for e in r["estimation"]
    ]
    _table(
        "Estimated (no labels) vs realized accuracy on changed windows (classifiers)",
        ["dataset", "scenario", "size", "windows", "realized", "estimated", "bias", "MAE"],
        estimation,
    )
    print()
    for r in results:
        for a in r["aa"]:
            good = a["alerts_per_100"] <= 1.0
            ok &= good
            ev = _fmt(a.get("evidently_per_100"))
            print(
                f"{'PASS' if good else 'FAIL'} false alarms {r['dataset']} @ {a['size']}: "
                f"{a['alerts_per_100']:.1f} per 100 A/A windows (<= 1; Evidently {ev})"
            )
        for d in r["detection"]:
            if d["scenario"] == "shift_0.5" and d["size"] == 1000:
                good = d["detected_pct"] >= 95 and (d["mean_delay"] or 99) <= 2
                ok &= good
                print(
                    f"{'PASS' if good else 'FAIL'} 0.5 SD shift {r['dataset']} @ 1000: detected in "
                    f"{d['detected_pct']:.0f}% of trials within 2 windows (>= 95%; Evidently "
                    f"{_fmt(d.get('evidently_detected_pct'), '.0f')}%)"
                )
        for e in r["estimation"]:
            if e["scenario"] == "covariate" and e["size"] >= 1000:
                good = abs(e["bias"]) <= 0.02
                ok &= good
                verdict = "PASS" if good else "FAIL"
                print(
                    f"{verdict} estimated accuracy {r['dataset']} @ {e['size']}: "
                    f"{e['estimated']:.4f} vs realized {e['realized']:.4f} (within 0.02)"
                )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--aa-windows", type=int, default=100)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument(
        "--evidently-windows", type=int, default=25, help="A/A windows per size Evidently judges"
    )
    parser.add_argument(
        "--evidently-trials", type=int, default=10, help="0.5 SD trials at 1,000 rows it judges"
    )
    parser.add_argument("--setup", action="store_true", help="(re)build Evidently's venv")
    parser.add_argument("--report", type=Path, help="re-print a results JSON")
    args = parser.parse_args()
    if args.report:
        sys.exit(0 if report(json.loads(args.report.read_text())["results"]) else 1)
    if not DATASETS.is_dir():
        print(f"SKIP: shared datasets not found at {DATASETS}")
        return
    evidently = not args.no_evidently and setup(args.setup)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"drift-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for name in args.datasets.split(","):
        if not (DATASETS / name / "meta.json").is_file():
            print(f"SKIP {name}: not in {DATASETS}")
            continue
        start = time.time()
        pool = load_pool(name, args.time_limit, args.seed)
        windows = streams(pool, sizes, args.aa_windows, args.trials, args.seed)
        ours = judge_mlwright(pool, windows)
        subset = evidently_subset(windows, args.evidently_windows, args.evidently_trials)
        theirs = judge_evidently(pool, windows, subset) if evidently else None
        results.append(summarise(pool, windows, ours, theirs))
        print(f"{name}: {len(windows)} windows in {time.time() - start:.0f} s", flush=True)
        path.write_text(
            json.dumps(
                {"args": vars(args) | {"report": None}, "results": results}, indent=1, default=str
            )
        )
    ok = report(results)
    print(f"\nresults: {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
