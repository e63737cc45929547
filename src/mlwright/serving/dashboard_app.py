"""``mlwright ui``: an app with only the dashboard (and ``/health``), and the function that runs
it with uvicorn the way ``serve`` runs the model server."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping

import uvicorn
from fastapi import FastAPI
from starlette.responses import JSONResponse, RedirectResponse, Response

from mlwright.registry import Registry
from mlwright.serving.app import route_methods
from mlwright.serving.auth import Access, KeyRing
from mlwright.serving.dashboard import DASHBOARD_POLICIES, Dashboard
from mlwright.serving.dashboard_routes import mount_dashboard

__all__ = ["UI_POLICIES", "create_dashboard_app", "serve_dashboard"]

UI_POLICIES: Mapping[tuple[str, str], Access] = {
    ("GET", "/"): Access.PUBLIC,
    ("GET", "/health"): Access.PUBLIC,
    **DASHBOARD_POLICIES,
}


def create_dashboard_app(registry: Registry, keys: KeyRing | None) -> FastAPI:
    """The dashboard of ``registry`` as an ASGI app: ``/ui`` pages, ``/health``, and ``/``
    redirecting to ``/ui``. ``keys`` None: no authentication (localhost only).

    Example:
        >>> app = create_dashboard_app(open_registry("./mlwright-registry"), keys)
    """
    app = FastAPI(title="mlwright dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    async def health() -> Response:
        return JSONResponse({"status": "ok", "dashboard": "/ui"})

    async def root() -> Response:
        return RedirectResponse("/ui", status_code=307)

    app.add_api_route("/health", health, methods=["GET"], include_in_schema=False)
    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    dashboard = Dashboard(registry, keys)
    app.state.dashboard = dashboard
    mount_dashboard(app, dashboard)
    missing = [f"{m} {p}" for m, p in route_methods(app) if (m, p) not in UI_POLICIES]
    if missing:
        raise RuntimeError(
            f"route(s) {missing} have no access policy; add them to UI_POLICIES in "
            "mlwright/serving/dashboard_app.py."
        )
    return app


_WARM_S = 10.0


def serve_dashboard(
    registry: Registry,
    keys: KeyRing | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve the dashboard of ``registry`` until interrupted.

    Example:
        >>> serve_dashboard(open_registry(), None, host="127.0.0.1", port=8080)
    """
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(message)s")
    app = create_dashboard_app(registry, keys)
    # draw the monitoring charts before taking requests (at most _WARM_S, then in the
    # background), so the first view of a model page does not wait for them
    app.state.dashboard.warm().join(_WARM_S)
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if has_uvloop else "asyncio",
        http="httptools",
        access_log=access_log,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()
