"""The README's Python tour runs as written (with a shorter time limit), and documents every
command and public name."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import mlwright

from .conftest import EXAMPLE, REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_python_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "telco_churn")
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks()
    assert blocks, "README has no Python example"
    for block in blocks:
        code = block.replace("time_limit=60", "time_limit=15")
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    assert (tmp_path / "models" / "churn" / "manifest.json").is_file()


def test_readme_opens_with_the_two_commands():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert "mlwright train examples/telco_churn/train.csv --target Churn" in commands[0]
    ci = (REPO / ".ci" / "run").read_text()
    assert commands[1].strip() in ci, "README's test command and .ci/run disagree"


def test_public_names_are_documented():
    for name in mlwright.__all__:
        assert name in README, name
    assert sorted(mlwright.__all__) == list(mlwright.__all__)
