"""The dashboard's routes: pages, sign-in and sign-out, promote / roll back, static assets.

Every handler asks ``Dashboard.authorize`` first, which applies the route's policy from
``DASHBOARD_POLICIES``; a form that changes something also needs the page's CSRF token.

Example:
    >>> mount_dashboard(app, Dashboard(registry, keys))
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mlwright.errors import RegistryConflict, RegistryError
from mlwright.serving.dashboard import (
    PAGE_CSP,
    REPORT_CSP,
    STATIC_TYPES,
    Dashboard,
    Refused,
    security_headers,
)
from mlwright.serving.dashboard_auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_TTL_S,
    Viewer,
    actor_for,
    csrf_matches,
    delete_cookie,
    set_cookie,
    viewer_of,
)

__all__ = ["mount_dashboard"]

_MAX_FORM_BYTES = 64 * 1024


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of ``request`` (first value of each field), at most 64 KiB."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise Refused(HTMLResponse("form too large", status_code=413))
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only (never another site)."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


def _version_number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 10**9:
        raise RegistryError(f"'{text[:20]}' is not a version number.")
    return int(text)


def _expected(text: str, alias: str) -> int | None:
    """The version ``alias`` named when the page was drawn, from the hidden field: a plain
    number, or ``alias=version`` pairs (0: the alias did not exist). None when absent."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    seen = dict(pair.split("=", 1) for pair in text.split(",") if pair.count("=") == 1)
    found = seen.get(alias, "0")
    return int(found) if found.isdigit() else None


# -- routes --------------------------------------------------------------------------------------
def mount_dashboard(app: FastAPI, dashboard: Dashboard) -> None:
    """Add the dashboard's routes (under ``/ui``) to ``app``, whose route policies must hold
    ``DASHBOARD_POLICIES``. The routes are added to the app itself, not as an included router,
    so that walking ``app.routes`` finds every one of them (the policy check does)."""
    d = dashboard

    def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
        """Turn a ``Refused`` into its response (sync handlers run in a worker thread)."""
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(*args: Any, **kwargs: Any) -> Response:
                try:
                    response: Response = await handler(*args, **kwargs)
                except Refused as refused:
                    return refused.response
                return response

            return run_async

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Response:
            try:
                response: Response = handler(*args, **kwargs)
            except Refused as refused:
                return refused.response
            return response

        return run

    @app.get("/ui", include_in_schema=False)
    @guarded
    def models_page(request: Request) -> Response:
        viewer = d.authorize(request)
        return d.page(request, viewer, "models.html", **d.models_context())

    @app.get("/ui/models/{name}", include_in_schema=False)
    @guarded
    def model_page(request: Request, name: str) -> Response:
        viewer = d.authorize(request)
        try:
            context = d.model_context(name)
        except RegistryError as exc:
            return d.error(request, viewer, 404, "Model not found", str(exc))
        return d.page(request, viewer, "model.html", **context)

    @app.get("/ui/models/{name}/versions/{version}", include_in_schema=False)
    @guarded
    def version_page(request: Request, name: str, version: str) -> Response:
        viewer = d.authorize(request)
        try:
            context = d.version_context(name, _version_number(version))
        except RegistryError as exc:
            return d.error(request, viewer, 404, "Version not found", str(exc))
        return d.page(request, viewer, "version.html", **context)

    @app.get("/ui/models/{name}/versions/{version}/report", include_in_schema=False)
    @guarded
    def report_page(request: Request, name: str, version: str) -> Response:
        viewer = d.authorize(request)
        try:
            number = _version_number(version)
            body = d.report_or_pending(name, number)
        except RegistryError as exc:
            return d.error(request, viewer, 404, "No report", str(exc))
        if body is None:
            return d.page(
                request,
                viewer,
                "pending.html",
                status=202,
                title=f"Preparing the report of {name}@{number}",
                message="The report is being written (a few seconds the first time).",
                refresh=2,
                name=name,
                number=number,
            )
        return HTMLResponse(body, headers=security_headers(REPORT_CSP))

    @app.get("/ui/models/{name}/versions/{version}/card", include_in_schema=False)
    @guarded
    def card_page(request: Request, name: str, version: str) -> Response:
        viewer = d.authorize(request)
        try:
            number = _version_number(version)
            text = d.document("model_card", name, number)
        except RegistryError as exc:
            return d.error(request, viewer, 404, "No model card", str(exc))
        if request.query_params.get("format") == "md":
            disposition = f'attachment; filename="{name}-v{number}-card.md"'
            headers = {**security_headers(PAGE_CSP), "Content-Disposition": disposition}
            return Response(text, media_type="text/markdown; charset=utf-8", headers=headers)
        return d.page(request, viewer, "card.html", name=name, number=number, card=text)

    @app.post("/ui/models/{name}/promote", include_in_schema=False)
    @guarded
    async def promote(request: Request, name: str) -> Response:
        viewer = d.authorize(request, page=False)
        form = await _form(request)
        d.check_csrf(request, viewer, form)
        registry = d.need_registry()
        alias = form.get("alias", "").strip().lower()
        reason = form.get("reason", "").strip()
        rollback = form.get("action") == "rollback"
        expected = _expected(form.get("expected", ""), alias)
        problem = None
        if not alias:
            problem = "Say which alias to move (for example production)."
        elif not reason:
            problem = "Give a reason: it goes into the audit log with your name."
        elif expected is None:
            problem = "The form lacks the alias's current version; reload the page."
        elif len(reason) > 2000:
            problem = "Keep the reason under 2000 characters."
        try:
            number = _version_number(form.get("version", "").strip())
        except RegistryError as exc:
            problem = problem or str(exc)
        if problem is not None:
            return await _model_again(d, request, viewer, name, 422, problem)
        try:
            event = await run_in_threadpool(
                registry.promote,
                name,
                number,
                alias,
                reason=reason[:2000],
                actor=viewer.actor,
                expected=expected,
            )
        except RegistryConflict as exc:
            text = (
                f"Nothing was changed: {exc} Another admin moved {alias} after this page was "
                "drawn; the page now shows where it points. Check the audit log, then decide again."
            )
            return await _model_again(d, request, viewer, name, 409, text)
        except RegistryError as exc:
            return await _model_again(d, request, viewer, name, 422, str(exc))
        was = "nothing" if event.previous_version is None else f"version {event.previous_version}"
        verb = "Rolled back" if rollback else "Promoted"
        text = f"{verb}: {name}@{alias} now points at version {event.version} (was {was})."
        return d.redirect(request, f"/ui/models/{quote(name)}", "ok", text)

    @app.get("/ui/login", include_in_schema=False)
    @guarded
    def login_page(request: Request) -> Response:
        viewer = viewer_of(request, d.keys, d.sessions)
        target = _safe_next(request.query_params.get("next"))
        return d.page(request, viewer, "login.html", next=target, problem=None)

    @app.post("/ui/login", include_in_schema=False)
    @guarded
    async def login(request: Request) -> Response:
        form = await _form(request)
        target = _safe_next(form.get("next"))
        if d.keys is None:
            return RedirectResponse(target, status_code=303)
        if not csrf_matches(request, form.get(CSRF_FIELD)):
            problem = "The sign-in form expired; try again."
            return d.page(request, None, "login.html", 403, next=target, problem=problem)
        key = form.get("key", "").strip()
        scopes = d.keys.scopes_of(key) if key else None
        if scopes is None:
            problem = "That key is not one of this server's API keys. Check it and try again."
            return d.page(request, None, "login.html", 401, next=target, problem=problem)
        token = d.sessions.open(scopes, actor_for(key, form.get("name", "")))
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, request, SESSION_COOKIE, token, SESSION_TTL_S)
        return response

    @app.post("/ui/logout", include_in_schema=False)
    @guarded
    async def logout(request: Request) -> Response:
        form = await _form(request)
        if not csrf_matches(request, form.get(CSRF_FIELD)):
            return d.error(request, None, 403, "The form has expired", "Reload and try again.")
        d.sessions.close(request.cookies.get(SESSION_COOKIE))
        response = d.redirect(request, "/ui/login", "ok", "Signed out.")
        delete_cookie(response, request, SESSION_COOKIE)
        return response

    @app.get("/ui/static/{filename}", include_in_schema=False)
    def static(filename: str) -> Response:
        body = d.static.get(filename)
        if body is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            body,
            media_type=STATIC_TYPES[filename],
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )


async def _model_again(
    d: Dashboard, request: Request, viewer: Viewer, name: str, status: int, problem: str
) -> Response:
    """The model page as it is now, with ``problem`` on top (a refused promotion)."""
    try:
        context = await run_in_threadpool(d.model_context, name)
    except RegistryError as exc:
        return d.error(request, viewer, 404, "Model not found", str(exc))
    return d.page(request, viewer, "model.html", status, flash=("error", problem), **context)
