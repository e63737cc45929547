"""A content-addressed store of model folders on disk.

A model folder is stored under the SHA-256 of its manifest (which holds the SHA-256 of every other
file), so its address is its content: the same model registered twice is stored once, and a path
is derived from the digest only, never from anything a client sent. Writes go to a temporary
folder in the store, every file is fsynced, and one ``rename`` makes the folder appear whole; a
process killed at any point leaves either nothing or a complete folder (plus, at worst, a
temporary folder that ``sweep()`` removes).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

from mlwright.artifact import MANIFEST, read_verified, sha256_file
from mlwright.errors import ArtifactError, RegistryError

__all__ = ["ArtifactStore"]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_TMP = ".tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """Model folders stored by the SHA-256 of their manifest under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """The folder of ``digest``; refuses anything that is not a SHA-256 hex digest."""
        if not _DIGEST.match(digest):
            raise RegistryError(
                f"'{digest[:80]}' is not a SHA-256 digest (64 lowercase hex characters); "
                "artifact paths are derived from digests only."
            )
        return self.root / "sha256" / digest[:2] / digest

    def put(self, model_dir: str | os.PathLike[str]) -> str:
        """Verify ``model_dir``, copy it in unless already present, and return its digest."""
        source = Path(model_dir)
        manifest = read_verified(source)  # every file checked before it is copied
        digest = sha256_file(source / MANIFEST)
        final = self.path(digest)
        if final.is_dir():
            return digest
        tmp_root = self.root / _TMP
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = tmp_root / uuid.uuid4().hex
        tmp.mkdir()
        try:
            for rel in [*manifest["files"], MANIFEST]:
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with (source / rel).open("rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                    dst.flush()
                    os.fsync(dst.fileno())
            for folder in sorted({p.parent for p in tmp.rglob("*")}, reverse=True):
                _fsync_dir(folder)
            if sha256_file(tmp / MANIFEST) != digest:
                raise ArtifactError(
                    f"'{source}' changed while it was being copied into the registry; "
                    "register it again once nothing is writing to it."
                )
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():  # not a concurrent writer of the same content
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
            _fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return digest

    def check(self, digest: str) -> Path:
        """The folder of ``digest`` after checking that its manifest still hashes to it."""
        folder = self.path(digest)
        manifest = folder / MANIFEST
        if not manifest.is_file():
            raise RegistryError(
                f"the artifact {digest[:12]}… is missing from the store at '{self.root}'. "
                "Point --registry (or MLWRIGHT_ARTIFACT_STORE) at the store the model was "
                "registered into, or register the model folder again."
            )
        if sha256_file(manifest) != digest:
            raise ArtifactError(
                f"the stored manifest of artifact {digest[:12]}… no longer matches its digest: "
                "it was modified after registration. Refusing to load it; register the model again."
            )
        return folder

    def digests(self) -> set[str]:
        """Every digest present in the store."""
        base = self.root / "sha256"
        if not base.is_dir():
            return set()
        return {p.name for p in base.glob("*/*") if p.is_dir() and _DIGEST.match(p.name)}

    def sweep(self, keep: set[str] | None = None, *, min_age_s: float = 3600.0) -> list[str]:
        """Remove temporary folders older than ``min_age_s`` (left by killed writers) and, if
        ``keep`` is given, stored digests not in it."""
        removed = []
        tmp_root = self.root / _TMP
        if tmp_root.is_dir():
            for tmp in tmp_root.iterdir():
                if time.time() - tmp.stat().st_mtime < min_age_s:
                    continue  # may belong to a writer still copying
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(str(tmp))
        if keep is not None:
            for digest in self.digests() - keep:
                shutil.rmtree(self.path(digest), ignore_errors=True)
                removed.append(digest)
        return removed
