"""Charts for reports and the dashboard: matplotlib drawn to SVG, each with alt text and the
table of numbers behind it.

Every chart is a :class:`Chart`: ``to_html()`` gives a ``<figure>`` holding the picture as an
embedded SVG image (no network needed to show it), a caption, and the numbers in a collapsible
table, so a screen reader, a copy-paste and a printout all get the data.

Example:
    >>> chart = bar_chart(["tenure", "contract"], [0.31, 0.12], title="What drives predictions",
    ...                   alt="Tenure matters most.", xlabel="mean |effect|")
    >>> "<figure" in chart.to_html()
    True
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PALETTE",
    "Chart",
    "bar_chart",
    "figure",
    "finish",
    "heatmap",
    "line_chart",
    "scatter_chart",
]

# colour-blind safe (Okabe-Ito), first the main colour
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_RC = {
    "svg.fonttype": "none",  # text stays text: smaller files, selectable words
    "svg.hashsalt": "mlwright",  # same chart, same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": None,  # set below (needs cycler)
}


@dataclass
class Chart:
    """One picture: its title, alt text (what it shows and what to take from it), the SVG markup
    and the table of numbers drawn."""

    title: str
    alt: str
    svg: str
    table: pd.DataFrame

    def data_uri(self) -> str:
        """The SVG as a ``data:`` URI for an ``<img src>``."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()

    def table_html(self, max_rows: int = 50) -> str:
        """The numbers behind the chart as an HTML table (first ``max_rows`` rows)."""
        shown = self.table.head(max_rows)
        body = shown.to_html(
            index=False, border=0, classes="data", float_format=lambda v: f"{v:,.4g}", na_rep="—"
        )
        if len(self.table) > max_rows:
            body += f"<p class='note'>First {max_rows} of {len(self.table)} rows.</p>"
        return body

    def to_html(self) -> str:
        """A ``<figure>``: the image with its alt text, the caption, the data table."""
        alt = html.escape(self.alt, quote=True)
        return (
            f"<figure class='chart'><img src='{self.data_uri()}' alt='{alt}'>"
            f"<figcaption><strong>{html.escape(self.title)}</strong> {html.escape(self.alt)}"
            f"</figcaption><details><summary>Data behind this chart</summary>"
            f"{self.table_html()}</details></figure>"
        )


def figure(width: float = 6.4, height: float = 3.2) -> tuple[Any, Any]:
    """A new ``(Figure, Axes)`` in the house style, outside pyplot: no global state."""
    from cycler import cycler
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    style = {**_RC, "axes.prop_cycle": cycler(color=PALETTE)}
    with _rc_context(rcParams, style):
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
    return fig, ax


def finish(fig: Any, *, title: str, alt: str, table: pd.DataFrame) -> Chart:
    """Draw ``fig`` to SVG and wrap it as a :class:`Chart`."""
    from matplotlib import rcParams

    buffer = io.StringIO()
    with _rc_context(rcParams, {k: v for k, v in _RC.items() if k.startswith("svg.")}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE
    return Chart(title=title, alt=alt, svg=svg, table=table.reset_index(drop=True))


class _rc_context:
    """Set rcParams for the duration of a block, then restore them."""

    def __init__(self, params: Any, values: Mapping[str, Any]) -> None:
        self.params, self.values = params, values

    def __enter__(self) -> None:
        self.saved = {k: self.params[k] for k in self.values}
        self.params.update(self.values)

    def __exit__(self, *exc: object) -> None:
        self.params.update(self.saved)


def line_chart(
    x: Sequence[Any] | np.ndarray,
    series: Mapping[str, Sequence[float] | np.ndarray],
    *,
    title: str,
    alt: str,
    xlabel: str = "",
    ylabel: str = "",
    bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    hline: tuple[float, str] | None = None,
    diagonal: bool = False,
) -> Chart:
    """Lines over a shared x axis (dates work), with optional shaded bands (low, high) per
    series, a labelled horizontal reference line and a y = x diagonal."""
    fig, ax = figure()
    table = pd.DataFrame({xlabel or "x": list(x)})
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(x, values, label=name, color=colour, marker="o" if len(values) < 30 else None)
        table[name] = list(values)
        if bands and name in bands:
            low, high = bands[name]
            ax.fill_between(x, low, high, color=colour, alpha=0.15, linewidth=0)
            table[f"{name} (low)"] = list(low)
            table[f"{name} (high)"] = list(high)
    if hline is not None:
        ax.axhline(hline[0], color="#666666", linestyle="--", linewidth=1, label=hline[1])
    if diagonal:
        ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(series) > 1 or hline is not None:
        ax.legend(frameon=False)
    if _is_dates(x):
        fig.autofmt_xdate()
    return finish(fig, title=title, alt=alt, table=table)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float] | np.ndarray,
    *,
    title: str,
    alt: str,
    xlabel: str = "",
    errors: Sequence[float] | np.ndarray | None = None,
    colours: Sequence[str] | None = None,
    interval: tuple[Sequence[float], Sequence[float]] | None = None,
    vline: tuple[float, str] | None = None,
) -> Chart:
    """Horizontal bars, first label on top (labels stay readable however long).

    ``errors`` draws symmetric error bars; ``interval`` (low, high) draws each bar's own
    interval instead; ``vline`` is a labelled vertical reference line (e.g. the overall value).
    """
    height = max(1.6, 0.32 * len(labels) + 0.8)
    fig, ax = figure(height=height)
    positions = np.arange(len(labels))[::-1]
    xerr: Any = errors
    if interval is not None:
        middle = np.asarray(values, dtype=float)
        xerr = np.vstack(
            [middle - np.asarray(interval[0], float), np.asarray(interval[1], float) - middle]
        )
        xerr = np.where(np.isfinite(xerr), np.maximum(xerr, 0), 0)
    ax.barh(
        positions,
        values,
        xerr=xerr,
        color=list(colours) if colours is not None else PALETTE[0],
        error_kw={"ecolor": "#444444", "capsize": 2, "linewidth": 1},
    )
    ax.set_yticks(positions, labels=[_short(label) for label in labels])
    ax.grid(axis="y", visible=False)
    ax.axvline(0, color="#444444", linewidth=0.8)
    if vline is not None:
        ax.axvline(vline[0], color=PALETTE[3], linestyle="--", linewidth=1, label=vline[1])
        ax.legend(frameon=False, loc="lower right")
    ax.set_xlabel(xlabel)
    table = pd.DataFrame({"label": list(labels), xlabel or "value": list(values)})
    if errors is not None:
        table["error"] = list(errors)
    if interval is not None:
        table["low"], table["high"] = list(interval[0]), list(interval[1])
    return finish(fig, title=title, alt=alt, table=table)


def _short(label: str, width: int = 32) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _is_dates(x: Sequence[Any] | np.ndarray) -> bool:
    return len(x) > 0 and pd.api.types.is_datetime64_any_dtype(pd.Series(list(x)))


def scatter_chart(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    title: str,
    alt: str,
    xlabel: str = "",
    ylabel: str = "",
    diagonal: bool = False,
    hline: tuple[float, str] | None = None,
    max_points: int = 1000,
    seed: int = 0,
) -> Chart:
    """Points (a random ``max_points`` of them at most, which keeps the file small), with an
    optional y = x line over the data's range and a labelled horizontal reference line."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(xs), max_points, replace=False))
        xs, ys = xs[keep], ys[keep]
    fig, ax = figure()
    ax.scatter(xs, ys, s=6, alpha=0.45, color=PALETTE[0], linewidths=0)
    if diagonal and len(xs):
        low = float(min(xs.min(), ys.min()))
        high = float(max(xs.max(), ys.max()))
        ax.plot([low, high], [low, high], color="#666666", linestyle=":", linewidth=1)
    if hline is not None:
        ax.axhline(hline[0], color="#666666", linestyle="--", linewidth=1, label=hline[1])
        ax.legend(frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    table = pd.DataFrame({xlabel or "x": xs, ylabel or "y": ys})
    return finish(fig, title=title, alt=alt, table=table)


def heatmap(
    matrix: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    title: str,
    alt: str,
    xlabel: str = "",
    ylabel: str = "",
) -> Chart:
    """A grid of counts, each cell labelled with its number (a confusion matrix)."""
    values = np.asarray(matrix, dtype=float)
    size = max(2.4, 0.45 * len(columns) + 1.6)
    fig, ax = figure(width=min(9.0, size + 1.2), height=min(9.0, size))
    ax.grid(False)
    shown = values / np.maximum(values.sum(axis=1, keepdims=True), 1)  # colour: share of the row
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    if len(columns) <= 15:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                dark = shown[i, j] > 0.55
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:,.0f}",
                    ha="center",
                    va="center",
                    color="white" if dark else "#222222",
                    fontsize=8,
                )
    ax.set_xticks(range(len(columns)), labels=[_short(str(c), 14) for c in columns])
    ax.set_yticks(range(len(rows)), labels=[_short(str(r), 20) for r in rows])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    table = pd.DataFrame(values.astype(np.int64), columns=[str(c) for c in columns])
    table.insert(0, ylabel or "row", [str(r) for r in rows])
    return finish(fig, title=title, alt=alt, table=table)
