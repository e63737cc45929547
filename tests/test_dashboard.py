"""The web dashboard end to end: a real model in two versions in a SQLite registry, real logged
predictions judged into stored monitoring windows, and the pages, sign-in, CSRF and promotions
driven through TestClient."""

from __future__ import annotations

import copy
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlwright
from mlwright.model import Model
from mlwright.monitoring import monitor_logged
from mlwright.registry import open_registry
from mlwright.registry.operations import LoggedRow
from mlwright.serving import (
    ROUTE_POLICIES,
    FolderSource,
    KeyRing,
    RegistrySource,
    ServingConfig,
    create_app,
    route_methods,
)
from mlwright.serving.dashboard import DASHBOARD_POLICIES
from mlwright.serving.dashboard_app import UI_POLICIES, create_dashboard_app

from .conftest import churn_like_frame as _frame

PREDICT_KEY = "predict-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS = KeyRing.parse(f"{PREDICT_KEY}:predict,{ADMIN_KEY}:admin", "the tests")
NAME = "churn"
DAY = timedelta(days=1)
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 4 * DAY


@pytest.fixture(scope="module")
def model() -> Model:
    return mlwright.train(_frame(400, 0), target="Churn", time_limit=5, preset="fast", seed=0)


def _log(registry: Any, model: Model, frame: pd.DataFrame, at: datetime, prefix: str) -> None:
    inputs = frame.drop(columns=["Churn"])
    proba = model.predict_proba(inputs).to_numpy()
    labels = model.predict(inputs)
    rows = [
        LoggedRow(f"{prefix}-{i}", at + timedelta(minutes=i), row, label, [float(p) for p in ps])
        for i, (row, label, ps) in enumerate(
            zip(inputs.to_dict("records"), labels, proba, strict=True)
        )
    ]
    ops = registry.operations
    ops.write_rows(ops.model_id(NAME), 2, "rest", rows)
    ops.add_labels(NAME, [r.request_id for r in rows[:60]], list(frame["Churn"][:60]))


@pytest.fixture(scope="module")
def template(model: Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """churn v1 and v2 (v2 another threshold), production moved v1 -> v2, staging at v1, three
    days of logged predictions judged into stored daily windows, one open alert."""
    root = tmp_path_factory.mktemp("dashboard")
    first = model.save(root / "v1")
    other = copy.copy(model)
    other.threshold_ = 0.3
    second = other.save(root / "v2")
    registry = open_registry(root / "registry")
    registry.register(first, NAME, alias="production", reason="first model", actor="ada")
    registry.register(second, NAME, actor="ada")
    registry.promote(NAME, 2, "production", reason="v2 catches more churners", actor="ada")
    registry.promote(NAME, 1, "staging", reason="keep v1 warm", actor="bob")
    for day in range(3):
        _log(registry, model, _frame(120, 10 + day), START + day * DAY, f"d{day}")
    monitor_logged(
        registry,
        NAME,
        2,
        model.reference_,
        model.schema_,
        since=START,
        until=START + 3 * DAY,
        window="1d",
    )
    registry.operations.open_alert(NAME, "tenure", "Feature 'tenure' drifted: test alert.")
    registry.close()
    return root / "registry"


@pytest.fixture
def registry_dir(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template registry for each test (promotions change it)."""
    return Path(shutil.copytree(template, tmp_path / "registry"))


@pytest.fixture
def make_client(registry_dir: Path) -> Iterator[Any]:
    registries = []

    def make(keys: KeyRing | None = KEYS) -> TestClient:
        registry = open_registry(registry_dir)
        registries.append(registry)
        return TestClient(create_dashboard_app(registry, keys))

    yield make
    for registry in registries:
        registry.close()


def ready(client: TestClient, path: str) -> Any:
    """GET ``path`` until it is no longer "being prepared" (202), for up to 30 s."""
    for _ in range(300):
        answer = client.get(path)
        if answer.status_code != 202:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{path} still being prepared after 30 s")


def sign_in(client: TestClient, key: str, name: str = "") -> None:
    page = client.get("/ui/login")
    assert page.status_code == 200
    answer = client.post(
        "/ui/login",
        data={"key": key, "name": name, "csrf": _csrf(page.text), "next": "/ui"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _hidden(page: str, name: str, form: str = "promote-form") -> str:
    start = page.index(f'data-testid="{form}"')
    found = re.search(rf'name="{name}" value="([^"]*)"', page[start:])
    assert found, name
    return found.group(1)


def _aliases(registry_dir: Path) -> dict[str, int]:
    registry = open_registry(registry_dir)
    try:
        return {a: v.version for v in registry.versions(NAME) for a in v.aliases}
    finally:
        registry.close()


def _history(registry_dir: Path) -> list[Any]:
    registry = open_registry(registry_dir)
    try:
        return registry.history(NAME)
    finally:
        registry.close()


# -- pages -----------------------------------------------------------------------------------
def test_models_page_lists_models_aliases_status_and_alerts(make_client: Any) -> None:
    client = make_client()
    sign_in(client, PREDICT_KEY)
    page = client.get("/ui")
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="model-row"') == 1 and 'data-model="churn"' in html
    assert 'data-alias="production" data-version="2"' in html
    assert 'data-alias="staging" data-version="1"' in html
    row = html[html.index('data-testid="model-row"') :]
    assert re.search(r'data-testid="model-versions">2\b', row)
    assert re.search(r'class="status status-(ok|warning|alert)">(ok|warning|alert)<', row)
    assert re.search(r'data-testid="model-alerts"><span class="status status-alert">1<', row)
    assert '<meta name="viewport"' in html


def test_model_page_shows_versions_charts_alerts_and_audit(make_client: Any) -> None:
    client = make_client()
    sign_in(client, PREDICT_KEY)
    page = client.get(f"/ui/models/{NAME}")
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="version-row"') == 2
    assert 'data-testid="logged-count">360<' in html
    figures = re.findall(r'<figure class="chart"[^>]*data-testid="chart".*?</figure>', html, re.S)
    assert len(figures) == 4, "status, performance, drift share and rows charts"
    for figure in figures:
        alt = re.search(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', figure)
        assert alt and len(alt.group(1)) > 40, figure[:300]
        assert "<table" in figure and "Data behind this chart" in figure
    assert "3 window(s)" in html  # the alt text says how many stored windows are drawn
    assert html.count('data-testid="alert-row"') == 1 and 'data-rule="tenure"' in html
    audit = re.findall(r'<tr data-testid="audit-row" data-action="(\w+)"', html)
    assert audit[:2] == ["alert", "promote"] and audit.count("promote") == 3
    assert "v2 catches more churners" in html and "keep v1 warm" in html
    # a predict key sees no promote form, only the note
    assert 'data-testid="promote-form"' not in html
    assert 'data-testid="promote-needs-admin"' in html


def test_model_page_charts_are_cached_per_newest_window(
    make_client: Any, registry_dir: Path
) -> None:
    client = make_client(keys=None)
    charts = client.app.state.dashboard.charts
    first = client.get(f"/ui/models/{NAME}").text
    second = client.get(f"/ui/models/{NAME}").text
    assert list(charts) == [NAME] and "charts-updating" not in second
    pick = re.compile(r'<img src="(data:image/svg[^"]+)"')
    assert pick.findall(first) == pick.findall(second)
    registry = open_registry(registry_dir)  # a new stored window: the charts are drawn anew
    registry.operations.save_monitor_run(
        NAME,
        version=2,
        window_start=START + 3 * DAY,
        window_end=START + 4 * DAY,
        status="alert",
        rows=500,
        labelled=0,
        flagged=0,
        report={"features": [{"name": "tenure", "drifted": True}], "performance": None},
    )
    registry.close()
    # the page does not wait: it shows the charts drawn before while new ones are drawn
    third = client.get(f"/ui/models/{NAME}").text
    assert "last 4 stored window(s)" in third and 'data-testid="charts-updating"' in third
    assert pick.findall(third) == pick.findall(first)
    for _ in range(100):
        fourth = client.get(f"/ui/models/{NAME}").text
        if "charts-updating" not in fourth:
            break
        time.sleep(0.1)
    assert pick.findall(fourth) != pick.findall(first)
    assert charts[NAME][0][1] == 4  # drawn from the 4 stored windows


def test_version_page_shows_lineage_metrics_and_leaderboard(make_client: Any) -> None:
    client = make_client()
    sign_in(client, PREDICT_KEY)
    page = client.get(f"/ui/models/{NAME}/versions/2")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="lineage"' in html and "ada" in html
    assert '<a href="/ui/models/churn/versions/1">v1</a>' in html  # the parent
    assert html.count('data-testid="leaderboard-row"') >= 1
    assert 'data-testid="metric-row"' in html
    assert f'href="/ui/models/{NAME}/versions/2/report"' in html
    assert client.get(f"/ui/models/{NAME}/versions/9").status_code == 404
    assert client.get(f"/ui/models/{NAME}/versions/x").status_code == 404
    assert client.get("/ui/models/nope").status_code == 404


def test_report_and_card_come_from_the_report_module(make_client: Any) -> None:
    import mlwright.report

    assert hasattr(mlwright.report, "report_html")
    client = make_client(keys=None)
    # the page never waits seconds for a report: it says it is being prepared and reloads itself
    page = client.get(f"/ui/models/{NAME}/versions/2/report")
    if page.status_code == 202:
        assert 'data-testid="pending"' in page.text and 'http-equiv="refresh"' in page.text
    page = ready(client, f"/ui/models/{NAME}/versions/2/report")
    assert page.status_code == 200, page.text[:500]
    assert "<html" in page.text.lower() and NAME in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert len(client.app.state.dashboard.reports) == 1
    again = client.get(f"/ui/models/{NAME}/versions/2/report")
    assert again.text == page.text and len(client.app.state.dashboard.reports) == 1
    card = client.get(f"/ui/models/{NAME}/versions/2/card")
    assert card.status_code == 200 and 'data-testid="card"' in card.text
    download = client.get(f"/ui/models/{NAME}/versions/2/card?format=md")
    assert download.headers["content-type"].startswith("text/markdown")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text.strip() and download.text.strip()[:40] in card.text
    assert client.get(f"/ui/models/{NAME}/versions/7/report").status_code == 404


# -- authentication ------------------------------------------------------------------------------
def test_pages_need_a_key(make_client: Any) -> None:
    client = make_client()
    for path in ("/ui", f"/ui/models/{NAME}", f"/ui/models/{NAME}/versions/1"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/ui/login?next=/ui"
        ), path
    login = client.get("/ui", follow_redirects=True)
    assert 'data-testid="login-key"' in login.text and 'data-testid="login-submit"' in login.text
    # a script sends the key as a header; a wrong one is a 401, never a page
    assert client.get("/ui", headers={"Authorization": f"Bearer {PREDICT_KEY}"}).status_code == 200
    assert (
        client.get("/ui", headers={"Authorization": "Bearer wrong-key-000000000"}).status_code
        == 401
    )
    assert client.get("/health").status_code == 200
    css = client.get("/ui/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/secrets.txt").status_code == 404


def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(make_client: Any) -> None:
    client = make_client()
    page = client.get("/ui/login")
    wrong = client.post("/ui/login", data={"key": "not-a-key-0000000000", "csrf": _csrf(page.text)})
    assert wrong.status_code == 401 and 'data-testid="login-error"' in wrong.text
    no_csrf = client.post("/ui/login", data={"key": ADMIN_KEY, "csrf": "x" * 43})
    assert no_csrf.status_code == 403
    answer = client.post(
        "/ui/login",
        data={
            "key": ADMIN_KEY,
            "name": "Ada",
            "csrf": _csrf(page.text),
            "next": "https://evil.example",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui"  # no open redirect
    cookie = answer.headers["set-cookie"]
    assert "mlwright_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert ADMIN_KEY not in cookie
    home = client.get("/ui")
    assert home.status_code == 200 and "Ada (ui, key " in home.text
    client.post("/ui/logout", data={"csrf": _csrf(home.text)})
    assert client.get("/ui", follow_redirects=False).status_code == 303


def test_secure_cookie_over_https(make_client: Any) -> None:
    client = make_client()
    client.base_url = client.base_url.copy_with(scheme="https")
    page = client.get("https://testserver/ui/login")
    answer = client.post(
        "https://testserver/ui/login",
        data={"key": PREDICT_KEY, "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_predict_key_cannot_promote(make_client: Any, registry_dir: Path) -> None:
    client = make_client()
    sign_in(client, PREDICT_KEY)
    page = client.get(f"/ui/models/{NAME}")
    answer = client.post(
        f"/ui/models/{NAME}/promote",
        data={
            "alias": "production",
            "version": "1",
            "reason": "try",
            "expected": "production=2",
            "csrf": _csrf(page.text),
        },
    )
    assert answer.status_code == 403
    assert _aliases(registry_dir)["production"] == 2
    anonymous = make_client().post(f"/ui/models/{NAME}/promote", data={"alias": "production"})
    assert anonymous.status_code == 401


# -- promote and roll back -----------------------------------------------------------------------
def test_admin_promotes_with_reason_and_actor(make_client: Any, registry_dir: Path) -> None:
    client = make_client()
    sign_in(client, ADMIN_KEY, name="Grace")
    page = client.get(f"/ui/models/{NAME}").text
    for testid in ("promote-form", "promote-alias", "promote-version", "promote-reason",
                   "promote-submit", "rollback-submit"):  # fmt: skip
        assert f'data-testid="{testid}"' in page, testid
    assert _hidden(page, "expected") == "production=2,staging=1"
    answer = client.post(
        f"/ui/models/{NAME}/promote",
        data={
            "alias": "staging",
            "version": "2",
            "reason": "ready for the shadow run",
            "expected": _hidden(page, "expected"),
            "csrf": _csrf(page),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/ui/models/{NAME}"
    shown = client.get(answer.headers["location"]).text
    assert 'data-testid="flash"' in shown and "staging now points at version 2" in shown
    assert 'data-testid="flash"' not in client.get(f"/ui/models/{NAME}").text  # shown once
    assert _aliases(registry_dir) == {"production": 2, "staging": 2}
    event = _history(registry_dir)[-1]
    assert (event.action, event.alias, event.version, event.previous_version) == (
        "promote",
        "staging",
        2,
        1,
    )
    assert event.reason == "ready for the shadow run"
    assert event.actor.startswith("Grace (ui, key ") and ADMIN_KEY not in event.actor


def test_promote_needs_csrf_and_a_reason(make_client: Any, registry_dir: Path) -> None:
    client = make_client()
    sign_in(client, ADMIN_KEY)
    page = client.get(f"/ui/models/{NAME}").text
    form = {"alias": "production", "version": "1", "reason": "why", "expected": "production=2"}
    assert client.post(f"/ui/models/{NAME}/promote", data=form).status_code == 403
    wrong = {**form, "csrf": "A" * 43}
    assert client.post(f"/ui/models/{NAME}/promote", data=wrong).status_code == 403
    blank = client.post(
        f"/ui/models/{NAME}/promote", data={**form, "reason": "  ", "csrf": _csrf(page)}
    )
    assert blank.status_code == 422 and "Give a reason" in blank.text
    assert _aliases(registry_dir)["production"] == 2
    assert [e.action for e in _history(registry_dir)].count("promote") == 3


def test_stale_page_gets_a_conflict_and_changes_nothing(
    make_client: Any, registry_dir: Path
) -> None:
    alice, bob = make_client(), make_client()
    sign_in(alice, ADMIN_KEY, "alice")
    sign_in(bob, ADMIN_KEY, "bob")
    alice_page = alice.get(f"/ui/models/{NAME}").text
    bob_page = bob.get(f"/ui/models/{NAME}").text

    def promote(client: TestClient, page: str, version: int, reason: str) -> Any:
        return client.post(
            f"/ui/models/{NAME}/promote",
            data={
                "alias": "production",
                "version": str(version),
                "reason": reason,
                "expected": _hidden(page, "expected"),
                "csrf": _csrf(page),
            },
        )

    assert promote(alice, alice_page, 1, "v2 misbehaves").status_code == 200
    before = _history(registry_dir)
    conflict = promote(bob, bob_page, 2, "keep v2")
    assert conflict.status_code == 409
    assert 'data-testid="flash"' in conflict.text and "Nothing was changed" in conflict.text
    assert "someone moved it meanwhile" in conflict.text
    assert _aliases(registry_dir)["production"] == 1
    assert len(_history(registry_dir)) == len(before)


def test_rollback_moves_the_alias_back(make_client: Any, registry_dir: Path) -> None:
    client = make_client()
    sign_in(client, ADMIN_KEY)
    page = client.get(f"/ui/models/{NAME}").text
    forms = re.findall(r'<form[^>]*data-testid="rollback-form" data-alias="(\w+)"', page)
    assert forms == ["production"]  # staging never moved: nothing to roll back to
    assert _hidden(page, "version", "rollback-form") == "1"
    assert _hidden(page, "expected", "rollback-form") == "production=2"
    answer = client.post(
        f"/ui/models/{NAME}/promote",
        data={
            "action": "rollback",
            "alias": "production",
            "version": "1",
            "expected": "production=2",
            "reason": "v2 flags too many customers",
            "csrf": _csrf(page),
        },
    )
    assert answer.status_code == 200 and "Rolled back" in answer.text
    assert _aliases(registry_dir)["production"] == 1
    event = _history(registry_dir)[-1]
    assert (event.version, event.previous_version, event.reason) == (
        1,
        2,
        "v2 flags too many customers",
    )


def test_no_auth_on_localhost_still_needs_csrf(make_client: Any, registry_dir: Path) -> None:
    client = make_client(keys=None)
    page = client.get(f"/ui/models/{NAME}")
    assert page.status_code == 200 and 'data-testid="promote-form"' in page.text
    form = {"alias": "production", "version": "1", "reason": "r", "expected": "production=2"}
    assert client.post(f"/ui/models/{NAME}/promote", data=form).status_code == 403
    done = client.post(f"/ui/models/{NAME}/promote", data={**form, "csrf": _csrf(page.text)})
    assert done.status_code == 200 and _aliases(registry_dir)["production"] == 1


# -- the model server mounts it ------------------------------------------------------------------
def test_serve_mounts_the_dashboard_and_every_route_has_a_policy(registry_dir: Path) -> None:
    source = RegistrySource(f"{NAME}@production", str(registry_dir))
    app = create_app(source, ServingConfig(keys=KEYS))
    served = route_methods(app)
    assert ("GET", "/ui") in served and ("POST", "/ui/models/{name}/promote") in served
    assert not [r for r in served if r not in ROUTE_POLICIES]
    assert set(DASHBOARD_POLICIES) <= set(ROUTE_POLICIES)
    ui_only = create_dashboard_app(source.registry, KEYS)
    assert not [r for r in route_methods(ui_only) if r not in UI_POLICIES]
    with TestClient(app) as client:
        # Bearer auth of the API is unchanged; the dashboard signs in with a cookie
        assert client.get("/metadata").status_code == 401
        assert (
            client.post("/reload", headers={"Authorization": f"Bearer {PREDICT_KEY}"}).status_code
            == 403
        )
        assert client.get("/ui", follow_redirects=False).status_code == 303
        sign_in(client, PREDICT_KEY)
        assert "churn" in client.get("/ui").text
        assert client.get("/metadata").status_code == 401  # a session cookie is not an API key
    source.registry.close()


def test_a_server_without_registry_says_so(tmp_path: Path) -> None:
    app = create_app(FolderSource(tmp_path / "no-model"), ServingConfig())
    page = TestClient(app).get("/ui")  # lifespan not started: no model is loaded
    assert page.status_code == 404 and "no registry" in page.text


def test_ui_command_refuses_no_auth_off_localhost(registry_dir: Path) -> None:
    from mlwright.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "--host", "0.0.0.0", "--no-auth", "--registry", str(registry_dir)])
    assert exit_info.value.code == 1


def test_pages_and_assets_load_nothing_from_elsewhere(make_client: Any) -> None:
    client = make_client(keys=None)
    pages = [
        client.get(path)
        for path in (
            "/ui",
            f"/ui/models/{NAME}",
            f"/ui/models/{NAME}/versions/1",
            "/ui/login",
        )
    ]
    pending = client.get(f"/ui/models/{NAME}/versions/1/report")  # "being prepared", or it
    pages.append(ready(client, f"/ui/models/{NAME}/versions/1/report"))
    if pending.status_code == 202:
        assert "http://" not in pending.text and "https://" not in pending.text
    pages += [client.get(f"/ui/static/{name}") for name in ("dashboard.css", "dashboard.js")]
    for answer in pages:
        assert answer.status_code == 200, answer.url
        assert "http://" not in answer.text and "https://" not in answer.text, answer.url
        assert "//" not in re.sub(
            r"data:[^\"']+", "", "".join(re.findall(r'(?:src|href)="([^"]*)"', answer.text))
        )
    csp = pages[1].headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
