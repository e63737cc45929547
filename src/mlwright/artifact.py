"""Artifact directories: a JSON manifest with the SHA-256 of every file, checked before loading."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from mlwright.errors import ArtifactError

__all__ = ["FORMAT", "MANIFEST", "read_verified", "sha256_file", "write_artifact"]

MANIFEST = "manifest.json"
FORMAT = "mlwright-model/1"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(
    directory: str | os.PathLike[str],
    manifest: dict[str, Any],
    write_files: Callable[[Path], dict[str, Any]],
) -> Path:
    """Write an artifact directory atomically.

    ``write_files(tmp)`` writes the payload into a fresh temporary folder and returns entries to
    add to the manifest; then every file is hashed into ``manifest["files"]``, the manifest is
    written last, and the folder is renamed into
    place. An existing artifact at ``directory`` is replaced; any other non-empty folder is refused.
    """
    target = Path(directory)
    if target.exists() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ArtifactError(
            f"'{target}' exists and is not an mlwright model directory; "
            "choose an empty or new folder so that nothing of yours is overwritten."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        extra = write_files(tmp)
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = path.relative_to(tmp).as_posix()
            files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        body = {"format": FORMAT, **manifest, **extra, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_verified(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest and check every listed file before anything else is parsed.

    Raises ArtifactError when the folder or manifest is missing, the format is unknown, a listed
    path escapes the folder, or a file is missing, truncated or altered.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(f"model directory '{root}' not found. Pass the folder given to save().")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(
            f"'{root}' has no {MANIFEST}, so it is not an mlwright model (or it was only partly "
            "copied). Pass the folder written by `mlwright train --out` or Model.save()."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{manifest_path} is not valid JSON ({exc}); the artifact is damaged. Save it again."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArtifactError(
            f"{manifest_path} has format {found!r}; expected {FORMAT!r}. "
            "Retrain, or load it with the mlwright version that wrote it."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactError(f"{manifest_path} lists no files; the artifact is damaged.")
    for rel, info in files.items():
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise ArtifactError(f"{manifest_path} names an unsafe path {rel!r}; refusing to load.")
        path = root / pure
        if not path.is_file():
            raise ArtifactError(
                f"'{rel}' listed in the manifest is missing from '{root}'; the artifact is "
                "incomplete. Copy the whole folder again or retrain."
            )
        size = path.stat().st_size
        if size != info.get("bytes") or sha256_file(path) != info.get("sha256"):
            raise ArtifactError(
                f"'{rel}' in '{root}' does not match its SHA-256 in the manifest "
                f"({size} bytes, expected {info.get('bytes')}): it was truncated or modified "
                "after saving. Refusing to load it; restore the original or retrain."
            )
    return manifest
