"""``mlwright export --docker``: the build folder, the slim requirements, the wheel, and proof
that loading and scoring a model import no training-only package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from mlwright.artifact import read_verified
from mlwright.cli import main
from mlwright.deploy import TRAINING_ONLY, export_docker, model_learners
from mlwright.errors import ArtifactError, ConfigError

from ..conftest import EXAMPLE

# packages only training, development or tests use; the serving path must not import them
NEVER_SERVED = {*TRAINING_ONLY, "torch", "schemathesis", "pytest", "hypothesis", "mypy"}
LEARNER_MODULES = {"lightgbm": "lightgbm", "xgboost": "xgboost", "catboost": "catboost"}

# run in a fresh interpreter: block imports, load, score, create the app, list what was imported
SERVE_PATH = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, importlib.util, json, sys

    at_start = set(sys.modules)  # what the interpreter loaded itself (site hooks)
    blocked = set(sys.argv[2].split(","))

    class Refuse(importlib.abc.Loader):
        def create_module(self, spec):
            raise ImportError(f"{spec.name} is training-only and blocked here")

        def exec_module(self, module):
            pass

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in blocked:
                return importlib.machinery.ModuleSpec(name, Refuse())
            return None

    sys.meta_path.insert(0, Block())
    import pandas as pd
    from mlwright import Model

    model = Model.load(sys.argv[1])
    rows = pd.read_csv(sys.argv[3], dtype=str, keep_default_na=False).head(50)
    scored = model.score(rows).frame
    import mlwright.serving as serving

    app = type(serving.create_app(serving.open_source(sys.argv[1]))).__name__
    imported = sorted(set(sys.modules) - at_start)
    print(json.dumps({"scored": len(scored), "app": app, "modules": imported}))
    """
)


def _serve_path(model_dir: Path, blocked: set[str]) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_PATH,
            str(model_dir),
            ",".join(sorted(blocked)),
            str(EXAMPLE / "test.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _name(line: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>;\[ ]", line, maxsplit=1)[0]).lower()


def _closure(names: set[str]) -> set[str]:
    """``names`` and every distribution they require (extras left out), as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra" not in r.partition(";")[2]]
    return seen


@pytest.fixture(scope="module")
def exported(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("export") / "image"
    export_docker(model_dir, dest)
    return dest


def test_folder_holds_dockerfile_requirements_wheel_model_readme(
    exported: Path, model_dir: Path
) -> None:
    names = sorted(p.name for p in exported.iterdir())
    assert names == [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "mlwright-0.1.0-py3-none-any.whl",
        "model",
        "requirements.txt",
    ]
    assert read_verified(exported / "model") == read_verified(model_dir)
    dockerfile = (exported / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "pip install --no-deps ./mlwright-0.1.0-py3-none-any.whl" in dockerfile
    assert 'CMD ["mlwright", "serve", "/model", "--host", "0.0.0.0", "--port", "8000"]' in (
        dockerfile
    )
    readme = (exported / "README.md").read_text()
    assert "docker build -t image ." in readme and "MLWRIGHT_API_KEYS" in readme
    assert all(p.stat().st_mode & 0o004 for p in exported.rglob("*"))  # readable in the image


def test_requirements_are_slim_and_pinned_to_the_manifest(exported: Path) -> None:
    versions = read_verified(exported / "model")["versions"]
    lines = [
        line
        for line in (exported / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = {_name(line) for line in lines}
    assert not names & NEVER_SERVED
    assert {"numpy", "pandas", "scikit-learn", "fastapi", "uvicorn"} <= names
    assert f"numpy=={versions['numpy']}" in lines
    assert f"scikit-learn=={versions['scikit-learn']}" in lines
    learners = set(model_learners(exported / "model"))
    for learner in LEARNER_MODULES:
        pinned = [line for line in lines if _name(line).startswith(learner)]
        if learner in learners:
            assert pinned == [f"{_name(pinned[0])}=={versions[learner]}"]
        else:
            assert pinned == []
    assert all("==" in line for line in lines)


def test_wheel_installs_without_dependencies(exported: Path, tmp_path: Path) -> None:
    wheel = exported / "mlwright-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        entry_points = archive.read("mlwright-0.1.0.dist-info/entry_points.txt").decode()
    assert "mlwright/model.py" in files and "mlwright/py.typed" in files
    assert not [f for f in files if "__pycache__" in f]
    assert "mlwright = mlwright.cli:main" in entry_points
    target = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "mlwright" / "deploy" / "batch.py").is_file()
    assert (target / "bin" / "mlwright").is_file()


def test_serving_path_imports_no_training_package(exported: Path) -> None:
    learners = set(model_learners(exported / "model"))
    unused = {module for name, module in LEARNER_MODULES.items() if name not in learners}
    result = _serve_path(exported / "model", NEVER_SERVED | unused)
    assert result["scored"] == 50 and result["app"] == "FastAPI"
    top = {m.partition(".")[0] for m in result["modules"]}
    assert not top & (NEVER_SERVED | unused)
    # every third-party package imported is installed by requirements.txt (or what it requires)
    lines = (exported / "requirements.txt").read_text().splitlines()
    allowed = _closure({_name(line) for line in lines if line and not line.startswith("#")})
    owners = metadata.packages_distributions()
    imported = {_name(d) for m in top for d in owners.get(m, [])} - {"mlwright"}
    assert imported <= allowed, sorted(imported - allowed)


def test_refuses_a_folder_of_other_files_and_a_tampered_model(
    model_dir: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty and does not hold an earlier export"):
        export_docker(model_dir, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    copy = tmp_path / "copy"
    export_docker(model_dir, tmp_path / "first")
    (tmp_path / "first" / "model").rename(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    victim = copy / next(iter(manifest["files"]))
    victim.write_bytes(victim.read_bytes() + b"!")
    with pytest.raises(ArtifactError):
        export_docker(copy, tmp_path / "second")
    assert not (tmp_path / "second").exists()


def test_cli_export_replaces_an_earlier_export(model_dir: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "churn-image"
    for _ in range(2):
        main(["export", str(model_dir), "--docker", str(dest), "--json"])
        doc = json.loads(capsys.readouterr().out)
    assert doc["directory"] == str(dest) and doc["build"] == f"docker build -t churn-image {dest}"
    assert [p.name for p in tmp_path.iterdir()] == ["churn-image"]
