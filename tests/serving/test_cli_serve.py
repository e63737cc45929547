"""`mlwright serve` as users run it: a real process on a free port, and its refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from mlwright.cli import main

from .conftest import AUTH, PREDICT_KEY, records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_subprocess_end_to_end(model_dir: Path, test_rows, tmp_path: Path):
    port = _free_port()
    key_file = tmp_path / "keys"
    key_file.write_text(f"{PREDICT_KEY}:predict\n")
    env = {**os.environ, "MLWRIGHT_API_KEYS_FILE": str(key_file)}
    env.pop("MLWRIGHT_API_KEYS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlwright", "serve", str(model_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready within 60 s"
            time.sleep(0.2)
        body = {"dataframe_records": records(test_rows.head(3))}
        answer = httpx.post(f"{url}/predict", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3 and answer.headers["x-request-id"]
        assert httpx.post(f"{url}/predict", json=body).status_code == 401
        assert httpx.get(f"{url}/health").json()["model"]["name"] == "churn"
        # a batch in flight when SIGTERM arrives is still answered (graceful drain)
        batch = pd.concat([test_rows] * 200).to_csv(index=False)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post,
                f"{url}/predict",
                content=batch,
                headers={**AUTH, "Content-Type": "text/csv"},
                timeout=30,
            )
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            assert pending.result().status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    output = proc.stdout.read() if proc.stdout else ""
    # uvicorn drains, shuts the app down, then re-raises SIGTERM so the exit says why it stopped
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "serving churn" in output


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_serve_refuses_unsafe_or_wrong_setups(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("MLWRIGHT_API_KEYS", raising=False)
    monkeypatch.delenv("MLWRIGHT_API_KEYS_FILE", raising=False)
    code, err = _run(["serve", str(model_dir), "--host", "0.0.0.0", "--no-auth"], capsys)
    assert code == 1 and "--no-auth is refused on host '0.0.0.0'" in err
    code, err = _run(["serve", str(model_dir)], capsys)
    assert code == 1 and "no API keys configured" in err
    code, err = _run(["serve", "no/such/folder", "--no-auth"], capsys)
    assert code == 1 and "neither a model folder nor a registry reference" in err
    monkeypatch.setenv("MLWRIGHT_API_KEYS", "short:predict")
    code, err = _run(["serve", str(model_dir)], capsys)
    assert code == 1 and "at least 16" in err
