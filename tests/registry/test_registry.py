"""The registry on SQLite (default) and on the real local PostgreSQL: versions, aliases, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import mlwright
from mlwright.errors import ArtifactError, RegistryConflict, RegistryError
from mlwright.registry import Registry, open_registry
from tests.registry.conftest import fake_model


@pytest.fixture
def reg(registry_location: str) -> Iterator[Registry]:
    registry = open_registry(registry_location)
    yield registry
    registry.close()


def test_register_promote_resolve_and_history(reg: Registry, tmp_path: Path) -> None:
    first = reg.register(fake_model(tmp_path / "m1"), "churn", actor="ana", note="baseline")
    second = reg.register(fake_model(tmp_path / "m2"), "churn", actor="ben", alias="staging")
    assert (first.version, second.version) == (1, 2)
    assert second.parent_version == 1 and second.aliases == ("staging",)
    assert first.created_by == "ana"

    reg.promote("churn", 1, "production", reason="first model", actor="ana")
    event = reg.promote("churn", "staging", "production", reason="better on March", actor="cy")
    assert (event.previous_version, event.version, event.actor) == (1, 2, "cy")
    assert reg.resolve("churn@production").version == 2
    assert reg.resolve("churn@1").version == 1
    assert reg.resolve("churn@latest").version == 2
    assert (reg.resolve("churn@production").path / "weights.bin").is_file()

    actions = [(e.action, e.version, e.alias) for e in reg.history("churn")]
    assert actions == [
        ("register", 1, None),
        ("register", 2, None),
        ("promote", 2, "staging"),
        ("promote", 1, "production"),
        ("promote", 2, "production"),
    ]
    moves = reg.history("churn", alias="production")
    between = moves[0].at + (moves[1].at - moves[0].at) / 2
    in_force = reg.serving_at("churn", between)
    assert in_force is not None and in_force.version == 1 and in_force.actor == "ana"
    assert reg.serving_at("churn", moves[0].at - timedelta(seconds=1)) is None
    now = reg.serving_at("churn", datetime.now(UTC) + timedelta(seconds=1))
    assert now is not None and now.version == 2 and now.reason == "better on March"


def test_same_content_is_stored_once_and_paths_come_from_digests(
    reg: Registry, tmp_path: Path
) -> None:
    a = reg.register(fake_model(tmp_path / "a", b"same"), "m")
    b = reg.register(fake_model(tmp_path / "b", b"same"), "m")
    assert a.digest == b.digest and a.path == b.path and a.version != b.version
    assert reg.store.digests() == {a.digest}
    with pytest.raises(RegistryError, match="not a SHA-256 digest"):
        reg.store.path("../../etc/passwd")


def test_alias_compare_and_swap_and_archive_rules(reg: Registry, tmp_path: Path) -> None:
    for i in range(3):
        reg.register(fake_model(tmp_path / f"m{i}"), "churn")
    reg.promote("churn", 1, "production", expected=0)
    with pytest.raises(RegistryConflict, match="points at version 1, not 2"):
        reg.promote("churn", 3, "production", expected=2)
    reg.promote("churn", 3, "production", expected=1)
    with pytest.raises(RegistryError, match="still named by alias"):
        reg.archive("churn", 3)
    reg.archive("churn", 2, reason="superseded")
    with pytest.raises(RegistryError, match="archived and cannot be promoted"):
        reg.promote("churn", 2, "production")
    reg.restore("churn", 2)
    reg.promote("churn", 2, "production", reason="roll back")
    assert reg.resolve("churn@production").version == 2
    reg.archive("churn", 3)
    assert reg.resolve("churn@latest").version == 2
    reg.remove_alias("churn", "production", reason="retired")
    with pytest.raises(RegistryError, match="no alias 'production'"):
        reg.resolve("churn@production")
    assert reg.serving_at("churn", datetime.now(UTC) + timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("churn", "does not say which version"),
        ("churn@", "does not say which version"),
        ("churn@Prod!", "neither a version number nor an alias"),
        ("../etc@1", "not a valid model name"),
        ("nope@1", "no model named 'nope'"),
        ("churn@9", "has no version 9"),
        ("churn@canary", "has no alias 'canary'"),
    ],
)
def test_bad_references_say_what_to_write(
    reg: Registry, tmp_path: Path, ref: str, message: str
) -> None:
    reg.register(fake_model(tmp_path / "m"), "churn")
    with pytest.raises(RegistryError, match=message):
        reg.resolve(ref)


def test_bad_names_and_aliases_are_refused(reg: Registry, tmp_path: Path) -> None:
    model = fake_model(tmp_path / "m")
    with pytest.raises(RegistryError, match="not a valid model name"):
        reg.register(model, "../evil")
    reg.register(model, "ok")
    with pytest.raises(RegistryError, match="'latest' is reserved"):
        reg.promote("ok", 1, "latest")
    with pytest.raises(RegistryError, match="parent version ok@7 does not exist"):
        reg.register(model, "ok", parent=7)


def test_a_tampered_artifact_is_refused_on_resolve_and_load(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "registry")
    version = reg.register(fake_model(tmp_path / "m"), "churn")
    (version.path / "manifest.json").write_text(
        json.dumps({**json.loads((version.path / "manifest.json").read_text()), "task": "x"})
    )
    with pytest.raises(ArtifactError, match="no longer matches its digest"):
        reg.resolve("churn@1")


def test_a_registered_trained_model_loads_by_alias(
    trained_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = tmp_path / "registry"
    monkeypatch.setenv("MLWRIGHT_REGISTRY", str(location))
    version = mlwright.register(trained_model_dir, "churn", alias="production", reason="v1")
    assert version.source["target"] == "Churn"
    assert version.source["fingerprint"].startswith("sha256:")
    assert version.metrics["primary"] == "roc_auc"
    assert version.code["mlwright"] == mlwright.__version__
    model = mlwright.load("churn@production")
    rows = mlwright.read_data(Path(__file__).parents[2] / "examples/telco_churn/test.csv")
    assert len(model.predict(rows.head(20))) == 20


def test_open_registry_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(mlwright.ConfigError, match="is a file"):
        open_registry(tmp_path / "file")


def test_the_head_constant_names_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from mlwright.registry import database

    script = ScriptDirectory(str(Path(database.__file__).with_name("migrations")))
    assert script.get_current_head() == database.HEAD
