"""A wheel of the running mlwright, built from its installed files without a build backend.

``pip wheel`` on the project needs the source tree and, offline, an installed build backend; the
running package's files are all a serving image needs. The wheel declares no dependencies: the
image installs the slim serving requirements itself and this wheel with ``--no-deps``.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

__all__ = ["build_wheel"]

_PACKAGE = Path(__file__).resolve().parents[1]  # src/mlwright (or site-packages/mlwright)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed times: the same files give the same wheel
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def build_wheel(directory: Path) -> Path:
    """Write ``mlwright-<version>-py3-none-any.whl`` of the running package into ``directory``.

    Parameters
    ----------
    directory:
        An existing folder.

    Returns
    -------
    The wheel's path; ``pip install --no-deps`` installs it, with the ``mlwright`` command.

    Example:
        >>> build_wheel(Path("docker-out"))
        PosixPath('docker-out/mlwright-0.1.0-py3-none-any.whl')
    """
    version = metadata.version("mlwright")
    info = f"mlwright-{version}.dist-info"
    entries: list[tuple[str, bytes]] = []
    for path in sorted(_PACKAGE.rglob("*")):
        rel = path.relative_to(_PACKAGE)
        if path.is_dir() or _SKIP_DIRS & set(rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        entries.append((f"mlwright/{rel.as_posix()}", path.read_bytes()))
    entries.append((f"{info}/METADATA", _metadata(version).encode()))
    entries.append((f"{info}/WHEEL", _WHEEL.encode()))
    entries.append((f"{info}/entry_points.txt", _entry_points().encode()))
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    wheel = directory / f"mlwright-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            item = zipfile.ZipInfo(name, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    return wheel


_WHEEL = (
    "Wheel-Version: 1.0\nGenerator: mlwright export\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)


def _metadata(version: str) -> str:
    installed = metadata.metadata("mlwright")
    lines = [
        "Metadata-Version: 2.1",
        "Name: mlwright",
        f"Version: {version}",
        f"Summary: {installed['Summary'] or ''}",
        f"Requires-Python: {installed['Requires-Python'] or '>=3.11'}",
    ]
    return "\n".join(lines) + "\n"


def _entry_points() -> str:
    scripts = [
        f"{ep.name} = {ep.value}"
        for ep in metadata.distribution("mlwright").entry_points
        if ep.group == "console_scripts"
    ] or ["mlwright = mlwright.cli:main"]
    return "[console_scripts]\n" + "\n".join(scripts) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
