"""Charts of the stored monitoring windows (``Operations.monitor_runs``): status, realized and
estimated performance, share of drifted features, rows. The dashboard's model page and the
report's "since deployment" section draw the same charts.

Example:
    >>> charts = monitoring_charts(registry.operations.monitor_runs("churn", limit=200), "roc_auc")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mlwright.report.charts import Chart, line_chart

__all__ = ["monitoring_charts"]

_STATUS_CODE = {"ok": 0, "warning": 1, "alert": 2}


def _x(runs: Sequence[dict[str, Any]]) -> list[datetime]:
    """Window starts (or run times) as naive UTC datetimes, for matplotlib."""
    return [(r.get("window_start") or r["at"]).replace(tzinfo=None) for r in runs]


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _span(runs: Sequence[dict[str, Any]]) -> str:
    xs = _x(runs)
    return f"{len(runs)} window(s) from {xs[0]:%Y-%m-%d %H:%M} to {xs[-1]:%Y-%m-%d %H:%M} UTC"


def _status_chart(runs: Sequence[dict[str, Any]]) -> Chart:
    codes = [float(_STATUS_CODE.get(str(r["status"]), math.nan)) for r in runs]
    counts = {s: sum(r["status"] == s for r in runs) for s in _STATUS_CODE}
    alt = (
        f"Status of {_span(runs)}: {counts['ok']} ok, {counts['warning']} warning, "
        f"{counts['alert']} alert; the latest window is {runs[-1]['status']}."
    )
    return line_chart(
        _x(runs),
        {"status (0 ok, 1 warning, 2 alert)": codes},
        title="Status per window",
        alt=alt,
        xlabel="window start (UTC)",
        ylabel="0 ok · 1 warning · 2 alert",
    )


def _metric_name(runs: Sequence[dict[str, Any]], preferred: str | None) -> str | None:
    names: list[str] = []
    for run in runs:
        performance = (run.get("report") or {}).get("performance") or {}
        for kind in ("realized", "estimated"):
            names += [n for n in performance.get(kind) or {} if n not in names]
    if preferred in names:
        return preferred
    return names[0] if names else None


def _performance_chart(runs: Sequence[dict[str, Any]], preferred: str | None) -> Chart | None:
    metric = _metric_name(runs, preferred)
    if metric is None:
        return None
    series: dict[str, list[float]] = {f"realized {metric}": [], f"estimated {metric}": []}
    reference = math.nan
    for run in runs:
        performance = (run.get("report") or {}).get("performance") or {}
        for kind in ("realized", "estimated"):
            found = (performance.get(kind) or {}).get(metric) or {}
            series[f"{kind} {metric}"].append(_num(found.get("value")))
            if math.isnan(reference):
                reference = _num(found.get("reference"))
    realized = [v for v in series[f"realized {metric}"] if not math.isnan(v)]
    estimated = [v for v in series[f"estimated {metric}"] if not math.isnan(v)]
    said = []
    if realized:
        said.append(f"realized {metric} (on labelled rows) went from {realized[0]:.3g} to "
                    f"{realized[-1]:.3g}")  # fmt: skip
    else:
        said.append("no window had enough labels for a realized value")
    if estimated:
        said.append(f"estimated {metric} from {estimated[0]:.3g} to {estimated[-1]:.3g}")
    if not math.isnan(reference):
        said.append(f"at training it was {reference:.3g} (dashed line)")
    return line_chart(
        _x(runs),
        series,
        title=f"Performance per window ({metric})",
        alt=f"Over {_span(runs)}, " + "; ".join(said) + ".",
        xlabel="window start (UTC)",
        ylabel=metric,
        hline=None if math.isnan(reference) else (reference, "at training"),
    )


def _drift_chart(runs: Sequence[dict[str, Any]]) -> Chart:
    shares = []
    for run in runs:
        features = (run.get("report") or {}).get("features") or []
        drifted = sum(bool(f.get("drifted")) for f in features if isinstance(f, dict))
        shares.append(100.0 * drifted / len(features) if features else math.nan)
    known = [s for s in shares if not math.isnan(s)]
    worst = max(known) if known else math.nan
    alt = f"Share of input features that drifted in each of {_span(runs)}: " + (
        f"{known[-1]:.0f}% in the latest window, at most {worst:.0f}%."
        if known
        else "no window recorded its features."
    )
    return line_chart(
        _x(runs),
        {"drifted features (%)": shares},
        title="Share of drifted features",
        alt=alt,
        xlabel="window start (UTC)",
        ylabel="% of features",
    )


def _rows_chart(runs: Sequence[dict[str, Any]]) -> Chart:
    rows = [float(r.get("rows") or 0) for r in runs]
    labelled = [float(r.get("labelled") or 0) for r in runs]
    alt = (
        f"Rows judged per window over {_span(runs)}: {sum(rows):,.0f} in all, "
        f"{rows[-1]:,.0f} in the latest window; {sum(labelled):,.0f} had a label."
    )
    return line_chart(
        _x(runs),
        {"rows": rows, "labelled rows": labelled},
        title="Rows per window",
        alt=alt,
        xlabel="window start (UTC)",
        ylabel="rows",
    )


def monitoring_charts(
    runs: Sequence[dict[str, Any]], metric: str | None = None
) -> list[tuple[str, Chart]]:
    """``(id, Chart)`` for each chart of the stored windows ``runs`` (oldest first): status,
    realized and estimated ``metric`` (else the first metric stored), share of drifted
    features, rows. Empty without runs."""
    if not runs:
        return []
    charts: list[tuple[str, Chart | None]] = [
        ("status", _status_chart(runs)),
        ("performance", _performance_chart(runs, metric)),
        ("drift", _drift_chart(runs)),
        ("rows", _rows_chart(runs)),
    ]
    return [(key, chart) for key, chart in charts if chart is not None]
