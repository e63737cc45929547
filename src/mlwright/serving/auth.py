"""API keys and scopes: who may call which route.

Keys come from ``MLWRIGHT_API_KEYS`` (comma-separated ``key:scope`` pairs) or from the file named
by ``MLWRIGHT_API_KEYS_FILE`` (one ``key:scope`` per line, ``#`` comments). Clients send
``Authorization: Bearer KEY``. Keys are kept only as SHA-256 digests and every configured key is
compared in constant time, so neither timing nor a memory dump reveals one.

Scopes: ``predict`` (score rows, read the metadata and the OpenAPI document) and ``admin``
(everything ``predict`` may do, plus ``/metrics`` and ``/reload``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mlwright.errors import ConfigError

__all__ = [
    "KEYS_ENV",
    "KEYS_FILE_ENV",
    "Access",
    "KeyRing",
    "Scope",
    "check_auth_setup",
    "is_loopback",
    "keys_from_environment",
]

KEYS_ENV = "MLWRIGHT_API_KEYS"
KEYS_FILE_ENV = "MLWRIGHT_API_KEYS_FILE"
MIN_KEY_LENGTH = 16
_NEW_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Scope(StrEnum):
    """What a key may do."""

    PREDICT = "predict"
    ADMIN = "admin"


class Access(StrEnum):
    """A route's policy: open to anyone, or needing a key with a scope."""

    PUBLIC = "public"
    PREDICT = "predict"
    ADMIN = "admin"

    @property
    def scope(self) -> Scope | None:
        """The scope a key needs, or None for a public route."""
        return None if self is Access.PUBLIC else Scope(self.value)


# an admin key may do everything a predict key may
_GRANTS: Mapping[Scope, frozenset[Scope]] = {
    Scope.PREDICT: frozenset({Scope.PREDICT}),
    Scope.ADMIN: frozenset({Scope.PREDICT, Scope.ADMIN}),
}


@dataclass(frozen=True)
class _Key:
    digest: bytes
    scopes: frozenset[Scope]


class KeyRing:
    """The configured API keys, as digests; ``scopes_of(token)`` checks a presented key."""

    def __init__(self, pairs: Mapping[str, set[Scope]]) -> None:
        self._keys = [
            _Key(_digest(key), frozenset(g for s in scopes for g in _GRANTS[s]))
            for key, scopes in pairs.items()
        ]

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def parse(cls, text: str, where: str) -> KeyRing:
        """Keys from ``key:scope`` pairs, comma- or line-separated (``#`` starts a comment)."""
        pairs: dict[str, set[Scope]] = {}
        entries = [e for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
        for number, entry in enumerate((e.strip() for e in entries if e.strip()), start=1):
            key, sep, scope = entry.rpartition(":")
            key, scope = key.strip(), scope.strip().lower()
            if not sep or not key:
                raise ConfigError(
                    f"API key entry {number} in {where} is not 'key:scope'; expected pairs such "
                    f"as 'KEY:predict,OTHER:admin'. Write each key followed by ':predict' or "
                    "':admin'."
                )
            if scope not in Scope.__members__.values():
                raise ConfigError(
                    f"API key entry {number} in {where} has scope '{scope}'; expected 'predict' "
                    "or 'admin'. Fix the scope after the colon."
                )
            if len(key) < MIN_KEY_LENGTH:
                raise ConfigError(
                    f"API key entry {number} in {where} is {len(key)} characters long; keys need "
                    f"at least {MIN_KEY_LENGTH} so they cannot be guessed. Generate one with "
                    f"{_NEW_KEY}"
                )
            pairs.setdefault(key, set()).add(Scope(scope))
        return cls(pairs)

    def scopes_of(self, token: str) -> frozenset[Scope] | None:
        """The scopes of ``token``, or None when it is not a configured key.

        Every key is compared, whatever matches, so the time taken says nothing about the keys.
        """
        presented = _digest(token)
        found: frozenset[Scope] | None = None
        for key in self._keys:
            if hmac.compare_digest(presented, key.digest):
                found = key.scopes
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def keys_from_environment(environ: Mapping[str, str] | None = None) -> KeyRing:
    """The keys in ``MLWRIGHT_API_KEYS`` and the file named by ``MLWRIGHT_API_KEYS_FILE``."""
    env = os.environ if environ is None else environ
    rings: list[str] = []
    if env.get(KEYS_ENV, "").strip():
        rings.append(env[KEYS_ENV])
    file_name = env.get(KEYS_FILE_ENV, "").strip()
    if file_name:
        path = Path(file_name)
        try:
            rings.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read the API key file '{path}' named by {KEYS_FILE_ENV}: "
                f"{exc.strerror}. Expected a readable file of 'key:scope' lines; fix the path "
                "or its permissions."
            ) from None
    return KeyRing.parse("\n".join(rings), f"{KEYS_ENV}/{KEYS_FILE_ENV}")


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth_setup(host: str, keys: KeyRing, no_auth: bool) -> KeyRing | None:
    """The key ring to enforce, or None for no authentication; refuses unsafe combinations."""
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(
                f"--no-auth is refused on host '{host}': without keys anyone who can reach it "
                "could use the model. Expected --host 127.0.0.1 (or localhost) with --no-auth. "
                f"Bind to localhost, or set {KEYS_ENV}='KEY:predict' and drop --no-auth."
            )
        return None
    if not len(keys):
        raise ConfigError(
            f"no API keys configured: the server requires keys by default. Expected "
            f"{KEYS_ENV}='KEY:predict,OTHER:admin' or {KEYS_FILE_ENV}=path. Set one "
            f"(generate a key with {_NEW_KEY}), or for local testing serve on 127.0.0.1 "
            "with --no-auth."
        )
    return keys
