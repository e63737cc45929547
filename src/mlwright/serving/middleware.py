"""Two pure-ASGI layers around every request: instrumentation (request id, metrics) and the
route policy check (API keys). Pure ASGI keeps their cost to a few microseconds."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlwright.serving.auth import KEYS_ENV, Access, KeyRing
from mlwright.serving.metrics import ServingMetrics
from mlwright.serving.problems import error_body

__all__ = ["Guard", "Instrument", "request_id_of"]

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(scope: Scope) -> str:
    """The id given to this request by ``Instrument``."""
    rid: str = scope.get("state", {}).get("request_id", "")
    return rid


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class Instrument:
    """Gives each request an id (the client's ``X-Request-ID`` when it is sane), returns it in
    the ``X-Request-ID`` header and counts the request, its status and its latency."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        text = given.decode("latin-1") if given else ""
        rid = text if _CLIENT_ID.fullmatch(text) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


class Guard:
    """Enforces each route's ``Access`` policy; with ``keys`` None (no-auth) everything is open.

    A (method, path) with no policy is passed to the router, which answers 404 or 405: every
    route the app serves has a policy (``create_app`` refuses to build otherwise).
    """

    def __init__(
        self,
        app: ASGIApp,
        policies: Mapping[tuple[str, str], Access],
        keys: KeyRing | None,
        metrics: ServingMetrics,
    ) -> None:
        self.app = app
        self.policies = policies
        self.keys = keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.keys is None:
            await self.app(scope, receive, send)
            return
        access = self.policies.get((scope["method"], scope["path"]))
        scope_needed = None if access is None else access.scope
        if scope_needed is None:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        token = None
        if header is not None:
            kind, _, value = header.decode("latin-1").partition(" ")
            token = value.strip() if kind.lower() == "bearer" and value.strip() else None
        if token is None:
            await self._refuse(
                scope,
                send,
                401,
                "missing_api_key",
                f"{scope['path']} needs an API key with scope '{scope_needed}', and none was sent.",
                "an 'Authorization: Bearer KEY' header",
                f"Send your key as 'Authorization: Bearer KEY'; the server's keys are set by "
                f"{KEYS_ENV}.",
            )
            return
        scopes = self.keys.scopes_of(token)
        if scopes is None:
            await self._refuse(
                scope,
                send,
                401,
                "invalid_api_key",
                "the API key sent is not one of the server's keys.",
                "a key listed in the server's key configuration",
                "Check the key for typos or ask the operator for a valid one.",
            )
            return
        if scope_needed not in scopes:
            await self._refuse(
                scope,
                send,
                403,
                "insufficient_scope",
                f"the API key is valid but lacks scope '{scope_needed}', which "
                f"{scope['method']} {scope['path']} needs.",
                f"a key with scope '{scope_needed}'",
                f"Use a key configured as 'KEY:{scope_needed}'.",
            )
            return
        await self.app(scope, receive, send)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        code: str,
        message: str,
        expected: str,
        hint: str,
    ) -> None:
        route = scope["path"]  # a path with a policy: one of the app's few routes
        self.metrics.errors.labels(route, code).inc()
        body = error_body(
            code, message, expected=expected, hint=hint, request_id=request_id_of(scope)
        )
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mlwright"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
