"""The stakeholder report on real models: a churn classifier registered twice (so there is a
previous production version) whose predictions were logged and monitored, and a small
regression model; the HTML is checked for its numbers, its charts' alt text and tables, and for
no network reference; the PDF is printed by the real headless Chromium where one is installed."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import mlwright
from mlwright.cli import report as report_cli
from mlwright.errors import ConfigError
from mlwright.monitoring.service import monitor_logged
from mlwright.registry import Registry, open_registry
from mlwright.registry.operations import LoggedRow, PredictionLog
from mlwright.report import report_html, write_report
from mlwright.report.evidence import collect_rows, fmt
from mlwright.report.plain import headline

from .conftest import EXAMPLE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """v1 (on fewer rows) then v2 in production, with logged, labelled, monitored predictions."""
    root = tmp_path_factory.mktemp("report")
    train = mlwright.read_data(EXAMPLE / "train.csv")
    old = mlwright.train(train.head(2000), target="Churn", time_limit=3, preset="fast", seed=1)
    new = mlwright.train(train, target="Churn", time_limit=5, preset="fast", seed=0)
    reg = open_registry(root / "registry")
    reg.register(old.save(root / "v1"), "churn", actor="ana")
    reg.register(new.save(root / "v2"), "churn", actor="ana")
    reg.promote("churn", 1, "production", reason="first model", actor="ana")
    reg.promote("churn", 2, "production", reason="beats v1 on cv", actor="bo")
    test = mlwright.read_data(EXAMPLE / "test.csv")
    _log(reg, new, test.head(600))
    reg.operations.add_labels("churn", [f"r-{i}" for i in range(300)], list(test["Churn"][:300]))
    monitor_logged(reg, "churn", 2, new.reference_, new.schema_, window="1d")
    reg.record("churn", "retrain", version=3, reason="kept: the challenger was not better")
    return {"model": new, "registry": reg, "root": root, "test": test}


def _log(reg: Registry, model: mlwright.Model, rows: pd.DataFrame) -> None:
    now = datetime.now(UTC)
    proba = model.predict_proba(rows).to_numpy()
    labels = model.predict(rows)
    logged = [
        LoggedRow(f"r-{i}", now + timedelta(milliseconds=i), inputs, label, list(map(float, p)))
        for i, (inputs, label, p) in enumerate(
            zip(rows.to_dict("records"), labels, proba, strict=True)
        )
    ]
    with PredictionLog(reg, "churn", flush_interval=0.05) as plog:
        assert plog.submit(2, logged)


@pytest.fixture(scope="module")
def page(churn: dict[str, Any]) -> str:
    return report_html(churn["model"], registry=churn["registry"], name="churn", version=2)


def _text(html: str) -> str:
    body = re.sub(r"<(style|script)>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", text).replace("&#39;", "'").replace("&amp;", "&")


def test_plain_words_match_the_models_own_metrics(churn: dict[str, Any], page: str) -> None:
    model = churn["model"]
    cv = model.cv_evaluation_
    recall, precision = cv["recall"], cv["precision"]
    matrix = cv.confusion.to_numpy()
    every = round(matrix.sum() / (matrix[1, 1] + matrix[0, 1]))
    text = _text(page)
    found = re.search(
        r"finds (\d+) of every 100 Churn = 'Yes' cases, while flagging 1 in (\d+) rows; "
        r"between (\d+) and (\d+) with 95% confidence",
        text,
    )
    assert found, text[:3000]
    assert int(found[1]) == round(100 * recall.value)
    assert int(found[2]) == every
    assert (int(found[3]), int(found[4])) == (round(100 * recall.low), round(100 * recall.high))
    assert f"Of the rows it flags, {round(100 * precision.value)} in 100 are right" in text
    assert "5,634 training rows" in text and "out-of-fold" in text


def test_every_chart_has_alt_text_and_a_table_and_nothing_is_fetched(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert 'name="viewport"' in page and "@media print" in page
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) >= 8  # drivers, segments, 2 monitoring, confusion, roc, pr, gain, calib.
    for tag in images:
        alt = re.search(r"alt='([^']*)'", tag)
        assert alt and len(alt[1].strip()) > 20, tag[:200]
        assert "src='data:image/svg+xml;base64," in tag
    figures = re.findall(r"<figure class='chart'>.*?</figure>", page, flags=re.S)
    assert len(figures) == len(images)
    assert all("<table" in f and "Data behind this chart" in f for f in figures)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "src='http" not in page
    assert len(page.encode()) < 5_000_000


def test_sections_for_drivers_weak_spots_previous_version_and_deployment(
    churn: dict[str, Any], page: str
) -> None:
    text = _text(page)
    assert "higher tenure → lower probability of Churn = 'Yes'" in text
    assert "Contract = 'Month-to-month' raises" in text
    assert re.search(r"\d+ groups of rows were checked", text)
    assert "customerID (identifier)" in text  # data quality: the identifier set aside
    assert "Compared with version 1 (the version in production before it)" in text
    old = churn["registry"].get("churn", 1).metrics["cv"]["roc_auc"]["value"]
    assert f"{old:.3g}" in text
    assert "600 predictions logged, 300 with the true outcome known" in text
    assert "Share of drifted features" in text and "Performance per window (roc_auc)" in text
    assert "kept: the challenger was not better" in text
    assert "Leaderboard" in text and "ROC curve" in text and "Cumulative gain" in text
    assert "Calibration" in text and "Confusion matrix" in text
    assert "Model card" in text and "bo moved production to this version" in text


def test_report_on_given_rows_and_a_paired_comparison(churn: dict[str, Any]) -> None:
    model, test = churn["model"], churn["test"]
    html = report_html(model, registry=churn["registry"], name="churn", version=2, data=test)
    text = _text(html)
    assert "1,409 labelled rows given for evaluation" in text
    expected = model.evaluate(test)["recall"].value
    assert f"finds {round(100 * expected)} of every 100 Churn = 'Yes' cases" in text
    assert "a paired comparison says:" in text and "version 1" in text


def test_first_version_says_so(churn: dict[str, Any]) -> None:
    text = _text(report_html(churn["model"], registry=churn["registry"], name="churn", version=1))
    assert "This is the first version to go to production" in text


def test_regression_report_speaks_in_the_targets_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "size": rng.uniform(20, 200, n),
            "rooms": rng.integers(1, 6, n),
            "city": rng.choice(["north", "south", "east"], n),
        }
    )
    frame["price"] = 3 * frame["size"] + 20 * frame["rooms"] + rng.normal(0, 15, n)
    frame.loc[frame["city"] == "east", "price"] += rng.normal(
        0, 60, (frame["city"] == "east").sum()
    )
    model = mlwright.train(frame, target="price", time_limit=4, preset="fast")
    out = write_report(model, tmp_path / "sub" / "price.html")
    text = _text(out.read_text())
    mae = model.cv_evaluation_["mae"]
    assert f"off by {fmt(mae.value)}" in text
    assert "90% of predictions are within ±" in text
    assert "Predicted against actual" in text and "Residuals (actual - predicted)" in text
    assert "higher size → higher predicted price" in text
    assert "city = east" in text  # the noisy city is among the weakest groups
    assert "Small data: trained on 600 rows" in text
    numbers = headline(model, collect_rows(model, None)).numbers
    assert numbers["within_90"] > mae.value


def test_multiclass_report_names_the_weakest_class() -> None:
    rng = np.random.default_rng(0)
    n = 900
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["kind"] = np.where(frame.a > 0.5, "high", np.where(frame.b > 0, "mid", "low"))
    frame.loc[rng.random(n) < 0.15, "kind"] = "low"  # noise lands in 'low' only
    model = mlwright.train(frame, target="kind", time_limit=4, preset="fast")
    text = _text(report_html(model))
    accuracy = model.cv_evaluation_["accuracy"].value
    assert f"The model is right for {round(100 * accuracy)} of every 100 rows" in text
    assert "It is weakest on 'low'" in text and "'high' (finds" not in text
    assert "Recall per class" in text and "Calibration (reliability of the top class" in text


def test_write_report_refuses_unknown_suffixes_and_a_missing_browser(
    churn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"\.html or \.pdf"):
        write_report(churn["model"], tmp_path / "report.docx")
    monkeypatch.setenv("MLWRIGHT_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(ConfigError, match="MLWRIGHT_CHROMIUM"):
        write_report(churn["model"], tmp_path / "report.pdf")
    monkeypatch.delenv("MLWRIGHT_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="apt-get install chromium"):
        write_report(churn["model"], tmp_path / "report.pdf")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on the PATH")
def test_pdf_is_printed_by_headless_chromium(churn: dict[str, Any], tmp_path: Path) -> None:
    out = write_report(churn["model"], tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000


def test_report_command(churn: dict[str, Any], tmp_path: Path) -> None:
    app = typer.Typer()
    report_cli.register(app)
    runner = CliRunner()
    reg = str(churn["root"] / "registry")
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "churn@production", "-o", str(out), "--registry", reg])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "kB" in result.output
    assert "Compared with version 1" in _text(out.read_text())
    result = runner.invoke(app, ["report", str(churn["root"] / "v2"), "-o", str(tmp_path / "r")])
    assert isinstance(result.exception, ConfigError)
    assert "no suffix" in str(result.exception) and "-o report.html" in str(result.exception)
    folder = tmp_path / "folder.html"
    result = runner.invoke(app, ["report", str(churn["root"] / "v2"), "-o", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Not available: the report was made without a registry" in _text(folder.read_text())


def test_costs_turn_into_money_sentences() -> None:
    model = mlwright.train(
        EXAMPLE / "train.csv",
        target="Churn",
        time_limit=5,
        preset="fast",
        costs={"fp": 10, "fn": 200},
    )
    html = report_html(model)
    cost = model.cv_evaluation_.cost
    assert cost is not None
    assert "With a false alarm costing 10 and a missed case 200" in html
    assert f"cost {fmt(cost['per_row'])} per row" in html
