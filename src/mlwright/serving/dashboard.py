"""The web dashboard: models, versions, aliases, monitoring charts, alerts, the audit log, and
promote / roll back with a reason. Server-rendered HTML (Jinja2, autoescaped); every asset is
served by mlwright itself under ``/ui/static``, so it works offline.

=====================================================  ======  ================================
route                                                  policy  what
=====================================================  ======  ================================
GET  /ui                                               predict every model, its aliases, status
GET  /ui/models/{name}                                 predict versions, charts, alerts, audit
GET  /ui/models/{name}/versions/{version}              predict lineage, metrics, leaderboard
GET  /ui/models/{name}/versions/{version}/report       predict the stakeholder report (HTML)
GET  /ui/models/{name}/versions/{version}/card         predict the model card (?format=md: file)
POST /ui/models/{name}/promote                         admin   move an alias (CSRF token needed)
GET  /ui/login, POST /ui/login, POST /ui/logout        public  sign in with an API key, out
GET  /ui/static/{filename}                             public  the stylesheet and the script
=====================================================  ======  ================================

The policies (``DASHBOARD_POLICIES``) are part of the server's ``ROUTE_POLICIES``; the dashboard
enforces them itself, from a session cookie or a Bearer header (``dashboard_auth``), because a
browser following a link cannot send a header. A promotion is a compare-and-swap: the form
carries the versions the aliases named when the page was drawn, so two admins never overwrite
each other silently.

Example:
    >>> mount_dashboard(app, Dashboard(registry, keys))  # dashboard_routes
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mlwright.errors import MlwrightError, RegistryError
from mlwright.registry import ModelVersion, Registry
from mlwright.serving.auth import Access, KeyRing
from mlwright.serving.dashboard_auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    Sessions,
    Viewer,
    csrf_matches,
    csrf_token,
    delete_cookie,
    set_cookie,
    viewer_of,
)
from mlwright.serving.dashboard_views import (
    LRU,
    alias_rows,
    model_rows,
    monitoring_charts,
    primary_metric,
)

__all__ = [
    "DASHBOARD_POLICIES",
    "PAGE_CSP",
    "REPORT_CSP",
    "STATIC_TYPES",
    "Dashboard",
    "Refused",
    "security_headers",
]

DASHBOARD_POLICIES: Mapping[tuple[str, str], Access] = {
    ("GET", "/ui"): Access.PREDICT,
    ("GET", "/ui/login"): Access.PUBLIC,
    ("POST", "/ui/login"): Access.PUBLIC,
    ("POST", "/ui/logout"): Access.PUBLIC,
    ("GET", "/ui/static/{filename}"): Access.PUBLIC,
    ("GET", "/ui/models/{name}"): Access.PREDICT,
    ("GET", "/ui/models/{name}/versions/{version}"): Access.PREDICT,
    ("GET", "/ui/models/{name}/versions/{version}/report"): Access.PREDICT,
    ("GET", "/ui/models/{name}/versions/{version}/card"): Access.PREDICT,
    ("POST", "/ui/models/{name}/promote"): Access.ADMIN,
}

_HERE = Path(__file__).parent
STATIC_TYPES = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript"}
_FLASH_COOKIE = "mlwright_flash"
_STYLE = re.compile(r' style="[^"]*"')
_MAX_FORM_BYTES = 64 * 1024
_MAX_RUNS = 200  # stored windows drawn on a model page
_DocKey = tuple[str, str, int, str, int]  # kind, model, version, digest, newest window
_REDRAW_DELAY_S = 0.3  # a background redraw starts after the page that found it due
_REPORT_WAIT_S = 0.05  # a report page waits this long for a render, then says "preparing"
_MAX_EVENTS = 200  # audit rows shown
PAGE_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# the report is one self-contained file: inline styles, scripts and images, nothing fetched
REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "font-src data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'"
)


@dataclass(frozen=True)
class Figure:
    """A chart ready for a page: the image as a data URI, its alt text and its data table."""

    key: str
    title: str
    alt: str
    src: str
    table: Markup


class Refused(Exception):
    """A request the dashboard answers with ``response`` instead of the page (raised by the
    checks, turned into the response by each route)."""

    def __init__(self, response: Response) -> None:
        self.response = response


class Dashboard:
    """What the dashboard routes share: the registry, the keys, sessions, templates, caches.

    Parameters
    ----------
    registry:
        The registry shown (None: a server without one; the pages say so).
    keys:
        The API keys (None: no authentication, for a server bound to localhost).
    """

    def __init__(self, registry: Registry | None, keys: KeyRing | None) -> None:
        self.registry = registry
        self.keys = keys
        self.sessions = Sessions()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=_when, num=_num, metric=_metric)
        self.static = {name: (_HERE / "static" / name).read_bytes() for name in STATIC_TYPES}
        self.env.globals["asset"] = {
            name: f"/ui/static/{name}?v={hashlib.sha256(body).hexdigest()[:10]}"
            for name, body in self.static.items()
        }
        # per model: the newest charts drawn and the windows they show (see ``figures``)
        self.charts: dict[str, tuple[tuple[int, int], list[Figure]]] = {}
        self._drawing: set[str] = set()
        self._charts_lock = threading.Lock()
        self.leaderboards: LRU[tuple[str, int, str], list[dict[str, Any]]] = LRU(16)
        self.reports: LRU[_DocKey, str] = LRU(8)
        self._renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlwright-report")
        self._rendering: dict[_DocKey, Future[str]] = {}

    # -- access --------------------------------------------------------------------------------
    def authorize(self, request: Request, *, page: bool = True) -> Viewer:
        """The viewer of ``request`` if the route's policy lets them in; otherwise raises
        ``Refused`` with a redirect to the sign-in page (a page), 401 or 403."""
        route = request.scope.get("route")
        access = DASHBOARD_POLICIES[(request.method, getattr(route, "path", ""))]
        viewer = viewer_of(request, self.keys, self.sessions)
        if viewer is None:
            if access is Access.PUBLIC:
                return Viewer(frozenset(), None, "anonymous")
            if page and request.method == "GET" and "authorization" not in request.headers:
                target = quote(request.url.path, safe="/")
                raise Refused(RedirectResponse(f"/ui/login?next={target}", status_code=303))
            raise Refused(
                self.error(request, None, 401, "Sign in first",
                           "This page needs an API key. Sign in with a predict or admin key.")
            )  # fmt: skip
        if not viewer.may(access):
            raise Refused(
                self.error(request, viewer, 403, "Not allowed",
                           f"Your key lacks the '{access.value}' scope this action needs. "
                           "Sign in with an admin key to promote or roll back.")
            )  # fmt: skip
        return viewer

    def check_csrf(self, request: Request, viewer: Viewer, form: Mapping[str, str]) -> None:
        """Refuse a form without the page's CSRF token (a Bearer request needs none)."""
        if viewer.via != "bearer" and not csrf_matches(request, form.get(CSRF_FIELD)):
            raise Refused(
                self.error(request, viewer, 403, "The form has expired",
                           "The form did not carry this browser's security token (it expired, "
                           "or the form came from another site). Reload the page and try again.")
            )  # fmt: skip

    def need_registry(self) -> Registry:
        """The registry, or a refusal page saying the server has none."""
        if self.registry is None:
            raise Refused(
                HTMLResponse(
                    self.env.get_template("error.html").render(
                        **self._base(None, None, None),
                        title="No registry",
                        message="This server serves a model folder and has no registry to show. "
                        "Serve a registry model (mlwright serve NAME@ALIAS) or run "
                        "mlwright ui --registry PATH.",
                    ),
                    status_code=404,
                )
            )
        return self.registry

    # -- rendering -----------------------------------------------------------------------------
    def _base(
        self, request: Request | None, viewer: Viewer | None, csrf: str | None
    ) -> dict[str, Any]:
        flash = None if request is None else _read_flash(request)
        return {
            "viewer": viewer,
            "auth_on": self.keys is not None,
            "signed_in": viewer is not None and viewer.via == "session",
            "is_admin": viewer is not None and viewer.may(Access.ADMIN),
            "csrf": csrf or "",
            "flash": flash,
        }

    def page(
        self,
        request: Request,
        viewer: Viewer | None,
        template: str,
        status: int = 200,
        flash: tuple[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render ``template`` with the page basics: CSRF token (cookie set when new), flash
        message (cleared once shown), security headers."""
        token, new = csrf_token(request)
        base = self._base(request, viewer, token)
        if flash is not None:
            base["flash"] = {"kind": flash[0], "text": flash[1]}
        body = self.env.get_template(template).render(**base, **context)
        response = HTMLResponse(body, status_code=status, headers=security_headers(PAGE_CSP))
        if new:
            set_cookie(response, request, CSRF_COOKIE, token)
        if _FLASH_COOKIE in request.cookies:
            delete_cookie(response, request, _FLASH_COOKIE)
        return response

    def error(
        self, request: Request, viewer: Viewer | None, status: int, title: str, message: str
    ) -> HTMLResponse:
        """An error page with ``status``."""
        return self.page(request, viewer, "error.html", status, title=title, message=message)

    def redirect(self, request: Request, url: str, kind: str, text: str) -> RedirectResponse:
        """A 303 to ``url`` with a flash message shown once there."""
        response = RedirectResponse(url, status_code=303)
        payload = json.dumps({"kind": kind, "text": text[:1000]}).encode()
        set_cookie(
            response, request, _FLASH_COOKIE, base64.urlsafe_b64encode(payload).decode(), 120
        )
        return response

    # -- page data -----------------------------------------------------------------------------
    def models_context(self) -> dict[str, Any]:
        """The models page: one row per model."""
        return {"models": model_rows(self.need_registry())}

    def model_context(self, name: str) -> dict[str, Any]:
        """The model page: versions, aliases, charts, open alerts, audit log."""
        registry = self.need_registry()
        versions = registry.versions(name)  # RegistryError for an unknown model
        events = registry.history(name)
        ops = registry.operations
        runs = ops.monitor_runs(name, limit=_MAX_RUNS)
        metric = versions[-1].metric if versions else None
        figures, updating = self.figures(name, runs, metric)
        return {
            "name": name,
            "versions": list(reversed(versions)),
            "ready": [v.version for v in reversed(versions) if v.status == "ready"],
            "aliases": alias_rows(versions, events),
            "events": list(reversed(events[-_MAX_EVENTS:])),
            "events_total": len(events),
            "alerts": [a for a in ops.alerts(name) if a.state == "open"],
            "runs": runs,
            "last_run": runs[-1] if runs else None,
            "figures": figures,
            "updating": updating,
            # an indexed count; labels come from the stored windows (counting them joins the log)
            "logged": ops.count(name),
            "labelled": sum(int(r.get("labelled") or 0) for r in runs),
            "judged": sum(int(r.get("rows") or 0) for r in runs),
            "primary": {v.version: primary_metric(v) for v in versions},
        }

    def figures(
        self, name: str, runs: list[dict[str, Any]], metric: str | None
    ) -> tuple[list[Figure], bool]:
        """The monitoring charts of ``name`` and whether newer ones are being drawn.

        Drawing takes about 80 ms a chart, so a page never waits for it once a model has been
        drawn: when a new window has been stored since, the page shows the charts drawn before
        (and says they are updating) while one background thread per model draws the new ones.
        Only the first view of a model in a process draws in the request (``warm`` does that at
        start-up for ``mlwright ui``).
        """
        key = (int(runs[-1]["id"]) if runs else 0, len(runs))
        with self._charts_lock:
            drawn = self.charts.get(name)
            if drawn is not None and drawn[0] == key:
                return drawn[1], False
            if drawn is not None:
                if name not in self._drawing:
                    self._drawing.add(name)
                    threading.Thread(
                        target=self._redraw, args=(name, key, runs, metric), daemon=True
                    ).start()
                return drawn[1], True
        figures = _figures(runs, metric)
        with self._charts_lock:
            self.charts[name] = (key, figures)
        return figures, False

    def _redraw(
        self, name: str, key: tuple[int, int], runs: list[dict[str, Any]], metric: str | None
    ) -> None:
        try:
            time.sleep(_REDRAW_DELAY_S)  # let the page that asked be answered first
            figures = _figures(runs, metric)
            with self._charts_lock:
                current = self.charts.get(name)
                if current is None or current[0] < key:
                    self.charts[name] = (key, figures)
        finally:
            with self._charts_lock:
                self._drawing.discard(name)

    def warm(self) -> threading.Thread:
        """Draw every model's charts in a background thread (so first views do not wait)."""

        def run() -> None:
            registry = self.registry
            if registry is None:
                return
            try:
                for summary in registry.models():
                    self.model_context(summary.name)
            except Exception:  # noqa: BLE001 - warming is best effort; pages still draw
                logging.getLogger(__name__).exception("could not draw the dashboard's charts")

        thread = threading.Thread(target=run, name="mlwright-dashboard-warm", daemon=True)
        thread.start()
        return thread

    def version_context(self, name: str, number: int) -> dict[str, Any]:
        """The version page: lineage, metrics, the leaderboard."""
        registry = self.need_registry()
        version = registry.get(name, number, allow_archived=True)
        leaderboard: list[dict[str, Any]] | None = None
        problem = None
        try:
            leaderboard = self.leaderboards.get_or_make(
                (name, number, version.digest), lambda: _leaderboard(registry, version)
            )
        except MlwrightError as exc:
            problem = str(exc)
        metrics = (version.metrics or {}).get("cv") or {}
        return {
            "name": name,
            "v": version,
            "metrics": [m for m in metrics.values() if isinstance(m, dict)],
            "leaderboard": leaderboard,
            "leaderboard_problem": problem,
        }

    def _document(self, kind: str, name: str, number: int) -> tuple[_DocKey, Callable[[], str]]:
        """The cache key of a document of ``name@number`` and how to make it."""
        registry = self.need_registry()
        version = registry.get(name, number, allow_archived=True)
        render: Callable[..., str] | None = getattr(
            importlib.import_module("mlwright.report"), kind, None
        )
        if render is None:
            raise RegistryError(f"this build of mlwright has no mlwright.report.{kind}.")
        runs = registry.operations.monitor_runs(name, limit=1)
        key = (kind, name, number, version.digest, int(runs[-1]["id"]) if runs else 0)

        def make() -> str:
            model = _load(registry, version)
            return str(render(model, registry=registry, name=name, version=number))

        return key, make

    def document(self, kind: str, name: str, number: int) -> str:
        """The stakeholder report (``kind`` "report_html", an HTML page) or the model card
        ("model_card", Markdown) of ``name@number``, from ``mlwright.report`` (imported on first
        use); cached per version and newest stored monitoring window, which they describe."""
        key, make = self._document(kind, name, number)
        return self.reports.get_or_make(key, make)

    def report_or_pending(self, name: str, number: int) -> str | None:
        """The report of ``name@number``, or None while it is being rendered.

        A report takes seconds, so a page never waits for one: it is rendered once per key on a
        background worker, and the page says it is being prepared (and reloads itself) until it
        is cached. A failed render raises here, and the next request tries again.
        """
        key, make = self._document("report_html", name, number)
        with self._charts_lock:
            cached = self.reports.peek(key)
            if cached is not None:
                return cached
            future = self._rendering.get(key)
            if future is None:
                future = self._rendering[key] = self._renderer.submit(make)
        try:
            body = future.result(timeout=_REPORT_WAIT_S)
        except FutureTimeout:
            return None
        finally:
            if future.done():
                with self._charts_lock:
                    self._rendering.pop(key, None)
        return self.reports.get_or_make(key, lambda: body)


# -- helpers -------------------------------------------------------------------------------------
def security_headers(csp: str) -> dict[str, str]:
    """The headers of every dashboard page: ``csp`` as its Content-Security-Policy."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(_FLASH_COOKIE)
    if not raw:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("kind") not in ("ok", "error"):
        return None
    return {"kind": str(found["kind"]), "text": str(found.get("text", ""))[:1000]}


def _load(registry: Registry, version: ModelVersion) -> Any:
    from mlwright.model import Model

    registry.store.check(version.digest)
    return Model.load(version.path)


def _leaderboard(registry: Registry, version: ModelVersion) -> list[dict[str, Any]]:
    """The leaderboard from the version's manifest (checked against its digest), without
    loading the model's learners."""
    from mlwright.evaluation import Leaderboard

    folder = registry.store.check(version.digest)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    frame = Leaderboard.from_dict(manifest["predictor"]["leaderboard"]).to_frame()
    records = frame.reset_index().to_dict("records")
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in records]
    return rows


def _figures(runs: list[dict[str, Any]], metric: str | None) -> list[Figure]:
    return [
        # pandas writes an inline style on the header row, which the page's CSP refuses
        Figure(
            key,
            chart.title,
            chart.alt,
            chart.data_uri(),
            Markup(_STYLE.sub("", chart.table_html())),
        )
        for key, chart in monitoring_charts(runs, metric)
    ]


def _when(value: datetime | None) -> Markup:
    if value is None:
        return Markup("—")
    iso = value.isoformat(timespec="seconds")
    return Markup(f'<time datetime="{escape(iso)}">{value:%Y-%m-%d %H:%M} UTC</time>')


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "—" if value != value else f"{value:.{digits}g}"
    return str(value)


def _metric(found: Mapping[str, Any] | None) -> str:
    """``0.8123 (0.79–0.83)``: a metric with its 95% interval."""
    if not found:
        return "—"
    text = f"{found.get('name', '')} {_num(found.get('value'))}".strip()
    low, high = found.get("low"), found.get("high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        text += f" ({_num(low, 3)}–{_num(high, 3)})"
    return text
