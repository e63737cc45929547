"""Schemathesis fuzzes the API from its own OpenAPI document: no input may cause a 5xx.

The cases are drawn with Hypothesis from each operation's strategy (schemathesis' lazy pytest
loader does not run under pytest 9), at least 1,000 of them for /predict with --runslow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from mlwright.serving import FolderSource, ServingConfig, create_app

PREDICT_CASES = 1000


@pytest.fixture(scope="module")
def operations(model_dir: Path) -> dict[str, Any]:
    app = create_app(FolderSource(model_dir), ServingConfig(max_body_mb=1))
    app.state.server.holder.refresh()  # loaded before the first case; the lifespan then keeps it
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def _fuzz(operation: Any, examples: int) -> int:
    seen = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        seen.append(1)
        response = case.call()
        assert response.status_code < 500, f"{case.as_curl_command()}\n{response.text}"

    check()
    return len(seen)


@pytest.mark.slow
def test_predict_never_fails_on_the_server(operations: dict[str, Any]) -> None:
    assert _fuzz(operations["POST /predict"], PREDICT_CASES) >= PREDICT_CASES


def test_predict_quick_fuzz(operations: dict[str, Any]) -> None:
    """A short run for every test session; the full one is slow (about 50 s)."""
    assert _fuzz(operations["POST /predict"], 100) >= 100


def test_other_routes_never_fail_on_the_server(operations: dict[str, Any]) -> None:
    assert {"GET /health", "GET /ready", "GET /metadata", "GET /metrics", "POST /reload"} <= set(
        operations
    )
    for name, operation in operations.items():
        if name != "POST /predict":
            _fuzz(operation, 20)
