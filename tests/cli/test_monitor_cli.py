"""``mlwright feedback`` and ``mlwright monitor`` as a user types them, on a real model whose
predictions were logged, with a project file that sends alerts to a local webhook."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import mlwright
from mlwright.registry import open_registry

from ..conftest import EXAMPLE
from ..monitoring.test_alerts import Webhook
from ..monitoring.test_service import START, assert_calm, log_rows, shift_tenure
from .test_cli import run

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[mlwright.Model, Path]:
    trained = mlwright.train(
        EXAMPLE / "train.csv", target="Churn", time_limit=5, preset="fast", seed=0
    )
    return trained, trained.save(tmp_path_factory.mktemp("cli-monitor") / "churn")


def test_feedback_and_monitor_by_cli(
    model: tuple[mlwright.Model, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    churn, model_dir = model
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLWRIGHT_REGISTRY", str(tmp_path / "reg"))
    assert run(["register", str(model_dir), "-n", "churn", "--alias", "production"], capsys)[0] == 0
    rows = mlwright.read_data(EXAMPLE / "test.csv")
    reg = open_registry()
    ids = log_rows(reg, churn, rows.iloc[:700], START, "a")
    log_rows(reg, churn, shift_tenure(rows.iloc[700:]), START + DAY, "b")
    log_rows(reg, churn, rows.iloc[700:], START + 2 * DAY, "c")
    reg.close()

    labels = pd.DataFrame({"request_id": ids[:300], "actual": list(rows["Churn"][:300])})
    labels = pd.concat(
        [labels, pd.DataFrame({"request_id": ["", "later-1", "a-5"], "actual": ["No", "Yes", ""]})]
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    code, out, err = run(["feedback", "churn", "labels.csv", "--json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert (document["received"], document["stored"], document["matched"]) == (303, 301, 300)
    assert document["unmatched_request_ids"] == ["later-1"] and document["invalid"] == 2
    rejects = pd.read_csv(tmp_path / "labels.rejects.csv", keep_default_na=False)
    assert list(rejects["_row"]) == [300, 302]
    assert list(rejects["_reason"]) == ["request_id is missing", "actual is missing"]
    code, out, _ = run(["feedback", "churn", "labels.csv"], capsys)
    assert code == 0 and "301 stored, 300 matched" in out and "labels.rejects.csv" in out

    with Webhook() as hook:
        (tmp_path / "mlwright.toml").write_text(
            f'[alerts]\nwebhook_url = "{hook.url}"\nretries = 1\nbackoff_s = 0.01\n'
        )

        def monitor(day: int, *extra: str) -> tuple[int, str, str]:
            since = (START + day * DAY).isoformat()
            until = (START + (day + 1) * DAY).isoformat()
            return run(
                ["monitor", "churn@production", "--since", since, "--until", until, *extra], capsys
            )

        code, out, err = monitor(0, "--json")
        assert code == 0, err
        calm = json.loads(out)
        assert_calm(calm)
        assert calm["rows"] == 700 and calm["labelled"] == 300
        assert calm["performance"]["labelled_rows"] == 300 and calm["alerts"] == []

        code, out, err = monitor(1)
        assert code == 0, err  # a report, not a failure
        assert "status: ALERT" in out and "Drift per input column" in out
        assert "Feature 'tenure' drifted" in out and "alert opened: [status:alert]" in out
        assert [m["event"] for m in hook.received] == ["alert"]

        code, out, _ = monitor(1, "--json", "--fail-on", "alert")
        assert code == 2
        alert = json.loads(out)
        assert alert["status"] == "alert" and alert["alerts"][0]["event"] == "open"
        assert [f["name"] for f in alert["features"] if f["drifted"]] == ["tenure"]
        assert len(hook.received) == 1  # the open alert is not sent again

        code, out, _ = monitor(2)
        assert code == 0 and "alert cleared: [status:alert]" in out
        assert [m["event"] for m in hook.received] == ["alert", "resolved"]

    code, out, err = run(
        ["monitor", "churn@production", "--since", START.isoformat(), "--window", "1d", "--json"],
        capsys,
    )
    assert code == 0, err
    windows = json.loads(out)["windows"]
    assert [w["status"] for w in windows][1] == "alert" and len(windows) >= 3
    code, out, _ = run(["monitor", "churn@production", "--window", "1d", "--since", "4d"], capsys)
    assert code == 0 and "Windows" in out

    code, out, err = run(
        ["monitor", "churn@production", "--since", "2001-01-01", "--until", "2001-02-01"], capsys
    )
    assert code == 0 and "No predictions were logged for churn@1" in out
    code, _, err = run(["monitor", "churn@production", "--since", "last week"], capsys)
    assert code == 1 and "neither an ISO date/time nor a duration" in err
    code, _, err = run(["monitor", "churn@production", "--fail-on", "never"], capsys)
    assert code == 1 and "--fail-on must be warning or alert" in err
    code, _, err = run(["monitor", "nobody@production"], capsys)
    assert code == 1 and "nobody" in err
    code, _, err = run(["feedback", "churn", "missing.csv"], capsys)
    assert code == 1 and "missing.csv" in err
