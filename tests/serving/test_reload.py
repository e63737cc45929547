"""Readiness, hot swaps without failed requests, broken versions, registry aliases, overload."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlwright.registry import open_registry
from mlwright.serving import FolderSource, RegistrySource

from .conftest import records, save_with_threshold, wait_until


def _labels(client: TestClient, body: dict) -> set:
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return set(response.json()["predictions"])


class Hammer:
    """Sends requests from a thread until stopped; keeps every status seen."""

    def __init__(self, client: TestClient, body: dict) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, body))
        self._thread.start()

    def _run(self, client: TestClient, body: dict) -> None:
        while not self._stop.is_set():
            self.statuses.append(client.post("/predict", json=body).status_code)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(30)
        return self.statuses


def test_ready_only_once_a_model_is_loaded(make_client, trained, tmp_path: Path):
    folder = tmp_path / "later"
    client = make_client(FolderSource(folder), ready=False)
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503 and not_ready.headers["retry-after"]
    assert not_ready.json()["error"]["code"] == "not_ready"
    predict = client.post("/predict", json={"rows": [{}]})
    assert predict.status_code == 503
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["ready"] is False
    assert "cannot be read" in health["last_reload_failure"]["error"]
    trained.save(folder)
    wait_until(lambda: client.get("/ready").status_code == 200)
    assert client.get("/health").json()["last_reload_failure"] is None


def test_hot_swap_drops_no_request(make_client, trained, test_rows, tmp_path: Path):
    folder = save_with_threshold(trained, 1.01, tmp_path / "churn")  # predicts 'No' for all
    client = make_client(folder)
    body = {"rows": records(test_rows.head(8))}
    assert _labels(client, body) == {"No"}
    first = client.get("/health").json()["model"]["digest"]
    hammer = Hammer(client, body)
    save_with_threshold(trained, 0.0, folder)  # a new version saved over the folder: all 'Yes'
    wait_until(lambda: _labels(client, body) == {"Yes"})
    statuses = hammer.stop()
    assert statuses and set(statuses) == {200}
    assert client.get("/health").json()["model"]["digest"] != first


def test_broken_version_keeps_the_old_one_serving(make_client, trained, test_rows, tmp_path: Path):
    folder = save_with_threshold(trained, 1.01, tmp_path / "churn")
    client = make_client(folder)
    body = {"rows": records(test_rows.head(4))}
    broken = save_with_threshold(trained, 0.0, tmp_path / "broken")
    data_file = next(p for p in broken.rglob("*") if p.is_file() and p.name != "manifest.json")
    data_file.write_bytes(data_file.read_bytes() + b"tampered")
    hammer = Hammer(client, body)
    os.rename(folder, tmp_path / "old")
    os.rename(broken, folder)

    def failed_on_new_version() -> bool:
        failure = client.get("/health").json()["last_reload_failure"]
        return failure is not None and failure["digest"] is not None

    wait_until(failed_on_new_version)
    statuses = hammer.stop()
    assert set(statuses) == {200}
    assert _labels(client, body) == {"No"}  # still the old version
    health = client.get("/health").json()
    assert health["ready"] is True
    assert health["last_reload_failure"]["error_type"] == "ArtifactError"
    metrics = client.get("/metrics").text
    failures = next(
        line
        for line in metrics.splitlines()
        if line.startswith("mlwright_model_reload_failures_total")
    )
    assert float(failures.split()[-1]) >= 1


def test_registry_alias_move_switches_version(make_client, trained, test_rows, tmp_path: Path):
    registry = open_registry(tmp_path / "registry")
    v1 = registry.register(save_with_threshold(trained, 1.01, tmp_path / "v1"), "churn")
    registry.promote("churn", v1.version, "production", reason="first")
    client = make_client(RegistrySource("churn@production", str(tmp_path / "registry")))
    body = {"rows": records(test_rows.head(4))}
    answer = client.post("/predict", json=body).json()
    assert answer["model"] == {"name": "churn", "version": v1.version}
    assert set(answer["predictions"]) == {"No"}
    hammer = Hammer(client, body)
    v2 = registry.register(save_with_threshold(trained, 0.0, tmp_path / "v2"), "churn")
    registry.promote("churn", v2.version, "production", reason="better")

    def on_v2() -> bool:
        return client.post("/predict", json=body).json()["model"]["version"] == v2.version

    wait_until(on_v2)
    assert set(hammer.stop()) == {200}
    assert _labels(client, body) == {"Yes"}
    assert f'version="{v2.version}"' in client.get("/metrics").text


def test_reload_route_checks_now(make_client, trained, tmp_path: Path):
    folder = save_with_threshold(trained, 1.01, tmp_path / "churn")
    client = make_client(folder, poll_interval=3600)
    save_with_threshold(trained, 0.0, folder)
    answer = client.post("/reload").json()
    assert answer["reloaded"] is True and answer["last_reload_failure"] is None


def test_overload_is_a_fast_503_never_a_hang(make_client, model_dir, test_rows):
    client = make_client(model_dir, max_in_flight=2, request_timeout=5)
    body = {"rows": records(test_rows.head(1))}

    def call(_: int) -> tuple[int, str | None]:
        response = client.post("/predict", json=body)
        return response.status_code, response.headers.get("retry-after")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(64)))
    statuses = {status for status, _ in results}
    assert statuses <= {200, 503} and 200 in statuses
    assert all(retry == "1" for status, retry in results if status == 503)


def test_metrics_exposed(client: TestClient, test_rows):
    client.post("/predict", json={"rows": records(test_rows.head(3))})
    client.post("/predict", content=b"x", headers={"Content-Type": "application/xml"})
    text = client.get("/metrics").text
    assert 'mlwright_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'mlwright_http_requests_total{method="POST",route="/predict",status="415"}' in text
    assert 'mlwright_errors_total{code="unsupported_media_type",route="/predict"}' in text
    assert "mlwright_http_request_duration_seconds_bucket" in text
    assert "mlwright_rows_predicted_total 3.0" in text
    assert "mlwright_model_info{digest=" in text and 'name="churn"' in text
    assert "mlwright_model_reload_failures_total 0.0" in text
    assert "process_resident_memory_bytes" in text


@pytest.mark.parametrize("spec", ["nope", "a/b@c"])
def test_open_source_rejects_unknown_specs(spec: str):
    from mlwright.errors import ConfigError
    from mlwright.serving import open_source

    with pytest.raises(ConfigError, match="neither a model folder nor a registry reference"):
        open_source(spec)
