"""Who is looking at the dashboard: sign-in with an API key, cookie sessions, CSRF tokens.

Browsers cannot send an ``Authorization`` header when they follow a link, so the dashboard takes
the same API keys as the REST routes on a sign-in form and keeps the result in a session: a
random token in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` over https) that names
an entry of an in-memory table (the key itself is never stored, nor sent back). A script may
still send ``Authorization: Bearer KEY`` instead.

Every form that changes something also carries a CSRF token (double submit: the same random
token in a cookie and in a hidden field, compared in constant time). A request authenticated by
a Bearer header needs none, since another site cannot make a browser send that header.

Example:
    >>> sessions = Sessions()
    >>> token = sessions.open(frozenset({Scope.ADMIN}), "ada (ui, key 1a2b3c4d)")
    >>> sessions.get(token).actor
    'ada (ui, key 1a2b3c4d)'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from mlwright.serving.auth import Access, KeyRing, Scope

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "Sessions",
    "Viewer",
    "actor_for",
    "csrf_matches",
    "csrf_token",
    "set_cookie",
    "viewer_of",
]

SESSION_COOKIE = "mlwright_session"
CSRF_COOKIE = "mlwright_csrf"
CSRF_FIELD = "csrf"
COOKIE_PATH = "/ui"
SESSION_TTL_S = 8 * 3600
_MAX_SESSIONS = 10_000
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
_NAME = re.compile(r"[^\w .@'-]+")


@dataclass(frozen=True)
class Viewer:
    """Who makes a request: their scopes, the actor written to the audit log (None: the
    registry's default, the OS user, for a server without keys) and how they proved it
    (``session``, ``bearer`` or ``none`` when the server runs without keys)."""

    scopes: frozenset[Scope]
    actor: str | None
    via: str

    def may(self, access: Access) -> bool:
        """True when this viewer's scopes allow a route with policy ``access``."""
        needed = access.scope
        return needed is None or needed in self.scopes


@dataclass(frozen=True)
class _Session:
    scopes: frozenset[Scope]
    actor: str
    expires: float


class Sessions:
    """Signed-in browsers: token digest -> scopes and actor, for ``ttl_s`` seconds.

    In memory: a restart signs everyone out, which is the safe direction. At most
    ``max_sessions`` are kept; the oldest go first.
    """

    def __init__(self, ttl_s: float = SESSION_TTL_S, max_sessions: int = _MAX_SESSIONS) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._table: OrderedDict[bytes, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, scopes: frozenset[Scope], actor: str) -> str:
        """A new session; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._table[_digest(token)] = _Session(scopes, actor, time.monotonic() + self.ttl_s)
            while len(self._table) > self.max_sessions:
                self._table.popitem(last=False)
        return token

    def get(self, token: str | None) -> _Session | None:
        """The live session of ``token``, or None (unknown, malformed or expired)."""
        if not token or not _TOKEN.fullmatch(token):
            return None
        key = _digest(token)
        with self._lock:
            found = self._table.get(key)
            if found is not None and found.expires < time.monotonic():
                del self._table[key]
                return None
        return found

    def close(self, token: str | None) -> None:
        """End the session of ``token`` (sign out)."""
        if token:
            with self._lock:
                self._table.pop(_digest(token), None)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def key_fingerprint(key: str) -> str:
    """Eight hex characters that tell keys apart in the audit log without revealing them."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def actor_for(key: str, name: str = "") -> str:
    """The audit-log actor of a dashboard user: the name they gave (cleaned, at most 60
    characters) and the fingerprint of their key."""
    cleaned = _NAME.sub("", name).strip()[:60]
    tag = f"ui, key {key_fingerprint(key)}"
    return f"{cleaned} ({tag})" if cleaned else tag


def viewer_of(request: Request, keys: KeyRing | None, sessions: Sessions) -> Viewer | None:
    """Who sent ``request``: everyone may do everything without keys; otherwise a valid Bearer
    header or a live session cookie, else None."""
    if keys is None:
        return Viewer(frozenset(Scope), None, "none")
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() == "bearer" and value.strip():
        scopes = keys.scopes_of(value.strip())
        return None if scopes is None else Viewer(scopes, actor_for(value.strip()), "bearer")
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    return Viewer(session.scopes, session.actor, "session")


def csrf_token(request: Request) -> tuple[str, bool]:
    """The request's CSRF token and whether it is new (then set it with ``set_cookie``)."""
    found = request.cookies.get(CSRF_COOKIE, "")
    if _TOKEN.fullmatch(found):
        return found, False
    return secrets.token_urlsafe(32), True


def csrf_matches(request: Request, submitted: str | None) -> bool:
    """True when the form's token equals the cookie's (constant-time comparison)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not submitted or not _TOKEN.fullmatch(cookie):
        return False
    return hmac.compare_digest(cookie.encode("ascii"), submitted.encode("utf-8", "replace"))


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    """Set a dashboard cookie: HttpOnly, SameSite=Strict, path /ui, Secure over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def delete_cookie(response: Response, request: Request, name: str) -> None:
    """Remove a dashboard cookie."""
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
