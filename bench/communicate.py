"""Communication benchmark: the stakeholder report and the dashboard on real data.

For each dataset of ../shared/datasets named (default: diamonds, the largest tabular table, and
adult, the largest binary one) a model is trained on ``train.csv.gz``, registered in a fresh
registry as ``production``, and 100,000 of its predictions (rows of ``test.csv.gz`` repeated,
30 days of traffic) are written to the prediction log, half of them labelled; ``mlwright.monitor``
then stores one window per day. Measured:

- the report: ``report_html`` (a deployed model: monitoring history, alerts, the previous
  version) timed ``--repeat`` times, median and spread; the HTML file's size; one PDF print
  through headless Chromium (when one is found);
- the dashboard: ``mlwright ui`` started as its own process on the same registry, every page
  requested ``--requests`` times over HTTP after a first (cold) request, median and 95th
  percentile (a report not rendered yet answers at once that it is being prepared; the time
  until it is ready is reported); then a new monitoring window is stored and the model page
  timed once more (it shows the charts drawn before while the new ones are drawn).

Targets: the report renders in under 10 s and weighs under 5 MB; every dashboard page answers in
under 200 ms (median) with 100,000 logged predictions. JSON lands in bench/results/.

Usage:
    .venv/bin/python bench/communicate.py [--datasets diamonds,adult] [--time-limit 60]
    .venv/bin/python bench/communicate.py --report bench/results/communicate-<stamp>.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import mlwright
from mlwright.errors import MlwrightWarning
from mlwright.registry import open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "bench" / "results"
NAME = "model"
LOGGED = 100_000
DAYS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(dataset: str, time_limit: float, folder: Path) -> tuple[Path, Any, Any]:
    meta = json.loads((DATASETS / dataset / "meta.json").read_text())
    settings = mlwright.Settings.model_validate(
        {
            "data": {"source": str(DATASETS / dataset / "train.csv.gz"), "target": meta["target"]},
            "training": {"time_limit": time_limit, "seed": 0},
            "progress": False,
        }
    )
    model = mlwright.train(settings=settings)
    test = mlwright.read_data(DATASETS / dataset / "test.csv.gz")
    return model.save(folder / dataset), model, test


def fill_log(registry: Any, model: Any, test: Any, target: str, version: int) -> float:
    """Log LOGGED predictions over DAYS days (half labelled); returns the seconds it took."""
    start = time.perf_counter()
    inputs = test.drop(columns=[target])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwrightWarning)
        scored = model.score(inputs).frame
    records = inputs.loc[scored.index].to_dict("records")
    proba_cols = [c for c in scored.columns if c.startswith("proba_")]
    predictions = scored["prediction"].tolist()
    probabilities = scored[proba_cols].to_numpy(dtype=float) if proba_cols else None
    actual = test.loc[scored.index, target].tolist()
    begin = datetime.now(UTC) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / LOGGED
    logged, ids, labels = [], [], []
    for i in range(LOGGED):
        j = i % len(records)
        rid = f"r-{i}"
        logged.append(
            LoggedRow(
                rid,
                begin + i * step,
                {k: (None if v != v else v) for k, v in records[j].items()},
                _plain(predictions[j]),
                None if probabilities is None else [float(v) for v in probabilities[j]],
            )
        )
        if i % 2 == 0:
            ids.append(rid)
            labels.append(_plain(actual[j]))
    with PredictionLog(registry, NAME, source="batch", flush_interval=0.05) as plog:
        for first in range(0, LOGGED, 5000):
            plog.submit(version, logged[first : first + 5000])
        plog.flush(timeout=600)
    registry.operations.add_labels(NAME, ids, labels)
    return time.perf_counter() - start


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def time_report(model: Any, registry: Any, version: int, folder: Path, repeat: int) -> dict:
    from mlwright.report import report_html, write_report

    seconds = []
    html = ""
    for _ in range(repeat):
        start = time.perf_counter()
        html = report_html(model, registry=registry, name=NAME, version=version)
        seconds.append(time.perf_counter() - start)
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    out: dict[str, Any] = {
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "bytes": path.stat().st_size,
        "charts": html.count("<figure"),
    }
    try:
        start = time.perf_counter()
        pdf = write_report(
            model, folder / "report.pdf", registry=registry, name=NAME, version=version
        )
        out["pdf_s"] = time.perf_counter() - start
        out["pdf_bytes"] = pdf.stat().st_size
    except mlwright.MlwrightError as error:
        out["pdf_error"] = str(error)
    return out


def time_dashboard(registry_dir: Path, version: int, requests: int) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "MLWRIGHT_REGISTRY": str(registry_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlwright", "ui", "--port", str(port), "--no-auth"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    pages = {
        "models": "/ui",
        "model": f"/ui/models/{NAME}",
        "version": f"/ui/models/{NAME}/versions/{version}",
        "report": f"/ui/models/{NAME}/versions/{version}/report",
    }
    out: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(200):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            for page, path in pages.items():
                first = time.perf_counter()
                response = client.get(path)
                cold = time.perf_counter() - first
                while response.status_code == 202:  # a report being prepared: it reloads
                    time.sleep(0.2)
                    response = client.get(path)
                ready = time.perf_counter() - first
                if response.status_code != 200:
                    out[page] = {"error": f"{response.status_code}: {response.text[:200]}"}
                    continue
                times = []
                for _ in range(requests):
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200
                times.sort()
                out[page] = {
                    "cold_ms": cold * 1000,
                    "ready_s": ready,
                    "median_ms": statistics.median(times) * 1000,
                    "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
                    "bytes": len(response.content),
                }
            # a new monitoring window: the model page must not wait for its charts
            registry = open_registry(registry_dir)
            now = datetime.now(UTC)
            registry.operations.save_monitor_run(
                NAME,
                version=version,
                window_start=now - timedelta(days=1),
                window_end=now,
                status="ok",
                rows=100,
                labelled=0,
                flagged=0,
                report={"features": [], "performance": None},
            )
            registry.close()
            start = time.perf_counter()
            response = client.get(pages["model"])
            out["model_after_new_window_ms"] = (time.perf_counter() - start) * 1000
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "datasets": {}}
    for dataset in args.datasets.split(","):
        meta = json.loads((DATASETS / dataset / "meta.json").read_text())
        with tempfile.TemporaryDirectory(prefix="mlwright-communicate-") as tmp:
            folder = Path(tmp)
            print(f"[{dataset}] training ({args.time_limit:g} s)", flush=True)
            model_dir, model, test = train(dataset, args.time_limit, folder)
            registry_dir = folder / "registry"
            registry = open_registry(registry_dir)
            v1 = registry.register(model_dir, NAME, alias="production", reason="bench v1")
            v2 = registry.register(model_dir, NAME, reason="bench v2")
            registry.promote(NAME, v2.version, "production", reason="bench: second version")
            print(f"[{dataset}] logging {LOGGED:,} predictions", flush=True)
            log_s = fill_log(registry, model, test, meta["target"], v2.version)
            print(f"[{dataset}] monitoring {DAYS} daily windows", flush=True)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MlwrightWarning)
                mlwright.monitor(
                    f"{NAME}@production",
                    since=f"{DAYS + 1}d",
                    window="1d",
                    registry=str(registry_dir),
                )
            monitor_s = time.perf_counter() - start
            print(f"[{dataset}] report x{args.repeat}", flush=True)
            report = time_report(model, registry, v2.version, folder, args.repeat)
            registry.close()
            print(f"[{dataset}] dashboard", flush=True)
            dashboard = time_dashboard(registry_dir, v2.version, args.requests)
            results["datasets"][dataset] = {
                "rows_train": meta["rows_train"],
                "task": meta["task"],
                "versions": [v1.version, v2.version],
                "log_s": log_s,
                "monitor_s": monitor_s,
                "report": report,
                "dashboard": dashboard,
            }
    return results


def show(results: dict[str, Any]) -> bool:
    ok = True

    def check(label: str, passed: bool) -> None:
        nonlocal ok
        ok &= passed
        print(f"  [{'PASS' if passed else 'FAIL'}] {label}")

    for dataset, r in results["datasets"].items():
        rep = r["report"]
        spread = f"{min(rep['seconds']):.2f}-{max(rep['seconds']):.2f}"
        print(f"\n{dataset} ({r['task']}, {r['rows_train']:,} training rows)")
        print(
            f"  report: median {rep['median_s']:.2f} s ({spread} s over {len(rep['seconds'])}), "
            f"{rep['bytes'] / 1e6:.2f} MB, {rep['charts']} charts"
        )
        if "pdf_s" in rep:
            print(f"  pdf: {rep['pdf_s']:.2f} s, {rep['pdf_bytes'] / 1e6:.2f} MB")
        else:
            print(f"  pdf: {rep.get('pdf_error')}")
        log_s, monitor_s = r["log_s"], r["monitor_s"]
        print(f"  log of {LOGGED:,} rows written in {log_s:.1f} s; monitor {monitor_s:.1f} s")
        print(f"  {'page':<10}{'cold ms':>10}{'median ms':>11}{'p95 ms':>9}{'KB':>8}")
        after = r["dashboard"].pop("model_after_new_window_ms", None)
        for page, t in r["dashboard"].items():
            if "error" in t:
                print(f"  {page:<10} error {t['error']}")
                continue
            print(
                f"  {page:<10}{t['cold_ms']:>10.1f}{t['median_ms']:>11.1f}{t['p95_ms']:>9.1f}"
                f"{t['bytes'] / 1e3:>8.0f}"
            )
        if after is not None:
            print(f"  model page right after a new monitoring window: {after:.1f} ms")
        if "ready_s" in r["dashboard"].get("report", {}):
            ready = r["dashboard"]["report"]["ready_s"]
            print(
                f"  report page: first answer {r['dashboard']['report']['cold_ms']:.0f} ms, ready"
            )
            print(f"  after {ready:.1f} s (it says it is being prepared and reloads itself)")
        check(f"report renders in {rep['median_s']:.2f} s < 10 s", rep["median_s"] < 10)
        check(f"report weighs {rep['bytes'] / 1e6:.2f} MB < 5 MB", rep["bytes"] < 5e6)
        for page, t in r["dashboard"].items():
            median = t.get("median_ms", float("inf"))
            check(f"dashboard {page} median {median:.0f} ms < 200 ms", median < 200)
        if after is not None:
            check(f"model page after a new window {after:.0f} ms < 200 ms", after < 200)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="diamonds,adult")
    parser.add_argument("--time-limit", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="report renders timed")
    parser.add_argument("--requests", type=int, default=20, help="requests per dashboard page")
    parser.add_argument("--report", type=Path, help="print a saved result instead of running")
    args = parser.parse_args()
    if args.report:
        results = json.loads(args.report.read_text())
    else:
        if not DATASETS.is_dir():
            raise SystemExit(f"shared datasets not found at {DATASETS}")
        results = run(args)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"communicate-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=1, default=str))
        print(f"\nresults: {path}")
    sys.exit(0 if show(results) else 1)


if __name__ == "__main__":
    main()
