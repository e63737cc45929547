"""A real headless Chromium (Debian's ``chromium``) driven by Playwright through its executable
path: nothing is downloaded. Without a browser the tests skip, unless ``MLWRIGHT_REQUIRE_BROWSER``
is set (``.ci/run`` sets it), where they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def _chromium() -> str | None:
    named = os.environ.get("MLWRIGHT_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing(what: str) -> None:
    if os.environ.get("MLWRIGHT_REQUIRE_BROWSER"):
        pytest.fail(f"{what}; MLWRIGHT_REQUIRE_BROWSER is set, so the browser tests must run")
    pytest.skip(what)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    executable = _chromium()
    if executable is None:
        _missing("no chromium on PATH (apt-get install chromium, or set MLWRIGHT_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) with a laptop-sized page; console errors collected
    in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
