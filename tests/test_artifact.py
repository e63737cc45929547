"""Artifact directories: hashed manifest, atomic replace, refusal of tampered or partial copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlwright.artifact import MANIFEST, read_verified, write_artifact
from mlwright.errors import ArtifactError


def _payload(tmp: Path) -> dict[str, Any]:
    (tmp / "sub").mkdir()
    (tmp / "sub" / "weights.txt").write_text("tree 1\n")
    (tmp / "coef.json").write_text("[1, 2]")
    return {"extra": 1}


def test_roundtrip_lists_every_file(tmp_path: Path):
    out = write_artifact(tmp_path / "m", {"task": "binary"}, _payload)
    manifest = read_verified(out)
    assert set(manifest["files"]) == {"sub/weights.txt", "coef.json"}
    assert manifest["task"] == "binary" and manifest["extra"] == 1
    assert len(manifest["files"]["coef.json"]["sha256"]) == 64


def test_tampered_file_refused(tmp_path: Path):
    out = write_artifact(tmp_path / "m", {}, _payload)
    (out / "coef.json").write_text("[1, 3]")
    with pytest.raises(ArtifactError, match="coef.json.*SHA-256"):
        read_verified(out)


def test_truncated_file_refused(tmp_path: Path):
    out = write_artifact(tmp_path / "m", {}, _payload)
    (out / "sub" / "weights.txt").write_text("tr")
    with pytest.raises(ArtifactError, match="truncated or modified"):
        read_verified(out)


def test_missing_file_and_manifest_refused(tmp_path: Path):
    out = write_artifact(tmp_path / "m", {}, _payload)
    (out / "coef.json").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        read_verified(out)
    (out / MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        read_verified(out)


def test_path_escape_in_manifest_refused(tmp_path: Path):
    out = write_artifact(tmp_path / "m", {}, _payload)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["../outside"] = {"sha256": "0" * 64, "bytes": 0}
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unsafe path"):
        read_verified(out)


def test_moved_folder_still_loads(tmp_path: Path):
    out = write_artifact(tmp_path / "a" / "m", {}, _payload)
    moved = out.rename(tmp_path / "elsewhere")
    assert read_verified(moved)["files"]


def test_never_overwrites_a_foreign_folder(tmp_path: Path):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ArtifactError, match="not an mlwright model"):
        write_artifact(foreign, {}, _payload)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_replaces_an_existing_artifact(tmp_path: Path):
    write_artifact(tmp_path / "m", {"v": 1}, _payload)
    write_artifact(tmp_path / "m", {"v": 2}, _payload)
    assert read_verified(tmp_path / "m")["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
