"""The dashboard in a real headless Chromium: ``mlwright ui`` runs as its own process on a SQLite
registry holding a real model in two versions with stored monitoring windows; the browser signs
in, checks the charts render, promotes and rolls back through the forms, and fits a phone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import mlwright
from mlwright.monitoring import monitor_logged
from mlwright.registry import open_registry
from mlwright.registry.operations import LoggedRow

from ..conftest import churn_like_frame as _frame

ADMIN_KEY = "admin-key-browser-0123456789"
PREDICT_KEY = "predict-key-browser-0123456789"
NAME = "churn"
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """churn v1 then v2 in production, three days of logged, partly labelled predictions of v2
    judged into stored daily windows."""
    root = tmp_path_factory.mktemp("browser")
    model = mlwright.train(_frame(400, 0), target="Churn", time_limit=5, preset="fast", seed=0)
    folder = model.save(root / "model")
    registry = open_registry(root / "registry")
    registry.register(folder, NAME, alias="production", reason="first model", actor="ada")
    registry.register(folder, NAME, alias="production", reason="retrained", actor="ada")
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 4 * DAY
    ops = registry.operations
    for day in range(3):
        frame = _frame(150, 10 + day)
        inputs = frame.drop(columns=["Churn"])
        proba = model.predict_proba(inputs).to_numpy()
        labels = model.predict(inputs)
        rows = [
            LoggedRow(f"d{day}-{i}", start + day * DAY + timedelta(minutes=i), row, label, list(p))
            for i, (row, label, p) in enumerate(
                zip(inputs.to_dict("records"), labels, proba.tolist(), strict=True)
            )
        ]
        ops.write_rows(ops.model_id(NAME), 2, "rest", rows)
        ops.add_labels(NAME, [r.request_id for r in rows[:80]], list(frame["Churn"][:80]))
    monitor_logged(
        registry,
        NAME,
        2,
        model.reference_,
        model.schema_,
        since=start,
        until=start + 3 * DAY,
        window="1d",
    )
    registry.close()
    return root / "registry"


@pytest.fixture(scope="module")
def server(registry_dir: Path) -> Iterator[str]:
    """``mlwright ui`` on a free port, with an admin and a predict key."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLWRIGHT_API_KEYS": f"{ADMIN_KEY}:admin,{PREDICT_KEY}:predict"}
    command = [sys.executable, "-m", "mlwright", "ui", "--registry", str(registry_dir)]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                pytest.fail(
                    f"mlwright ui exited: {process.stdout.read() if process.stdout else ''}"
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _watch_requests(page: Any, url: str) -> list[str]:
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((url, "data:")) else outside.append(r.url),
    )
    return outside


def _sign_in(page: Any, url: str, key: str, name: str) -> None:
    page.goto(url + "/ui")
    page.fill('[data-testid="login-key"]', key)
    page.fill('[data-testid="login-name"]', name)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(url + "/ui")


def _charts_rendered(page: Any) -> int:
    """How many chart images decoded to a real picture."""
    return int(
        page.evaluate(
            """() => [...document.querySelectorAll('[data-testid="chart"] img')]
                .filter(img => img.complete && img.naturalWidth > 100 && img.alt.length > 20)
                .length"""
        )
    )


def test_sign_in_see_charts_promote_and_roll_back(page: Any, server: str, tmp_path: Path) -> None:
    outside = _watch_requests(page, server)
    page.goto(server + "/ui")
    assert page.locator('[data-testid="login-form"]').is_visible()  # signed out: the login form
    _sign_in(page, server, ADMIN_KEY, "Ada")
    row = page.locator('[data-testid="model-row"]')
    assert row.count() == 1 and NAME in row.inner_text()
    page.click('[data-testid="model-link"]')
    page.wait_for_selector('[data-testid="chart"]')
    charts = page.locator('[data-testid="chart"]').count()
    assert charts >= 3 and _charts_rendered(page) == charts
    # each chart has the numbers behind it, one click away
    page.locator('[data-testid="chart"] details summary').first.click()
    assert page.locator('[data-testid="chart"] details table').first.is_visible()
    page.screenshot(path=str(tmp_path / "model-desktop.png"), full_page=True)

    page.select_option('[data-testid="promote-version"]', "1")
    page.fill('[data-testid="promote-reason"]', "v2 misses churners in the east")
    page.click('[data-testid="promote-submit"]')
    flash = page.locator('[data-testid="flash"]')
    assert flash.get_attribute("data-kind") == "ok" and "version 1" in flash.inner_text()
    audit = page.locator('[data-testid="audit-row"]').first.inner_text()
    assert "v2 misses churners in the east" in audit and "Ada" in audit

    page.fill('[data-testid="rollback-reason"]', "east fixed upstream")
    page.click('[data-testid="rollback-submit"]')
    assert page.locator('[data-testid="flash"]').get_attribute("data-kind") == "ok"
    production = page.locator('[data-testid="alias-row"]').first.inner_text()
    assert "production" in production and "v2" in production
    assert not outside, outside
    assert not page.errors, page.errors


def test_predict_key_sees_but_cannot_promote(page: Any, server: str) -> None:
    _sign_in(page, server, PREDICT_KEY, "Bob")
    page.goto(server + f"/ui/models/{NAME}")
    assert page.locator('[data-testid="promote-needs-admin"]').is_visible()
    assert page.locator('[data-testid="promote-submit"]').count() == 0
    assert not page.errors, page.errors


def test_fits_a_phone(browser: Any, server: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        _sign_in(page, server, ADMIN_KEY, "Ada")
        for path in ("/ui", f"/ui/models/{NAME}", f"/ui/models/{NAME}/versions/2"):
            page.goto(server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways on a phone: {width} px wide"
            page.screenshot(path=str(tmp_path / f"phone-{path.count('/')}.png"), full_page=True)
        page.goto(server + f"/ui/models/{NAME}")
        assert _charts_rendered(page) >= 3
    finally:
        context.close()


def test_report_opens_offline_with_every_chart_drawn(
    page: Any, server: str, registry_dir: Path, tmp_path: Path
) -> None:
    """``mlwright report`` as a user runs it, then the file opened from disk with the network
    cut off: every chart decodes, nothing is fetched, and it fits a phone."""
    out = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "mlwright", "report", f"{NAME}@production", "-o", str(out)]
        + ["--registry", str(registry_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    page.context.set_offline(True)
    outside = _watch_requests(page, out.as_uri())
    page.goto(out.as_uri())
    figures = page.locator("figure img").count()
    assert figures >= 5
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('figure img')]
            .filter(img => img.complete && img.naturalWidth > 100 && img.alt.length > 20).length"""
    )
    assert drawn == figures
    assert page.locator("figure table").count() == figures  # a table behind every chart
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not outside, outside
    assert not page.errors, page.errors


def test_dashboard_links_to_the_version_report(page: Any, server: str) -> None:
    _sign_in(page, server, ADMIN_KEY, "Ada")
    page.goto(server + f"/ui/models/{NAME}/versions/2")
    page.click('[data-testid="report-link"]')
    page.wait_for_selector("figure img")
    assert page.locator("figure img").count() >= 5
    assert not page.errors, page.errors
