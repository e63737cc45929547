"""``mlwright register`` / ``train --register`` / ``models ...`` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..cli.test_cli import run


def test_register_promote_and_history_by_cli(
    trained_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLWRIGHT_REGISTRY", str(tmp_path / "reg"))
    monkeypatch.setenv("MLWRIGHT_USER", "dana")
    code, out, _ = run(["register", str(trained_model_dir), "--name", "churn", "--json"], capsys)
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = run(
        ["register", str(trained_model_dir), "-n", "churn", "--alias", "staging", "--json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["aliases"] == ["staging"]
    assert run(["models", "promote", "churn@1", "--reason", "first"], capsys)[0] == 0
    code, out, _ = run(["models", "promote", "churn@staging", "--reason", "v2 wins"], capsys)
    assert code == 0 and "version 1 → 2" in out

    code, out, _ = run(["models", "history", "churn", "--json"], capsys)
    events = json.loads(out)["events"]
    assert [e["action"] for e in events] == [
        "register",
        "register",
        "promote",
        "promote",
        "promote",
    ]
    assert events[-1]["actor"] == "dana" and events[-1]["reason"] == "v2 wins"

    today = events[-1]["at"][:10]
    code, out, _ = run(["models", "history", "churn", "--at", today, "--json"], capsys)
    document = json.loads(out)
    assert document["version"] == 2 and [e["version"] for e in document["events"]] == [1, 2]

    code, out, _ = run(["models", "list", "--json"], capsys)
    assert json.loads(out)["models"][0]["aliases"] == {"production": 2, "staging": 2}
    code, out, _ = run(["models", "show", "churn@production", "--json"], capsys)
    shown = json.loads(out)
    assert shown["version"] == 2 and shown["source"]["target"] == "Churn"

    code, _, err = run(["models", "promote", "churn@1", "--expected", "1", "--reason", "x"], capsys)
    assert code == 1 and "not 1 as expected" in err
    code, _, err = run(["models", "promote", "churn", "--reason", "x"], capsys)
    assert code == 1 and "does not say which version" in err
    code, _, err = run(["models", "history", "churn", "--at", "March"], capsys)
    assert code == 1 and "not an ISO date" in err


def test_train_register(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = Path(__file__).parents[2] / "examples" / "telco_churn" / "train.csv"
    registry = tmp_path / "reg"
    code, out, err = run(
        [
            "train",
            str(data),
            "-t",
            "Churn",
            "--time-limit",
            "5",
            "--preset",
            "fast",
            "--out",
            str(tmp_path / "m"),
            "--register",
            "churn",
            "--registry",
            str(registry),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["registered"]["version"] == 1
    code, out, _ = run(["models", "show", "churn", "--registry", str(registry), "--json"], capsys)
    assert [v["version"] for v in json.loads(out)["versions"]] == [1]
