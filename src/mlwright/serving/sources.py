"""Model sources: where the served model comes from, and which version it is right now.

A ``FolderSource`` serves one model folder; a ``RegistrySource`` serves a registry reference
(``churn@production`` or ``churn@3``) and is re-resolved on every poll, so that moving an alias
switches the server to the new version. Both return a ``ResolvedModel``; the server loads a new
one only when its digest differs from the one it serves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mlwright.artifact import MANIFEST
from mlwright.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    from mlwright.registry import Registry

__all__ = ["FolderSource", "ModelSource", "RegistrySource", "ResolvedModel", "open_source"]


@dataclass(frozen=True)
class ResolvedModel:
    """One concrete model version: its name, registry version (None for a folder), folder and
    digest (what identifies its content)."""

    name: str
    version: int | None
    path: Path
    digest: str


class ModelSource(Protocol):
    """Something that says which model to serve now."""

    @property
    def description(self) -> str:
        """What the source is, for messages (a folder path or a registry reference)."""
        ...

    def resolve(self) -> ResolvedModel:
        """The model version to serve now; raises an MlwrightError when there is none."""
        ...


class FolderSource:
    """A model folder written by ``Model.save``.

    The folder is fixed, but a model saved over it (saving replaces a folder atomically) changes
    its manifest digest and is picked up at the next poll.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def description(self) -> str:
        """The folder path."""
        return str(self.path)

    def resolve(self) -> ResolvedModel:
        """The folder's model, identified by the SHA-256 of its manifest."""
        manifest = self.path / MANIFEST
        try:
            digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        except OSError:
            raise ArtifactError(
                f"'{self.path}' is not a model folder: {MANIFEST} cannot be read. Expected a "
                "folder written by `mlwright train --out` or Model.save(); check the path."
            ) from None
        return ResolvedModel(self.path.resolve().name, None, self.path, digest)


class RegistrySource:
    """A registry reference ``NAME@ALIAS`` or ``NAME@VERSION``, resolved anew on every call."""

    def __init__(self, ref: str, registry_url: str | None = None) -> None:
        from mlwright.registry import open_registry  # the registry is optional for folder serving

        self.ref = ref
        self.registry_url = registry_url
        self._registry = open_registry(registry_url)

    @property
    def registry(self) -> Registry:
        """The registry the reference is resolved in (its prediction log lives there too)."""
        return self._registry

    @property
    def description(self) -> str:
        """The reference, with the registry when one was named."""
        where = f" in {self.registry_url}" if self.registry_url else ""
        return f"{self.ref}{where}"

    def resolve(self) -> ResolvedModel:
        """The version the reference points at now."""
        version = self._registry.resolve(self.ref)
        return ResolvedModel(version.name, version.version, Path(version.path), version.digest)


def open_source(spec: str, registry_url: str | None = None) -> ModelSource:
    """A folder source when ``spec`` is a folder, a registry source for ``NAME@ALIAS``."""
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path)
    name, at, alias = spec.partition("@")
    if at and name and alias and "/" not in name:
        return RegistrySource(spec, registry_url)
    raise ConfigError(
        f"'{spec}' is neither a model folder nor a registry reference. Expected a folder "
        "written by `mlwright train --out` or NAME@ALIAS / NAME@VERSION (e.g. churn@production)."
        " Check the path, or register the model with `mlwright register`."
    )
