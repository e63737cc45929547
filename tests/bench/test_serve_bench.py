"""bench/serve.py's own plumbing: the wrk Lua hook and its parsing, and the targets it prints."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import serve  # noqa: E402


class _Handler(BaseHTTPRequestHandler):
    """200 for the row with id 0, a 503 for the one with id 1: wrk must count both."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 503 if b'"id": 1' in body else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # wrk resets its connections when it stops


@pytest.fixture
def http_port() -> Iterator[int]:
    httpd = _Quiet(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_script_counts_successes_and_503s(tmp_path: Path, http_port: int) -> None:
    server = serve.Server("mlwright", [], "/ready", "/predict", tmp_path / "log", port=http_port)
    script = serve.write_lua(tmp_path / "t.lua", server, [{"id": 0}, {"id": 1}])
    r = serve.run_wrk(server, script, connections=2, seconds=1)
    assert r["ok"] > 0 and r["n503"] > 0
    assert r["non2xx"] == r["n503"]
    assert r["socket_errors"] == 0 and r["timeouts"] == 0
    assert 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]


def _run(tool: str, level: int, ok_per_s: float, p50: float, p99: float, **errors: int) -> Any:
    counts = {"non2xx": 0, "n503": 0, "socket_errors": 0, "timeouts": 0, **errors}
    latency = {"p50_us": p50, "p90_us": p99, "p99_us": p99, "max_us": p99}
    return {"tool": tool, "level": level, "ok_per_s": ok_per_s, "req_per_s": ok_per_s,
            **latency, **counts}  # fmt: skip


def test_targets_pass_and_fail() -> None:
    runs = [
        _run("mlwright", 1, 900, 1.1, 3.0),
        _run("mlwright", 16, 2000, 7, 20),
        _run("mlwright", 64, 2100, 30, 90, non2xx=40, n503=40),
        _run("mlflow", 16, 100, 150, 300),
    ]
    data = {
        "runs": runs,
        "servers": {"mlwright": {"model_mb": 2.0, "peak_rss_mb": 400.0, "ready_s": 1.0}},
        "batch": {"rows": 1000, "raw_s": 1.0, "api_s": 1.2, "stream_s": 2.0, "cli_s": 3.0},
    }
    lines = serve.targets(data)
    failed = [line for line in lines if "[FAIL]" in line]
    assert len([line for line in lines if "[PASS]" in line]) == 8
    # the batch scorer is judged; the CLI's wall time (start-up included) is only shown
    assert [("batch scoring" in f) or ("memory" in f) for f in failed] == [True, True]
