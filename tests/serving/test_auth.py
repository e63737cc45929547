"""API keys and scopes, the no-auth rules, and a policy for every route."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlwright.errors import ConfigError
from mlwright.serving import (
    ROUTE_POLICIES,
    Access,
    FolderSource,
    KeyRing,
    Scope,
    ServingConfig,
    check_auth_setup,
    create_app,
    keys_from_environment,
    route_methods,
)

from .conftest import ADMIN, AUTH, KEYS, PREDICT_KEY, records, wait_ready


@pytest.fixture
def secured(make_client, model_dir: Path) -> TestClient:
    return make_client(model_dir, keys=KEYS, ready=False)


def test_every_route_and_method_has_a_policy(model_dir: Path):
    app = create_app(FolderSource(model_dir), ServingConfig(keys=KEYS))
    served = route_methods(app)
    assert ("POST", "/predict") in served and ("GET", "/metrics") in served
    missing = [
        f"{method} {path}" for method, path in served if (method, path) not in ROUTE_POLICIES
    ]
    assert not missing, f"routes without an access policy: {missing}"


def test_a_route_without_policy_refuses_to_build(model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from mlwright.serving import app as app_module

    trimmed = {k: v for k, v in ROUTE_POLICIES.items() if k != ("POST", "/reload")}
    monkeypatch.setattr(app_module, "ROUTE_POLICIES", trimmed)
    with pytest.raises(RuntimeError, match="POST /reload"):
        create_app(FolderSource(model_dir), ServingConfig(keys=KEYS))


def test_public_routes_need_no_key(secured: TestClient):
    assert secured.get("/health").status_code == 200
    wait_ready(secured)
    # no Swagger page: it would load scripts from a CDN
    assert secured.get("/docs").status_code in (401, 404)


def test_missing_and_unknown_keys_are_401(secured: TestClient, test_rows):
    wait_ready(secured)
    body = {"rows": records(test_rows.head(1))}
    missing = secured.post("/predict", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    error = missing.json()["error"]
    assert error["code"] == "missing_api_key" and "Authorization: Bearer" in error["hint"]
    wrong = secured.post(
        "/predict", json=body, headers={"Authorization": "Bearer not-a-key-at-all"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    basic = secured.post("/predict", json=body, headers={"Authorization": f"Basic {PREDICT_KEY}"})
    assert basic.status_code == 401


def test_scopes(secured: TestClient, test_rows):
    wait_ready(secured)
    body = {"rows": records(test_rows.head(1))}
    assert secured.post("/predict", json=body, headers=AUTH).status_code == 200
    assert secured.get("/metadata", headers=AUTH).status_code == 200
    assert secured.get("/openapi.json", headers=AUTH).status_code == 200
    forbidden = secured.get("/metrics", headers=AUTH)
    assert forbidden.status_code == 403
    assert "'admin'" in forbidden.json()["error"]["message"]
    assert secured.post("/reload", headers=AUTH).status_code == 403
    # admin may do everything predict may
    assert secured.get("/metrics", headers=ADMIN).status_code == 200
    assert secured.post("/predict", json=body, headers=ADMIN).status_code == 200
    assert secured.get("/openapi.json").status_code == 401


def test_openapi_declares_bearer_security(secured: TestClient):
    document = secured.get("/openapi.json", headers=AUTH).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/predict"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/health"]["get"]


def test_key_ring_parsing_and_constant_time_lookup(tmp_path: Path):
    ring = KeyRing.parse("# ops keys\naaaaaaaaaaaaaaaa:predict, bbbbbbbbbbbbbbbb:admin\n", "test")
    assert ring.scopes_of("aaaaaaaaaaaaaaaa") == {Scope.PREDICT}
    assert ring.scopes_of("bbbbbbbbbbbbbbbb") == {Scope.PREDICT, Scope.ADMIN}
    assert ring.scopes_of("aaaaaaaaaaaaaaa") is None
    for bad, words in [
        ("short:predict", "at least 16"),
        ("aaaaaaaaaaaaaaaa:root", "scope 'root'"),
        ("aaaaaaaaaaaaaaaa", "key:scope"),
    ]:
        with pytest.raises(ConfigError, match=words):
            KeyRing.parse(bad, "test")
    key_file = tmp_path / "keys"
    key_file.write_text("cccccccccccccccc:predict\n")
    ring = keys_from_environment(
        {"MLWRIGHT_API_KEYS": "aaaaaaaaaaaaaaaa:admin", "MLWRIGHT_API_KEYS_FILE": str(key_file)}
    )
    assert len(ring) == 2 and ring.scopes_of("cccccccccccccccc") == {Scope.PREDICT}
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        keys_from_environment({"MLWRIGHT_API_KEYS_FILE": str(tmp_path / "absent")})


def test_no_auth_rules():
    none = KeyRing({})
    assert check_auth_setup("127.0.0.1", none, no_auth=True) is None
    assert check_auth_setup("localhost", none, no_auth=True) is None
    assert check_auth_setup("::1", none, no_auth=True) is None
    with pytest.raises(ConfigError, match="--no-auth is refused on host '0.0.0.0'"):
        check_auth_setup("0.0.0.0", KEYS, no_auth=True)
    with pytest.raises(ConfigError, match="no API keys configured"):
        check_auth_setup("127.0.0.1", none, no_auth=False)
    assert check_auth_setup("0.0.0.0", KEYS, no_auth=False) is KEYS


def test_policies_are_explicit():
    assert ROUTE_POLICIES[("POST", "/predict")] is Access.PREDICT
    assert ROUTE_POLICIES[("GET", "/health")] is Access.PUBLIC
    assert ROUTE_POLICIES[("GET", "/metrics")] is Access.ADMIN
