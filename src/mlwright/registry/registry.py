"""The model registry: versions with lineage, aliases moved by compare-and-swap, an audit log.

Everything else names a model by a reference: ``churn@production`` (an alias), ``churn@3`` (a
version) or ``churn@latest`` (the newest version that is not archived). Every change — a version
registered, an alias moved, a version archived — is one database transaction that also writes its
event to the audit log, so ``history`` can say which version served an alias at any moment, who
put it there and why.
"""

from __future__ import annotations

import getpass
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Row, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from mlwright.artifact import read_verified
from mlwright.errors import ConfigError, RegistryConflict, RegistryError
from mlwright.registry.database import connect_engine, migrate, redact_url, write_transaction
from mlwright.registry.store import ArtifactStore
from mlwright.registry.tables import aliases, events, models, versions

if TYPE_CHECKING:
    from mlwright.registry.operations import Operations

__all__ = [
    "DEFAULT_REGISTRY",
    "Event",
    "ModelSummary",
    "ModelVersion",
    "Registry",
    "open_registry",
    "parse_ref",
]

DEFAULT_REGISTRY = "./mlwright-registry"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
_RESERVED_ALIASES = {"latest"}
_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its lineage."""

    name: str
    version: int
    digest: str
    path: Path
    status: str
    created_at: datetime
    created_by: str
    parent_version: int | None
    task: str | None
    metric: str | None
    source: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    code: dict[str, Any]
    note: str | None
    aliases: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["path"] = str(self.path)
        out["created_at"] = self.created_at.isoformat()
        out["aliases"] = list(self.aliases)
        return out


@dataclass(frozen=True)
class Event:
    """One entry of the audit log."""

    at: datetime
    actor: str
    action: str
    model: str
    version: int | None
    alias: str | None
    previous_version: int | None
    reason: str | None
    details: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out


@dataclass(frozen=True)
class ModelSummary:
    """A model with its newest version and its aliases."""

    name: str
    versions: int
    latest: int | None
    aliases: dict[str, int]
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["updated_at"] = self.updated_at.isoformat()
        return out


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``name@alias`` / ``name@3`` / ``name@latest`` into (name, selector)."""
    name, sep, selector = ref.partition("@")
    if not sep or not selector:
        raise RegistryError(
            f"'{ref}' does not say which version: write NAME@ALIAS (churn@production), "
            "NAME@VERSION (churn@3) or NAME@latest."
        )
    _check_name(name)
    if not (selector.isdigit() or selector == "latest" or _ALIAS.match(selector)):
        raise RegistryError(
            f"'{selector}' in '{ref}' is neither a version number nor an alias; aliases are "
            "lowercase letters, digits, '-' and '_', starting with a letter."
        )
    return name, selector


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise RegistryError(
            f"'{name[:80]}' is not a valid model name: use letters, digits, '.', '-' and '_' "
            "(up to 200, starting with a letter or digit), e.g. churn or sales-forecast."
        )


def _check_alias(alias: str) -> None:
    if not _ALIAS.match(alias) or alias in _RESERVED_ALIASES:
        raise RegistryError(
            f"'{alias[:80]}' is not a valid alias: use lowercase letters, digits, '-' and '_', "
            "starting with a letter (e.g. production, staging, challenger); 'latest' is reserved."
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    env = os.environ.get("MLWRIGHT_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def lineage(manifest: dict[str, Any]) -> dict[str, Any]:
    """Source, metrics, parameters and code versions of a saved model, from its manifest."""
    settings = manifest.get("settings", {})
    training = manifest.get("training", {})
    data = settings.get("data", {})
    cv = manifest.get("cv_evaluation", {})
    metrics = {m["name"]: m for m in cv.get("metrics", []) if isinstance(m, dict) and "name" in m}
    return {
        "task": manifest.get("task"),
        "metric": manifest.get("metric"),
        "source": {
            "source": redact_url(source) if isinstance(source := data.get("source"), str) else None,
            "query": data.get("query"),
            "target": manifest.get("target"),
            "fingerprint": training.get("data_fingerprint"),
            "rows": training.get("rows"),
            "rows_used": training.get("rows_used"),
            "saved_at": manifest.get("saved_at"),
        },
        "metrics": {"primary": cv.get("primary"), "n_rows": cv.get("n_rows"), "cv": metrics},
        "params": {
            "training": settings.get("training"),
            "costs": settings.get("costs"),
            "constraints": settings.get("constraints"),
            "threshold": manifest.get("threshold"),
        },
        "code": manifest.get("versions", {}),
    }


class Registry:
    """Models, versions, aliases and their audit log, in one database plus an artifact store."""

    def __init__(self, url: str, store: str | os.PathLike[str], *, lock_file: Path | None = None):
        self.url = url
        self.store = ArtifactStore(store)
        self.engine = connect_engine(url)
        migrate(self.engine, lock_file)

    def __repr__(self) -> str:
        return f"Registry({self.engine.url!r}, store={str(self.store.root)!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # -- writes --------------------------------------------------------------------------------
    def register(
        self,
        model_dir: str | os.PathLike[str],
        name: str,
        *,
        actor: str | None = None,
        parent: int | None = None,
        note: str | None = None,
        alias: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Store ``model_dir`` as the next version of ``name`` (creating the model if new).

        The artifact is verified and copied into the store before the version row is written, so
        a version never points at a missing or partial folder. ``alias`` also moves that alias to
        the new version, in the same transaction.
        """
        _check_name(name)
        if alias is not None:
            _check_alias(alias)
        manifest = read_verified(model_dir)
        digest = self.store.put(model_dir)
        info = lineage(manifest)
        who = _actor(actor)

        def write(conn: Connection) -> int:
            now = _now()
            model_id = self._model_id(conn, name, create_by=who, now=now)
            conn.execute(
                update(models)
                .where(models.c.id == model_id)
                .values(last_version=models.c.last_version + 1)
            )
            number = int(
                conn.execute(
                    select(models.c.last_version).where(models.c.id == model_id)
                ).scalar_one()
            )
            parent_version = parent if parent is not None else self._default_parent(conn, model_id)
            if parent is not None and not self._exists(conn, model_id, parent):
                raise RegistryError(
                    f"parent version {name}@{parent} does not exist; "
                    f"see `mlwright models show {name}` for its versions."
                )
            conn.execute(
                insert(versions).values(
                    model_id=model_id,
                    version=number,
                    digest=digest,
                    status="ready",
                    created_at=now,
                    created_by=who,
                    parent_version=parent_version,
                    task=info["task"],
                    metric=info["metric"],
                    source=info["source"],
                    metrics=info["metrics"],
                    params=info["params"],
                    code=info["code"],
                    note=note,
                )
            )
            self._event(
                conn,
                model_id,
                name,
                "register",
                who,
                version=number,
                reason=reason or note,
                details={"digest": digest, "parent_version": parent_version},
                now=now,
            )
            if alias is not None:
                self._move_alias(conn, model_id, name, alias, number, who, reason, None, now)
            return number

        number = self._retrying(write)
        return self.get(name, number)

    def promote(
        self,
        name: str,
        version: int | str,
        alias: str = "production",
        *,
        reason: str | None = None,
        actor: str | None = None,
        expected: int | None = None,
    ) -> Event:
        """Point ``alias`` at ``version`` (a number, or a ref selector such as ``staging``).

        The move is a compare-and-swap on the alias's revision: a concurrent move is never lost,
        it is retried on the new state. With ``expected`` the move happens only if the alias
        still points at that version (0: only if the alias does not exist yet); otherwise it
        raises RegistryConflict.
        """
        _check_name(name)
        _check_alias(alias)
        who = _actor(actor)
        number = self.get(name, version).version

        def write(conn: Connection) -> Event:
            model_id = self._model_id(conn, name)
            row = conn.execute(
                select(versions.c.status).where(
                    and_(versions.c.model_id == model_id, versions.c.version == number)
                )
            ).one()
            if row.status != "ready":
                raise RegistryError(
                    f"{name}@{number} is archived and cannot be promoted; restore it first "
                    f"(`mlwright models restore {name}@{number}`) or promote another version."
                )
            return self._move_alias(conn, model_id, name, alias, number, who, reason, expected)

        return self._retrying(write)

    def remove_alias(
        self, name: str, alias: str, *, reason: str | None = None, actor: str | None = None
    ) -> Event:
        """Delete ``alias``; the versions stay. Recorded in the audit log."""
        _check_alias(alias)
        who = _actor(actor)

        def write(conn: Connection) -> Event:
            model_id = self._model_id(conn, name)
            row = self._alias_row(conn, model_id, alias)
            if row is None:
                raise RegistryError(f"{name} has no alias '{alias}'.")
            result = conn.execute(
                aliases.delete().where(
                    and_(
                        aliases.c.model_id == model_id,
                        aliases.c.alias == alias,
                        aliases.c.revision == row.revision,
                    )
                )
            )
            if result.rowcount != 1:
                raise _Retry
            return self._event(
                conn,
                model_id,
                name,
                "remove_alias",
                who,
                alias=alias,
                previous_version=row.version,
                reason=reason,
                version=None,
            )

        return self._retrying(write)

    def archive(
        self, name: str, version: int | str, *, reason: str | None = None, actor: str | None = None
    ) -> Event:
        """Mark a version archived: kept for audit and by number, but not promoted or `latest`."""
        return self._set_status(name, version, "archived", reason, actor)

    def restore(
        self, name: str, version: int | str, *, reason: str | None = None, actor: str | None = None
    ) -> Event:
        """Undo ``archive``."""
        return self._set_status(name, version, "ready", reason, actor)

    def _set_status(
        self, name: str, version: int | str, status: str, reason: str | None, actor: str | None
    ) -> Event:
        who = _actor(actor)
        number = self.get(name, version, allow_archived=True).version

        def write(conn: Connection) -> Event:
            model_id = self._model_id(conn, name)
            if status == "archived":
                held = conn.execute(
                    select(aliases.c.alias).where(
                        and_(aliases.c.model_id == model_id, aliases.c.version == number)
                    )
                ).scalars()
                names = sorted(held)
                if names:
                    raise RegistryError(
                        f"{name}@{number} is still named by alias(es) {', '.join(names)}; move "
                        f"them first (`mlwright models promote {name}@N --alias {names[0]}`)."
                    )
            conn.execute(
                update(versions)
                .where(and_(versions.c.model_id == model_id, versions.c.version == number))
                .values(status=status)
            )
            action = "archive" if status == "archived" else "restore"
            return self._event(conn, model_id, name, action, who, version=number, reason=reason)

        return self._retrying(write)

    def record(
        self,
        name: str,
        action: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> Event:
        """Write one audit event for ``name`` (a retraining decision, an alert opened, ...)."""
        if not re.match(r"^[a-z][a-z_]{0,39}$", action):
            raise RegistryError(f"'{action[:50]}' is not a valid event action (lowercase words).")
        who = _actor(actor)

        def write(conn: Connection) -> Event:
            model_id = self._model_id(conn, name)
            return self._event(
                conn,
                model_id,
                name,
                action,
                who,
                version=version,
                alias=alias,
                reason=reason,
                details=details,
            )

        return self._retrying(write)

    @property
    def operations(self) -> Operations:
        """The prediction log, labels, monitoring results, alert states and locks."""
        from mlwright.registry.operations import Operations

        found = self.__dict__.get("_operations")
        if found is None:
            found = self.__dict__["_operations"] = Operations(self)
        return found

    # -- reads ---------------------------------------------------------------------------------
    def resolve(self, ref: str) -> ModelVersion:
        """The version a reference names, with its artifact folder checked against its digest."""
        name, selector = parse_ref(ref)
        found = self.get(name, selector)
        self.store.check(found.digest)
        return found

    def get(self, name: str, selector: int | str, *, allow_archived: bool = False) -> ModelVersion:
        """Version ``selector`` (a number, ``latest`` or an alias) of model ``name``."""
        _check_name(name)
        with self.engine.connect() as conn:
            model_id = self._model_id(conn, name)
            selector = str(selector)
            if selector.isdigit():
                number = int(selector)
            elif selector == "latest":
                number_or_none = conn.execute(
                    select(func.max(versions.c.version)).where(
                        and_(versions.c.model_id == model_id, versions.c.status == "ready")
                    )
                ).scalar()
                if number_or_none is None:
                    raise RegistryError(f"{name} has no version that is not archived.")
                number = int(number_or_none)
            else:
                row = self._alias_row(conn, model_id, selector)
                if row is None:
                    known = self._aliases(conn, model_id)
                    raise RegistryError(
                        f"{name} has no alias '{selector}'"
                        + (f" (it has: {', '.join(sorted(known))})" if known else "")
                        + f". Promote a version to it: `mlwright models promote {name}@N "
                        f"--alias {selector} --reason TEXT`."
                    )
                number = int(row.version)
            found = conn.execute(
                select(versions).where(
                    and_(versions.c.model_id == model_id, versions.c.version == number)
                )
            ).one_or_none()
            if found is None:
                raise RegistryError(
                    f"{name} has no version {number}; see `mlwright models show {name}`."
                )
            if found.status != "ready" and not allow_archived and not selector.isdigit():
                raise RegistryError(f"{name}@{number} is archived.")
            held = tuple(sorted(a for a, v in self._aliases(conn, model_id).items() if v == number))
            return self._version(name, found, held)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        with self.engine.connect() as conn:
            model_id = self._model_id(conn, name)
            by_version: dict[int, list[str]] = {}
            for alias, number in self._aliases(conn, model_id).items():
                by_version.setdefault(number, []).append(alias)
            rows = conn.execute(
                select(versions).where(versions.c.model_id == model_id).order_by(versions.c.version)
            ).all()
            return [
                self._version(name, r, tuple(sorted(by_version.get(int(r.version), []))))
                for r in rows
            ]

    def models(self) -> list[ModelSummary]:
        """Every model, by name."""
        with self.engine.connect() as conn:
            out = []
            for row in conn.execute(select(models).order_by(models.c.name)).all():
                stats = conn.execute(
                    select(func.count(), func.max(versions.c.version)).where(
                        versions.c.model_id == row.id
                    )
                ).one()
                last = conn.execute(
                    select(func.max(events.c.at)).where(events.c.model_id == row.id)
                ).scalar()
                out.append(
                    ModelSummary(
                        name=row.name,
                        versions=int(stats[0]),
                        latest=None if stats[1] is None else int(stats[1]),
                        aliases=self._aliases(conn, row.id),
                        updated_at=_utc(last or row.created_at),
                    )
                )
            return out

    def history(
        self, name: str | None = None, *, alias: str | None = None, limit: int | None = None
    ) -> list[Event]:
        """Audit events, oldest first: of ``name`` (all models if None), of one ``alias``."""
        with self.engine.connect() as conn:
            query = select(events, models.c.name).join(models, models.c.id == events.c.model_id)
            if name is not None:
                query = query.where(events.c.model_id == self._model_id(conn, name))
            if alias is not None:
                query = query.where(events.c.alias == alias)
            query = query.order_by(events.c.id)
            rows = conn.execute(query).all()
        found = [_event_of(r) for r in rows]
        return found[-limit:] if limit else found

    def serving_at(self, name: str, when: datetime, alias: str = "production") -> Event | None:
        """The alias move in force at ``when``: which version, who moved it there and why.

        None when the alias did not exist then (never set, or removed).
        """
        when = _utc(when)
        last: Event | None = None
        for entry in self.history(name, alias=alias):
            if entry.at > when:
                break
            last = entry
        if last is None or last.action == "remove_alias":
            return None
        return last

    # -- internals -----------------------------------------------------------------------------
    def _retrying(self, write: Callable[[Connection], _T]) -> _T:
        delay = 0.005
        for _attempt in range(200):
            try:
                with write_transaction(self.engine) as conn:
                    return write(conn)
            except _Retry:
                pass
            except IntegrityError:
                pass  # a concurrent writer created the same row first: read it and go again
            except OperationalError as exc:
                if "locked" not in str(exc) and "deadlock" not in str(exc).lower():
                    raise RegistryError(
                        f"the registry database failed: {exc.orig}. Check that it is reachable."
                    ) from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)
        raise RegistryError(
            "the registry stayed busy after 200 attempts; another process holds it. Try again."
        )

    def _model_id(
        self,
        conn: Connection,
        name: str,
        *,
        create_by: str | None = None,
        now: datetime | None = None,
    ) -> int:
        found = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
        if found is not None:
            return int(found)
        if create_by is None:
            known = conn.execute(select(models.c.name).order_by(models.c.name).limit(20)).scalars()
            listing = ", ".join(known)
            raise RegistryError(
                f"no model named '{name}' in the registry at {self.url}"
                + (f" (it has: {listing})" if listing else " (it is empty)")
                + ". Register one with `mlwright register DIR --name NAME`."
            )
        with conn.begin_nested():
            result = conn.execute(
                insert(models).values(
                    name=name, created_at=now or _now(), created_by=create_by, last_version=0
                )
            )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def _default_parent(self, conn: Connection, model_id: int) -> int | None:
        row = self._alias_row(conn, model_id, "production")
        if row is not None:
            return int(row.version)
        latest = conn.execute(
            select(func.max(versions.c.version)).where(versions.c.model_id == model_id)
        ).scalar()
        return None if latest is None else int(latest)

    def _exists(self, conn: Connection, model_id: int, number: int) -> bool:
        return (
            conn.execute(
                select(versions.c.id).where(
                    and_(versions.c.model_id == model_id, versions.c.version == number)
                )
            ).first()
            is not None
        )

    def _alias_row(self, conn: Connection, model_id: int, alias: str) -> Row[Any] | None:
        return conn.execute(
            select(aliases).where(and_(aliases.c.model_id == model_id, aliases.c.alias == alias))
        ).one_or_none()

    def _aliases(self, conn: Connection, model_id: int) -> dict[str, int]:
        rows = conn.execute(
            select(aliases.c.alias, aliases.c.version).where(aliases.c.model_id == model_id)
        ).all()
        return {r.alias: int(r.version) for r in rows}

    def _move_alias(
        self,
        conn: Connection,
        model_id: int,
        name: str,
        alias: str,
        number: int,
        who: str,
        reason: str | None,
        expected: int | None,
        now: datetime | None = None,
    ) -> Event:
        now = now or _now()
        row = self._alias_row(conn, model_id, alias)
        current = None if row is None else int(row.version)
        if expected is not None and (current or 0) != expected:
            raise RegistryConflict(
                f"{name}@{alias} points at "
                + (f"version {current}" if current else "nothing")
                + f", not {expected} as expected: someone moved it meanwhile. Check "
                f"`mlwright models history {name}` and try again."
            )
        if row is None:
            with conn.begin_nested():
                conn.execute(
                    insert(aliases).values(
                        model_id=model_id,
                        alias=alias,
                        version=number,
                        revision=1,
                        updated_at=now,
                        updated_by=who,
                    )
                )
        else:
            result = conn.execute(
                update(aliases)
                .where(
                    and_(
                        aliases.c.model_id == model_id,
                        aliases.c.alias == alias,
                        aliases.c.revision == row.revision,
                    )
                )
                .values(version=number, revision=row.revision + 1, updated_at=now, updated_by=who)
            )
            if result.rowcount != 1:
                raise _Retry  # moved by someone else since we read it: start over
        return self._event(
            conn,
            model_id,
            name,
            "promote",
            who,
            version=number,
            alias=alias,
            previous_version=current,
            reason=reason,
            now=now,
        )

    def _event(
        self,
        conn: Connection,
        model_id: int,
        name: str,
        action: str,
        actor: str,
        *,
        version: int | None,
        alias: str | None = None,
        previous_version: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Event:
        now = now or _now()
        conn.execute(
            insert(events).values(
                at=now,
                actor=actor,
                action=action,
                model_id=model_id,
                version=version,
                alias=alias,
                previous_version=previous_version,
                reason=reason,
                details=details,
            )
        )
        return Event(now, actor, action, name, version, alias, previous_version, reason, details)

    def _version(self, name: str, row: Row[Any], held: tuple[str, ...]) -> ModelVersion:
        return ModelVersion(
            name=name,
            version=int(row.version),
            digest=row.digest,
            path=self.store.path(row.digest),
            status=row.status,
            created_at=_utc(row.created_at),
            created_by=row.created_by,
            parent_version=row.parent_version,
            task=row.task,
            metric=row.metric,
            source=row.source,
            metrics=row.metrics,
            params=row.params,
            code=row.code,
            note=row.note,
            aliases=held,
        )


class _Retry(Exception):
    """A compare-and-swap lost the race; the transaction is rolled back and run again."""


def _event_of(row: Row[Any]) -> Event:
    return Event(
        at=_utc(row.at),
        actor=row.actor,
        action=row.action,
        model=row.name,
        version=row.version,
        alias=row.alias,
        previous_version=row.previous_version,
        reason=row.reason,
        details=row.details,
    )


def open_registry(location: str | os.PathLike[str] | None = None) -> Registry:
    """The registry at ``location``: a folder (SQLite inside it) or a database URL.

    ``None`` reads ``MLWRIGHT_REGISTRY`` and falls back to ``./mlwright-registry``. With a
    database URL, model artifacts go to ``MLWRIGHT_ARTIFACT_STORE`` (default
    ``./mlwright-registry/artifacts``); point every client at the same store.
    """
    where = str(location) if location is not None else os.environ.get("MLWRIGHT_REGISTRY", "")
    where = where or DEFAULT_REGISTRY
    if "://" in where:
        store = os.environ.get("MLWRIGHT_ARTIFACT_STORE", str(Path(DEFAULT_REGISTRY, "artifacts")))
        lock = Path(where.split("///", 1)[1] + ".lock") if where.startswith("sqlite:///") else None
        return Registry(where, store, lock_file=lock)
    folder = Path(where).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"registry location '{folder}' is a file; expected a folder (created if missing) or "
            "a database URL such as postgresql+psycopg://user@host/db."
        )
    folder.mkdir(parents=True, exist_ok=True)
    return Registry(
        f"sqlite:///{folder.resolve() / 'registry.db'}",
        folder / "artifacts",
        lock_file=folder / ".migrate.lock",
    )
