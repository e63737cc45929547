"""Render the stakeholder report (one self-contained HTML page, or a PDF printed from it by
headless Chromium) and the model card (Markdown), from Jinja2 templates shipped in the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from mlwright.errors import ConfigError, MlwrightError
from mlwright.model import Model
from mlwright.registry import ModelVersion, Registry
from mlwright.report import card as card_module
from mlwright.report import history
from mlwright.report.drivers import drivers
from mlwright.report.evidence import Rows, collect_rows, fmt, time_range
from mlwright.report.plain import headline, subject
from mlwright.report.segments import Segment, segment_metric, segments_chart, weak_segments
from mlwright.report.technical import leaderboard_rows, technical_charts

__all__ = ["model_card", "report_html", "write_report"]

PDF_TIMEOUT_S = 120
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass
class _Target:
    """Which registered version the model is, and the registry, when known."""

    registry: Registry | None
    version: ModelVersion | None


def _resolve(registry: Registry | None, name: str | None, version: int | None) -> _Target:
    if registry is None:
        return _Target(None, None)
    if name is None:
        raise ConfigError(
            "a registry was given without the model's name; pass name= (and version=) so the "
            "report can find this version's history, e.g. name='churn', version=3."
        )
    selector: int | str = version if version is not None else history.PRODUCTION
    return _Target(registry, registry.get(name, selector, allow_archived=True))


def report_html(
    model: Model,
    *,
    registry: Registry | None = None,
    name: str | None = None,
    version: int | None = None,
    data: pd.DataFrame | None = None,
) -> str:
    """The stakeholder report of ``model`` as one self-contained HTML page.

    Part 1 is for decision makers (what it predicts, how good in plain words with 95%
    intervals, money, drivers, weak spots, data quality, the previous version, behaviour since
    deployment); part 2 is technical (leaderboard, calibration, curves, confusion matrix,
    residuals); the model card closes it. Performance is measured on ``data`` (labelled rows)
    when given, otherwise on the out-of-fold predictions kept with the model. With ``registry``
    and ``name``, ``version`` (default: the production version) adds the registry's history.

    Example:
        >>> html = report_html(mlwright.load("models/churn"))
        >>> Path("report.html").write_text(html)
    """
    target = _resolve(registry, name, version)
    context = _context(model, target, data, sensitive=())
    return _environment().get_template("report.html.j2").render(**context)


def model_card(
    model: Model,
    *,
    registry: Registry | None = None,
    name: str | None = None,
    version: int | None = None,
    sensitive: Sequence[str] = (),
    data: pd.DataFrame | None = None,
) -> str:
    """The model card in Markdown: use, data, metrics with intervals, results per group of the
    ``sensitive`` columns (default: ``[constraints] sensitive_columns``), limitations, lineage
    and approvals. Fields only the owner knows are marked to be filled in, never invented.

    Example:
        >>> text = model_card(model, sensitive=["gender"], data=test_df)
        >>> Path("card.md").write_text(text)
    """
    target = _resolve(registry, name, version)
    rows = collect_rows(model, data)
    seed = int(model.info_.get("seed", 0))
    weak = weak_segments(model, rows, seed=seed)
    facts = _card(model, rows, target, sensitive, weak)
    return _environment().get_template("card.md.j2").render(card=facts)


def write_report(
    model: Model,
    path: str | os.PathLike[str],
    *,
    registry: Registry | None = None,
    name: str | None = None,
    version: int | None = None,
    data: pd.DataFrame | None = None,
) -> Path:
    """Write the report to ``path``: ``.html``, or ``.pdf`` printed by headless Chromium
    (``chromium`` on the PATH, or ``MLWRIGHT_CHROMIUM``).

    Example:
        >>> write_report(model, "report.pdf", registry=reg, name="churn", version=3)
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise ConfigError(
            f"cannot write a report to '{out.name}': expected a file ending in .html or .pdf. "
            "For example: -o report.html"
        )
    browser = _browser() if suffix == ".pdf" else None
    page = report_html(model, registry=registry, name=name, version=version, data=data)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix != ".pdf":
        out.write_text(page, encoding="utf-8")
        return out
    assert browser is not None
    _print_pdf(browser, page, out)
    return out


# -- context -----------------------------------------------------------------------------------
def _context(
    model: Model, target: _Target, data: pd.DataFrame | None, sensitive: Sequence[str]
) -> dict[str, Any]:
    started = time.monotonic()
    seed = int(model.info_.get("seed", 0))
    rows = collect_rows(model, data)
    weak = weak_segments(model, rows, seed=seed)
    overall = _overall(rows, segment_metric(model))
    this = target.version
    previous = None
    first = False
    deployed = None
    if target.registry is not None and this is not None:
        found = history.previous_version(target.registry, this)
        first = found is None
        if found is not None:
            previous = history.compare_previous(model, this, found[0], found[1], rows)
        deployed = history.deployment(target.registry, this, model)
    driven = drivers(model, rows, seed=seed)
    card = _card(model, rows, target, sensitive, weak)
    charts = technical_charts(model, rows)
    return {
        "title": f"{this.ref if this else model.info_['target'] + ' model'}: model report",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model,
        "version": this,
        "subject": subject(model),
        "measured_on": rows.description,
        "measured_kind": rows.kind,
        "what": _what(model, rows),
        "headline": headline(model, rows),
        "drivers": driven,
        "drivers_chart": None if driven is None else Markup(driven.chart.to_html()),
        "segments": weak[:8],
        "segments_worse": [s for s in weak if s.worse],
        "segments_checked": len(weak),
        "segments_chart": Markup(segments_chart(model, weak, overall).to_html()) if weak else None,
        "overall": fmt(overall),
        "segment_metric": segment_metric(model),
        "quality": _quality(model),
        "registered": this is not None,
        "previous": previous,
        "first": first,
        "deployed": deployed,
        "deployed_charts": [Markup(c.to_html()) for c in (deployed.charts if deployed else [])],
        "leaderboard": leaderboard_rows(model),
        "metrics": card.metrics,
        "charts": [Markup(c.to_html()) for c in charts],
        "card": card,
        "elapsed": f"{time.monotonic() - started:.1f}",
        "fmt": fmt,
    }


def _card(
    model: Model,
    rows: Rows,
    target: _Target,
    sensitive: Sequence[str],
    weak: Sequence[Segment],
) -> card_module.CardFacts:
    approvals = []
    if target.registry is not None and target.version is not None:
        approvals = history.approvals(target.registry, target.version)
    return card_module.card_facts(
        model,
        rows,
        this=target.version,
        registry=target.registry,
        sensitive=sensitive,
        weak=weak,
        approvals=approvals,
    )


def _overall(rows: Rows, name: str) -> float:
    for m in rows.evaluation.metrics:
        if m.name == name:
            return float(m.value)
    return float("nan")


def _what(model: Model, rows: Rows) -> dict[str, Any]:
    info = model.info_
    return {
        "target": info["target"],
        "task": {
            "binary": "a yes/no outcome (binary classification)",
            "multiclass": "one of several classes (multiclass classification)",
            "regression": "a number (regression)",
        }[model.task_],
        "classes": model.classes_,
        "rows": info.get("rows"),
        "rows_used": info.get("rows_used"),
        "time_range": time_range(model, rows),
        "inputs": model.schema_.feature_names,
        "dropped": [f"{c.name} ({c.reason or c.role.value})" for c in model.schema_.dropped],
        "threshold": model.threshold_,
        "costs": model.settings.costs,
    }


def _quality(model: Model) -> dict[str, Any]:
    info = model.info_
    return {
        "warnings": list(info.get("warnings") or []),
        "suspects": list(info.get("suspects") or []),
        "rejected": int(info.get("rows_rejected") or 0),
        "rows": int(info.get("rows") or 0),
        "skipped": info.get("skipped") or [],
    }


# -- templates and printing --------------------------------------------------------------------
@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = fmt
    env.filters["md"] = _markdown_cell
    return env


def _markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _browser() -> str:
    configured = os.environ.get("MLWRIGHT_CHROMIUM")
    if configured:
        if shutil.which(configured) or Path(configured).is_file():
            return configured
        raise ConfigError(
            f"MLWRIGHT_CHROMIUM is '{configured}', which is not an executable. Point it at a "
            "Chromium or Chrome binary, or unset it."
        )
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "writing a PDF needs headless Chromium, and none was found (chromium, chromium-browser "
        "or google-chrome on the PATH). Install it (Debian/Ubuntu: `apt-get install chromium`), "
        "or set MLWRIGHT_CHROMIUM to its path, or write -o report.html and print that to PDF "
        "from a browser."
    )


def _print_pdf(browser: str, page: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mlwright-report-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(page, encoding="utf-8")
        target = out.resolve()
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={target}",
            source.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise MlwrightError(
                f"Chromium did not finish printing the PDF within {PDF_TIMEOUT_S} s; write "
                "-o report.html instead and print it from a browser."
            ) from None
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise MlwrightError(
                f"Chromium ({browser}) failed to print the PDF (exit {done.returncode}: "
                f"{detail[0][:200]}). Write -o report.html instead, or check the browser."
            )
