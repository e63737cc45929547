"""The model card of a real churn model registered and promoted with reasons: owner fields are
marked, never invented; sensitive columns get a table per group; lineage and approvals come from
the registry's audit log; ``mlwright card`` writes it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import mlwright
from mlwright.cli import report as report_cli
from mlwright.errors import ConfigError
from mlwright.registry import open_registry
from mlwright.report import model_card, report_html

from .conftest import EXAMPLE

FILL = "_To be filled in by the model owner: "


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("card")
    model = mlwright.train(EXAMPLE / "train.csv", target="Churn", time_limit=5, preset="fast")
    reg = open_registry(root / "registry")
    reg.register(model.save(root / "churn"), "churn", actor="ana", note="first try")
    reg.promote("churn", 1, "staging", reason="ready for review", actor="ana")
    reg.promote("churn", 1, "production", reason="approved by risk board", actor="carla")
    return {"model": model, "registry": reg, "root": root}


def _table(card: str, heading: str) -> list[list[str]]:
    """The rows of the Markdown table under ``### heading``."""
    section = card.split(f"### {heading}\n", 1)[1].split("\n\n#", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_owner_fields_are_marked_not_invented(churn: dict[str, Any]) -> None:
    card = model_card(churn["model"])
    assert card.startswith("# Model card: Churn model")
    for label in (
        "Intended use",
        "Out-of-scope uses",
        "Owner and contact",
        "Ethical considerations",
    ):
        assert re.search(rf"\*\*{label}:\*\* {re.escape(FILL)}[^_\n]+_", card), label
    assert card.count(FILL) == 4
    assert "No column is marked as sensitive" in card
    assert "Not registered" in card
    # cross-validated figures of a refitted model are said to come from the fold models
    refitted = churn["model"].predictor_.refitted
    assert ("The served model refits " + ", ".join(refitted) in card) == bool(refitted)


def test_sensitive_columns_get_one_row_per_group(churn: dict[str, Any]) -> None:
    model = churn["model"]
    card = model_card(model, sensitive=["gender", "SeniorCitizen", "tenure"])
    gender = _table(card, "gender")
    assert sorted(row[0] for row in gender) == ["Female", "Male"]
    sample = model.reference_.sample_rows()
    counts = sample["gender"].value_counts()
    assert {row[0]: int(row[1].replace(",", "")) for row in gender} == counts.to_dict()
    for row in gender:
        value, (low, high) = float(row[2]), map(float, row[3].split(" to "))
        assert low <= value <= high and 0.5 < value <= 1.0
    assert sorted(row[0] for row in _table(card, "SeniorCitizen")) == ["no", "yes"]
    assert len(_table(card, "tenure")) == 4  # quartiles of a number
    gap = re.search(r"Gap between the best and the worst group: ([0-9.]+) roc_auc", card)
    values = [float(row[2]) for row in gender]
    assert gap and float(gap[1]) == pytest.approx(max(values) - min(values), abs=2e-3)


def test_sensitive_column_outside_the_model_needs_given_rows(churn: dict[str, Any]) -> None:
    model = churn["model"]
    with pytest.raises(ConfigError, match="'region' is not a column of the training data"):
        model_card(model, sensitive=["region"])
    test = mlwright.read_data(EXAMPLE / "test.csv")
    test["region"] = np.where(np.arange(len(test)) % 3 == 0, "west", "east")
    card = model_card(model, sensitive=["region"], data=test)
    region = {row[0]: int(row[1].replace(",", "")) for row in _table(card, "region")}
    assert region == {"east": 939, "west": 470}
    assert "1,409 labelled rows given for evaluation" in card


def test_lineage_and_approvals_come_from_the_registry(churn: dict[str, Any]) -> None:
    reg = churn["registry"]
    card = model_card(churn["model"], registry=reg, name="churn", version=1)
    assert card.startswith("# Model card: churn@1")
    version = reg.get("churn", 1)
    assert f"`{version.digest[:16]}…`" in card and "by ana" in card and "note: first try" in card
    assert "carla moved **production** to this version; reason: approved by risk board" in card
    assert "ana moved **staging** to this version; reason: ready for review" in card
    assert "Data: column 'customerID' (identifier)" in card
    html = report_html(churn["model"], registry=reg, name="churn", version=1)
    assert "To be filled in by the model owner" in html and "approved by risk board" in html


def test_card_command(churn: dict[str, Any], tmp_path: Path) -> None:
    app = typer.Typer()
    report_cli.register(app)
    runner = CliRunner()
    out = tmp_path / "card.md"
    reg = str(churn["root"] / "registry")
    args = ["card", "churn@1", "-o", str(out), "--sensitive", "gender", "--registry", reg]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    card = out.read_text()
    assert "### gender" in card and "approved by risk board" in card
    result = runner.invoke(app, ["card", "churn@1", "-o", str(tmp_path / "card.txt")])
    assert isinstance(result.exception, ConfigError) and ".md" in str(result.exception)


def test_owner_fields_come_from_the_project_file(
    churn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mlwright.toml").write_text(
        '[card]\nintended_use = "Pick customers for the retention offer each month."\n'
        'owner = "Retention analytics"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    report_cli.register(app)
    out = tmp_path / "card.md"
    reg = str(churn["root"] / "registry")
    result = CliRunner().invoke(app, ["card", "churn@1", "-o", str(out), "--registry", reg])
    assert result.exit_code == 0, result.output
    card = out.read_text()
    assert "**Intended use:** Pick customers for the retention offer each month." in card
    assert "Retention analytics" in card and card.count(FILL) == 2
