"""Settings and the project file: defaults, environment, file, flags; unknown keys are errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mlwright.errors import ConfigError
from mlwright.settings import Settings, load_settings, render_project_file


def test_file_then_overrides(tmp_path: Path):
    f = tmp_path / "mlwright.toml"
    f.write_text('[data]\ntarget = "y"\n[training]\ntime_limit = 12\nmetric = ""\n')
    s = load_settings(f)
    assert s.data.target == "y" and s.training.time_limit == 12 and s.training.metric is None
    s2 = s.with_overrides(training={"time_limit": 5, "metric": None})
    assert s2.training.time_limit == 5 and s2.data.target == "y"


def test_unknown_key_is_named(tmp_path: Path):
    f = tmp_path / "mlwright.toml"
    f.write_text("[training]\ntime_limt = 12\n")
    with pytest.raises(ConfigError, match="unknown key 'training.time_limt'"):
        load_settings(f)


def test_bad_value_and_bad_toml(tmp_path: Path):
    f = tmp_path / "mlwright.toml"
    f.write_text("[training]\ntime_limit = -1\n")
    with pytest.raises(ConfigError, match="training.time_limit"):
        load_settings(f)
    f.write_text("[training\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(f)


def test_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLWRIGHT_TRAINING__SEED", "7")
    assert load_settings(search=False).training.seed == 7


def test_rendered_template_loads_back(tmp_path: Path):
    text = render_project_file(
        source='data "x".csv', target="Churn", query=None, task="binary", metric="roc_auc"
    )
    f = tmp_path / "mlwright.toml"
    f.write_text(text)
    s = load_settings(f)
    assert s.data.source == 'data "x".csv' and s.training.metric == "roc_auc"
    # the project file leaves folds, weights and latency to the defaults and the preset
    assert s.training.folds is None and s.data.weight is None
    assert s.constraints.max_latency_ms is None and s.training.preset == "balanced"
    assert "[costs]" in text and tomllib.loads(text)["data"]["target"] == "Churn"
    assert Settings().costs is None
