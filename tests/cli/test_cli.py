"""The CLI as users run it: train, evaluate, predict, profile, init, with --json and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlwright.cli import app, main

from ..conftest import EXAMPLE, REPO


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    df = pd.read_csv(EXAMPLE / "train.csv", dtype=str, keep_default_na=False).head(1500)
    path = folder / "train.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models") / "churn"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlwright",
            "train",
            str(small_csv),
            "--target",
            "Churn",
            "--time-limit",
            "20",
            "--max-trials",
            "2",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_train_json(trained: tuple[Path, dict]):
    out, doc = trained
    assert doc["model_dir"] == str(out) and doc["task"] == "binary"
    assert doc["leaderboard"]["rows"] and doc["cv_evaluation"]["metrics"]
    assert "customerID" in doc["dropped_columns"]


def test_evaluate_json_and_table(trained, capsys):
    out, _ = trained
    code, stdout, _ = run(
        ["evaluate", str(out), str(EXAMPLE / "test.csv"), "--json", "--n-boot", "100"], capsys
    )
    assert code == 0
    doc = json.loads(stdout)
    names = [m["name"] for m in doc["metrics"]]
    assert names[0] == "roc_auc" and doc["threshold"] is not None
    code, stdout, _ = run(
        ["evaluate", str(out), str(EXAMPLE / "test.csv"), "--n-boot", "100"], capsys
    )
    assert code == 0 and "roc_auc" in stdout and "95%" in stdout


def test_predict_writes_output_and_rejects(trained, tmp_path: Path, capsys):
    out, _ = trained
    rows = pd.read_csv(EXAMPLE / "test.csv", dtype=str, keep_default_na=False).head(30)
    rows.loc[4, "tenure"] = "twelve"
    src = tmp_path / "new.csv"
    rows.to_csv(src, index=False)
    dest = tmp_path / "scored.parquet"
    rej = tmp_path / "bad.csv"
    code, stdout, err = run(
        ["predict", str(out), str(src), "-o", str(dest), "--rejects", str(rej), "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["scored"] == 29 and doc["rejected"] == 1
    scored = pd.read_parquet(dest)
    assert list(scored.columns[:3]) == ["row", "customerID", "prediction"]
    assert 4 not in set(scored["row"])
    bad = pd.read_csv(rej)
    assert bad["_row"].tolist() == [4] and "tenure" in bad["_reason"][0]


def test_predict_to_stdout(trained, capsys):
    out, _ = trained
    code, stdout, _ = run(["predict", str(out), str(EXAMPLE / "test.csv")], capsys)
    assert code == 0
    assert stdout.splitlines()[0].startswith("row,customerID,prediction,proba_No,proba_Yes")
    assert len(stdout.splitlines()) == 1 + len(pd.read_csv(EXAMPLE / "test.csv"))


def test_profile_json_and_file(small_csv: Path, tmp_path: Path, capsys):
    dest = tmp_path / "p.json"
    code, stdout, _ = run(
        ["profile", str(small_csv), "--target", "Churn", "--json", "-o", str(dest)], capsys
    )
    assert code == 0
    doc = json.loads(stdout)
    assert json.loads(dest.read_text()) == doc
    roles = {c["name"]: c["role"] for c in doc["columns"]}
    assert roles["customerID"] == "identifier" and roles["Churn"] == "target"


def test_init_then_train_reads_project_file(
    small_csv: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["init", str(small_csv), "--target", "Churn"], capsys)
    assert code == 0, err
    text = Path("mlwright.toml").read_text()
    assert 'target = "Churn"' in text and 'metric = "roc_auc"' in text
    code, _, err = run(["init", str(small_csv), "--target", "Churn"], capsys)
    assert code == 1 and "--force" in err
    Path("mlwright.toml").write_text(
        text.replace("time_limit = 60", "time_limit = 15\nmax_trials = 1")
    )
    code, stdout, err = run(["train", "--json", "--out", "m"], capsys)  # all from the file
    assert code == 0, err
    assert json.loads(stdout)["leaderboard"]["rows"][0]["learner"] == "lightgbm"
    Path("mlwright.toml").write_text(text + "\n[serving]\nport = 1\n")
    code, _, err = run(["train"], capsys)
    assert code == 1 and "unknown key 'serving'" in err


def test_errors_are_one_line_and_debug_shows_traceback(tmp_path: Path, capsys):
    missing = tmp_path / "nope.csv"
    code, _, err = run(["train", str(missing), "--target", "y"], capsys)
    assert code == 1 and err.strip().startswith("error:") and "Traceback" not in err
    code, _, err = run(["--debug", "train", str(missing), "--target", "y"], capsys)
    assert code == 1 and "Traceback" in err


def test_usage_errors_are_usage_errors(capsys):
    # Typer 0.2x raises its own copy of click's exceptions: still a usage error (exit 2)
    code, _, err = run(["train", "data.csv", "--no-such-option"], capsys)
    assert code == 2 and "No such option" in err and "internal error" not in err
    code, _, err = run(["no-such-command"], capsys)
    assert code == 2 and "internal error" not in err


def test_python_m_and_console_script():
    proc = subprocess.run(
        [sys.executable, "-m", "mlwright", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0 and "train" in proc.stdout


def test_every_command_is_documented_with_an_example():
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help and "Example:" in command.help, name
        assert f"mlwright {name}" in command.help, name
        assert name in (REPO / "README.md").read_text(), name
    assert isinstance(app, typer.Typer)


def test_train_with_costs_preset_and_latency_then_compact(
    small_csv: Path, trained, tmp_path: Path, capsys
):
    out = tmp_path / "costed"
    args = ["train", str(small_csv), "-t", "Churn", "--time-limit", "15", "--preset", "fast"]
    args += ["--fp-cost", "1", "--fn-cost", "5", "--max-latency-ms", "1000", "-o", str(out)]
    code, stdout, err = run([*args, "--json"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["cv_evaluation"]["cost"]["fn"] == 5.0
    assert doc["compaction"]["max_latency_ms"] == 1000.0
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["settings"]["training"]["preset"] == "fast"
    assert saved["settings"]["costs"] == {"fp": 1.0, "fn": 5.0}

    model_dir, _ = trained
    small = tmp_path / "small"
    code, stdout, err = run(["compact", str(model_dir), str(small_csv), "-o", str(small)], capsys)
    assert code == 0, err
    # the fixture's model is trained with the default preset: its members are refitted on all
    # rows already, so compaction chooses among the ensemble and its members
    assert "serving options" in stdout and "ensemble" in stdout
    assert (small / "manifest.json").is_file()
