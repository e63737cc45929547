"""Side-by-side AutoML benchmark: mlwright, FLAML and AutoGluon on the shared tabular datasets.

Every job (one tool on one dataset) runs alone in its own subprocess, under the tool's own
interpreter: mlwright under this repo's .venv, the peers under bench/.venvs/{flaml,autogluon}
(built from the pinned files in bench/peers/ by ``--setup``, or on first use). The child trains on
``train.csv.gz`` within the budget, predicts ``test.csv.gz`` and writes its predictions (values, or
class probabilities) to a temp dir; this parent scores every tool with the same code and the
metric in ``meta.json``, and samples the summed RSS of the child's whole process tree every 0.2 s.

Per tool it reports the mean normalised score (0 = constant predictor from the train set's class
frequencies or mean, 1 = the best tool on that dataset), mean rank, and mlwright's win rate against
each peer (ties count half); a failed job counts as normalised 0, last rank and a loss. Then it
checks this issue's targets. Rows go to bench/results/automl-<budget>s-<stamp>.json after each
job, so a partial run can be re-printed with ``--report``.

Usage:
    .venv/bin/python bench/automl.py --budget 60 [--datasets titanic,credit_g]
        [--tools mlwright,flaml,ag_medium,ag_best] [--repeats 1] [--setup]
    .venv/bin/python bench/automl.py --report bench/results/automl-60s-<stamp>.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score

from tabular import DATASETS, RESULTS, tabular_datasets

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "bench" / "peers"
VENVS = REPO / "bench" / ".venvs"
LOWER_IS_BETTER = {"rmse", "log_loss"}
POLL_S = 0.2
MEDIANS = ("fit_s", "predict_ms_per_1k", "peak_mb")


@dataclass(frozen=True)
class Tool:
    venv: str  # "" = this repo's own .venv
    runner: str
    extra: tuple[str, ...] = ()

    @property
    def python(self) -> Path:
        if not self.venv:
            own = REPO / ".venv" / "bin" / "python"
            return own if own.exists() else Path(sys.executable)
        return VENVS / self.venv / "bin" / "python"


TOOLS = {
    "mlwright": Tool("", "mlwright_runner.py"),
    # the same, then Model.compact(): the fastest form not significantly worse than the best
    "mlwright_compact": Tool("", "mlwright_runner.py", ("--compact",)),
    "flaml": Tool("flaml", "flaml_runner.py"),
    "ag_medium": Tool("autogluon", "autogluon_runner.py", ("--preset", "medium_quality")),
    "ag_best": Tool("autogluon", "autogluon_runner.py", ("--preset", "best_quality")),
}
# pip arguments, one install per entry, run in order inside the fresh venv.
SETUP = {
    "flaml": [["-r", "flaml-requirements.txt"]],
    # CPU torch first (from the local wheel), then AutoGluon held to it by the constraint.
    "autogluon": [
        ["-r", "autogluon-constraints.txt"],
        ["-r", "autogluon-requirements.txt", "-c", "autogluon-constraints.txt"],
    ],
}


def setup(venvs: set[str], force: bool) -> None:
    """Build each peer venv that is missing (or all asked for, with ``force``)."""
    for name in sorted(venvs):
        path = VENVS / name
        marker = path / ".installed"
        if marker.exists() and not force:
            continue
        print(f"setting up {path} (pip, several minutes) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        for pip_args in SETUP[name]:
            cmd = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", *pip_args]
            subprocess.run(cmd, cwd=PEERS, check=True)
        marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))


# ---------------------------------------------------------------- process-tree memory (/proc)


def _procs() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, session id, RSS bytes) of every process we can read."""
    page = os.sysconf("SC_PAGE_SIZE")
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            rss = int(Path(f"/proc/{entry.name}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp session ...
        out[int(entry.name)] = (int(fields[1]), int(fields[3]), rss)
    return out


def tree(root: int) -> dict[int, int]:
    """pid -> RSS of ``root``, its descendants, and whatever else stayed in its session."""
    procs = _procs()
    members = {pid for pid, (_, sid, _) in procs.items() if sid == root}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            members.add(pid)
            todo += [c for c, (ppid, _, _) in procs.items() if ppid == pid and c not in members]
    return {pid: procs[pid][2] for pid in members if pid in procs}


def _kill_tree(root: int) -> None:
    for pid in tree(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- scoring (same code for all)


@dataclass
class Truth:
    meta: dict[str, Any]
    y_train: pd.Series
    y_test: pd.Series
    classes: list[str]


def load_truth(name: str) -> Truth:
    meta = json.loads((DATASETS / name / "meta.json").read_text())

    def target(split: str) -> pd.Series:
        col = pd.read_csv(DATASETS / name / f"{split}.csv.gz", usecols=[meta["target"]])
        y: pd.Series = col[meta["target"]]
        return y.astype(float) if meta["task"] == "regression" else y.astype(str).str.strip()

    y_train, y_test = target("train"), target("test")
    classes = [] if meta["task"] == "regression" else sorted(set(y_train) | set(y_test))
    return Truth(meta, y_train, y_test, classes)


def score(truth: Truth, pred: pd.DataFrame) -> dict[str, float]:
    """Metric (plus accuracy for multiclass) on the rows the tool did not reject (NaN)."""
    meta, y = truth.meta, truth.y_test.to_numpy()
    if meta["task"] == "regression":
        values = pred["prediction"].to_numpy(dtype=float)
        keep = ~np.isnan(values)
        rmse = float(mean_squared_error(y[keep], values[keep]) ** 0.5)
        return {"score": rmse, "rejected": int((~keep).sum())}
    proba = pred.reindex(columns=truth.classes, fill_value=0.0).to_numpy(dtype=float)
    keep = ~np.isnan(proba).any(axis=1)
    proba, y = proba[keep], y[keep]
    out: dict[str, float] = {"rejected": int((~keep).sum())}
    if meta["metric"] == "roc_auc":
        pos = str(meta["positive_class"])
        out["score"] = float(roc_auc_score(y == pos, proba[:, truth.classes.index(pos)]))
    else:
        proba = np.clip(proba, 1e-15, 1)
        proba /= proba.sum(axis=1, keepdims=True)
        out["score"] = float(log_loss(y, proba, labels=truth.classes))
    if meta["task"] == "multiclass":
        out["accuracy"] = float(accuracy_score(y, np.asarray(truth.classes)[proba.argmax(axis=1)]))
    return out


def constant_score(truth: Truth) -> float:
    """The same metric for the train set's class frequencies (or mean) on every test row."""
    n = len(truth.y_test)
    if truth.meta["task"] == "regression":
        return score(truth, pd.DataFrame({"prediction": [truth.y_train.mean()] * n}))["score"]
    freq = truth.y_train.value_counts(normalize=True).reindex(truth.classes, fill_value=0.0)
    return score(truth, pd.DataFrame([freq.to_numpy()] * n, columns=truth.classes))["score"]


# ---------------------------------------------------------------- one job


def run_job(tool: str, name: str, truth: Truth, budget: float, seed: int) -> dict[str, Any]:
    """Train, predict and score one tool on one dataset in a child process tree."""
    spec = TOOLS[tool]
    row: dict[str, Any] = {"dataset": name, "tool": tool, "seed": seed, "load": os.getloadavg()[0]}
    timeout = 3 * budget + 120
    with tempfile.TemporaryDirectory(prefix=f"automl-{tool}-") as tmp:
        out = Path(tmp)
        cmd = [str(spec.python), str(PEERS / spec.runner), "--data", str(DATASETS / name)]
        cmd += ["--budget", str(budget), "--seed", str(seed), "--out", tmp, *spec.extra]
        peak = 0
        with open(out / "log.txt", "w") as log:
            start = time.monotonic()
            child = subprocess.Popen(
                cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            while child.poll() is None and time.monotonic() - start < timeout:
                peak = max(peak, sum(tree(child.pid).values()))
                time.sleep(POLL_S)
            _kill_tree(child.pid)  # a timed-out child, or workers it left behind
            child.wait()
        row.update(wall_s=time.monotonic() - start, peak_mb=peak / 2**20)
        if child.returncode != 0 or not (out / "result.json").exists():
            why = "timeout" if row["wall_s"] >= timeout else f"exit {child.returncode}"
            tail = (out / "log.txt").read_text(errors="replace")[-1500:]
            last = (tail.strip().splitlines() or [""])[-1]
            return {**row, "failed": f"{why}: {last}", "log": tail}
        row.update(json.loads((out / "result.json").read_text()))
        try:
            row.update(score(truth, pd.read_csv(out / "pred.csv")))
        except Exception as e:  # a prediction file we cannot score is that tool's failure
            return {**row, "failed": f"scoring: {e!r}"}
    return row


# ---------------------------------------------------------------- tables and targets


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.4e}"


def summarise(data: dict[str, Any]) -> dict[str, Any]:
    """Per (dataset, tool) medians over repeats, then normalised score, rank and wins."""
    tools: list[str] = data["tools"]
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for d in data["datasets"]:
        cells[d] = {}
        for t in tools:
            ok = [r for r in data["rows"] if r["dataset"] == d and r["tool"] == t]
            if not ok:
                continue  # not run (yet)
            ok = [r for r in ok if not r.get("failed")]
            keys = ("score", "accuracy", "fit_s", "predict_ms_per_1k", "peak_mb", "rejected")
            med = {k: statistics.median(r[k] for r in ok) for k in keys if ok and k in ok[0]}
            cells[d][t] = med or {"failed": True}
    const = data["const"]
    norm: dict[str, list[float]] = {t: [] for t in tools}
    ranks: dict[str, list[float]] = {t: [] for t in tools}
    wins: dict[str, list[float]] = (
        {t: [] for t in tools if t != "mlwright"} if "mlwright" in tools else {}
    )
    common = [d for d, by_tool in cells.items() if len(by_tool) == len(tools)]
    for d in common:  # compare only datasets every tool has run on
        by_tool = cells[d]
        metric = data["metric"][d]
        sign = -1 if metric in LOWER_IS_BETTER else 1
        good = {t: sign * c["score"] if "score" in c else -np.inf for t, c in by_tool.items()}
        best = max(good.values())
        for tool, rank in pd.Series(good).rank(ascending=False).items():
            ranks[str(tool)].append(float(rank))
        for t, g in good.items():
            span = best - sign * const[d]
            norm[t].append(0.0 if g == -np.inf or span <= 0 else (g - sign * const[d]) / span)
        for t in wins:
            ml, peer = good["mlwright"], good[t]
            if ml > -np.inf or peer > -np.inf:
                wins[t].append(1.0 if ml > peer else 0.5 if ml == peer else 0.0)
    return {"cells": cells, "common": common, "norm": norm, "ranks": ranks, "wins": wins}


def report(data: dict[str, Any]) -> str:
    s = summarise(data)
    tools: list[str] = data["tools"]
    lines = [
        f"budget {data['budget']:g} s, repeats {data['repeats']}; each cell: "
        "test score · fit s · predict ms/1k rows · peak MB of the process tree",
        "",
        "| dataset | metric | constant | " + " | ".join(tools) + " |",
        "|---|---|---|" + "---|" * len(tools),
    ]
    for d, by_tool in s["cells"].items():
        row = [d, data["metric"][d], _fmt(data["const"][d])]
        for t in tools:
            c = by_tool.get(t)
            if c is None or c.get("failed"):
                row.append("—" if c is None else "FAILED")
                continue
            acc = f" (acc {c['accuracy']:.4f})" if "accuracy" in c else ""
            rej = f" ({c['rejected']:g} rejected)" if c.get("rejected") else ""
            row.append(
                f"{_fmt(c['score'])}{acc}{rej} · {c['fit_s']:.0f} s · "
                f"{c['predict_ms_per_1k']:.0f} ms · {c['peak_mb']:.0f} MB"
            )
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"over the {len(s['common'])} dataset(s) every tool has run on:",
        "",
        "| tool | mean normalised | mean rank | median fit s | median predict ms/1k | "
        "median peak MB | mlwright wins vs |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tools:
        ok = [s["cells"][d][t] for d in s["common"] if "score" in s["cells"][d][t]]
        med = {k: f"{statistics.median(c[k] for c in ok):.0f}" if ok else "—" for k in MEDIANS}
        win = s["wins"].get(t)
        lines.append(
            f"| {t} | {_mean(s['norm'][t]):.3f} | {_mean(s['ranks'][t]):.2f} | {med['fit_s']} | "
            f"{med['predict_ms_per_1k']} | {med['peak_mb']} | "
            + (f"{_mean(win):.0%} of {len(win)}" if win else "—")
            + " |"
        )
    lines += ["", *targets(data, s)]
    return "\n".join(lines)


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def _median_over_common(s: dict[str, Any], key: str, a: str, b: str) -> tuple[float, float]:
    cells = [s["cells"][d] for d in s["common"]]
    both = [c for c in cells if "score" in c[a] and "score" in c[b]]
    if not both:
        return float("nan"), float("nan")
    return statistics.median(c[a][key] for c in both), statistics.median(c[b][key] for c in both)


def targets(data: dict[str, Any], s: dict[str, Any]) -> list[str]:
    """This issue's targets; the 60 s ones bind below a 300 s budget, the 300 s one from there."""
    at = 300 if data["budget"] >= 300 else 60
    out = [f"targets (those for {at} s bind; the others are shown for information):"]

    def check(budget: int, text: str, ok: bool | None) -> None:
        mark = "n/a " if ok is None else "PASS" if ok else "FAIL"
        out.append(f"  [{mark}] {'' if budget == at else '(info) '}{budget} s: {text}")

    tools = data["tools"]
    mean_rank = {t: _mean(s["ranks"][t]) for t in tools}
    if "mlwright" not in tools or len(tools) < 2:
        return [*out, "  need mlwright and at least one peer"]
    best_peer = min(
        (mean_rank[t] for t in tools if not t.startswith("mlwright")), default=float("nan")
    )
    check(
        60,
        f"mlwright best (or tied) mean rank: {mean_rank['mlwright']:.2f} "
        f"vs best peer {best_peer:.2f}",
        bool(mean_rank["mlwright"] <= best_peer) if s["ranks"]["mlwright"] else None,
    )
    for peer, need in (("flaml", 0.75), ("ag_best", 0.5)):
        w = s["wins"].get(peer)
        rate = _mean(w) if w else float("nan")
        text = f"mlwright wins vs {peer} {rate:.0%} of {len(w or [])} (need >= {need:.0%})"
        check(60, text, bool(rate >= need) if w else None)
    for ours in ("mlwright", "mlwright_compact"):
        if "ag_best" in tools and ours in tools:
            ml, ag = _median_over_common(s, "predict_ms_per_1k", ours, "ag_best")
            check(
                60,
                f"predict ms/1k median {ours} {ml:.1f} vs ag_best {ag:.1f}: "
                f"{ag / ml:.1f}x faster (need >= 5x)",
                bool(ag / ml >= 5) if ml == ml else None,
            )
    for peer in ("ag_medium", "ag_best"):
        if peer in tools:
            ml, ag = _median_over_common(s, "peak_mb", "mlwright", peer)
            check(
                60,
                f"peak MB median mlwright {ml:.0f} vs {peer} {ag:.0f} (ratio {ml / ag:.2f}, "
                "need <= 1)",
                bool(ml <= ag) if ml == ml else None,
            )
    if "ag_best" in tools:
        ml, ag = _mean(s["norm"]["mlwright"]), _mean(s["norm"]["ag_best"])
        text = f"mean normalised mlwright {ml:.3f} vs ag_best {ag:.3f}"
        check(300, text, bool(ml >= ag) if s["common"] else None)
    return out


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=float, default=60, help="training seconds per job")
    parser.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    parser.add_argument(
        "--tools",
        default="mlwright,flaml,ag_medium,ag_best",
        help=f"comma-separated, of: {','.join(TOOLS)} (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per job (seed 0, 1, ...)")
    parser.add_argument("--setup", action="store_true", help="(re)install the peer venvs first")
    parser.add_argument("--report", type=Path, help="re-render the tables of a saved JSON")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return
    tools = [t for t in args.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        parser.error(f"unknown tools {sorted(unknown)}; choose from {list(TOOLS)}")
    names = [n for n in args.datasets.split(",") if n] or tabular_datasets()
    setup({TOOLS[t].venv for t in tools if TOOLS[t].venv}, force=args.setup)

    truths = {n: load_truth(n) for n in names}
    data: dict[str, Any] = {
        "budget": args.budget,
        "repeats": args.repeats,
        "tools": tools,
        "datasets": names,
        "metric": {n: t.meta["metric"] for n, t in truths.items()},
        "const": {n: constant_score(t) for n, t in truths.items()},
        "rows": [],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"automl-{args.budget:g}s-{time.strftime('%Y%m%d-%H%M%S')}.json"
    jobs = [(n, i, rep) for rep in range(args.repeats) for i, n in enumerate(names)]
    total = len(jobs) * len(tools)
    print(
        f"{total} jobs ({len(names)} datasets x {len(tools)} tools x {args.repeats} repeats), "
        f"estimated {total * (args.budget + 30) / 60:.0f} min (budget + ~30 s start-up, "
        f"prediction and overrun each); results: {out}",
        flush=True,
    )
    done = 0
    for name, i, rep in jobs:
        k = (i + rep) % len(tools)  # rotate who goes first across datasets and repeats
        for tool in tools[k:] + tools[:k]:
            row = run_job(tool, name, truths[name], args.budget, seed=rep)
            data["rows"].append({key: v for key, v in row.items() if key != "log"})
            out.write_text(json.dumps(data, indent=1))
            done += 1
            head = f"[{done}/{total}] {name} {tool} seed {rep}:"
            if row.get("failed"):
                print(f"{head} FAILED {row['failed']}\n{row.get('log', '')}", flush=True)
                continue
            acc = f" acc {row['accuracy']:.4f}" if "accuracy" in row else ""
            print(
                f"{head} {data['metric'][name]} {_fmt(row['score'])}{acc} "
                f"(constant {_fmt(data['const'][name])}) fit {row['fit_s']:.1f} s, "
                f"predict {row['predict_ms_per_1k']:.0f} ms/1k, peak {row['peak_mb']:.0f} MB, "
                f"rejected {row['rejected']}, load {row['load']:.1f}",
                flush=True,
            )
    print()
    print(report(data))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
