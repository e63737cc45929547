"""The reference is built at fit time, saved in the model folder and loaded back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.errors import ArtifactError
from mlwright.monitoring import NumericReference, ReferenceProfile

from ..conftest import EXAMPLE


def test_reference_round_trips_through_save_and_load(churn_model, tmp_path):
    ref = churn_model.reference_
    assert ref is not None and ref.task == "binary" and ref.classes == ["No", "Yes"]
    assert [f.name for f in ref.features] == churn_model.schema_.feature_names
    assert ref.scores is not None and len(ref.scores) <= 5000
    assert ref.performance["accuracy"] > 0.6
    path = churn_model.save(tmp_path / "m")
    files = json.loads((path / "manifest.json").read_text())["files"]
    assert "reference/profile.json" in files and "reference/samples.npy" in files
    loaded = mlwright.load(path)
    assert loaded.reference_ is not None
    assert loaded.reference_.to_dict() == ref.to_dict()
    assert ReferenceProfile.from_dict(ref.to_dict()).to_dict() == ref.to_dict()
    tenure = ref.feature("tenure")
    assert isinstance(tenure, NumericReference) and len(tenure.sample) <= 5000
    # the joint row sample (for reports) lines up with the scores and survives the round trip
    assert ref.sample_frame is not None and len(ref.sample_frame) == len(ref.scores)
    assert "reference/rows.parquet" in files
    # a loaded model reads it only when asked (a server never does): not at load time
    assert loaded.reference_.sample_frame is None
    resaved = mlwright.load(loaded.save(tmp_path / "again")).reference_
    assert resaved is not None  # saving a loaded model keeps the sample it had not read
    for back in (loaded.reference_.sample_rows(), resaved.sample_rows()):
        assert back is not None and list(back.columns) == churn_model.schema_.feature_names
        assert np.allclose(pd.to_numeric(back["tenure"]).to_numpy(), tenure.sample)  # no missing


def test_row_sample_read_late_is_hash_checked(churn_model, tmp_path):
    path = churn_model.save(tmp_path / "m")
    loaded = mlwright.load(path)
    assert loaded.reference_ is not None
    rows = path / "reference" / "rows.parquet"
    churn_model.reference_.sample_frame.head(10).to_parquet(rows)  # swapped after the load
    with pytest.raises(ArtifactError, match="missing or changed since the model was loaded"):
        loaded.reference_.sample_rows()


def test_monitor_a_real_model_on_its_test_split(churn_model):
    test = mlwright.read_data(EXAMPLE / "test.csv")
    report = churn_model.monitor(test)
    # no input drifts; the scores may warn (their reference is out-of-fold, see report.py)
    assert report.status != "alert", report.reasons
    assert not any(f.drifted or f.minor for f in report.features)
    perf = report.performance
    assert perf is not None and perf.labelled_rows == len(test)
    realized = {m.name: m.value for m in perf.realized}
    estimated = {m.name: m.value for m in perf.estimated}
    assert abs(realized["accuracy"] - estimated["accuracy"]) < 0.04
    shifted = test.copy()
    tenure = pd.to_numeric(shifted["tenure"])
    shifted["tenure"] = tenure + 0.5 * tenure.std()  # half a standard deviation
    assert churn_model.monitor(shifted.drop(columns=["Churn"])).status == "alert"


def test_older_artifact_without_reference_still_loads(churn_model, tmp_path):
    path = churn_model.save(tmp_path / "old")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"] = {
        k: v for k, v in manifest["files"].items() if not k.startswith("reference/")
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    for file in (path / "reference").iterdir():
        file.unlink()
    (path / "reference").rmdir()
    old = mlwright.load(path)
    assert old.reference_ is None
    assert len(old.predict(mlwright.read_data(EXAMPLE / "test.csv").head(5))) == 5
    with pytest.raises(ArtifactError, match="no monitoring reference"):
        old.monitor(mlwright.read_data(EXAMPLE / "test.csv"))


def test_regression_reference_has_rmse():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y"], 300)})
    df["t"] = 3 * df["a"] + rng.normal(size=300)
    model = mlwright.train(df, target="t", time_limit=5, preset="fast")
    assert model.reference_ is not None and model.reference_.performance["rmse"] > 0
    report = model.monitor(df)
    assert report.performance is not None and report.performance.realized[0].name == "rmse"
