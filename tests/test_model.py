"""End to end through the public API: train, predict, evaluate, save, load in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlwright
from mlwright.errors import ArtifactError, NotTrainedError, SchemaMismatch
from mlwright.models.catalog import CATALOG
from mlwright.tasks.tabular.candidate import BaggedCandidate

from .conftest import EXAMPLE, REPO

FAST = mlwright.Settings.model_validate(
    {"training": {"time_limit": 30, "max_trials": 3, "folds": 3}, "progress": False}
)


def _regression(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "size": rng.uniform(20, 200, n).round(1),
            "rooms": rng.integers(1, 6, n),
            "area": rng.choice(["north", "south", "centre"], n),
        }
    )
    df["price"] = 1000 * df["size"] + 5000 * (df["area"] == "centre") + rng.normal(0, 3000, n)
    df["price"] = df["price"].map(lambda v: f"${v:,.2f}")  # money stored as text
    return df


def _multiclass(n: int = 450) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=n), rng.normal(size=n)
    label = np.select([a > 0.5, b > 0.5], ["alpha", "beta"], "gamma")
    return pd.DataFrame({"a": a, "b": b, "noise": rng.normal(size=n), "label": label})


@pytest.fixture(scope="module")
def churn_model() -> mlwright.Model:
    return mlwright.train(EXAMPLE / "train.csv", target="Churn", settings=FAST)


@pytest.fixture(scope="module")
def churn_test() -> pd.DataFrame:
    return mlwright.read_data(EXAMPLE / "test.csv")


def test_binary_example_end_to_end(churn_model: mlwright.Model, churn_test: pd.DataFrame):
    model = churn_model
    assert model.task_ == "binary" and model.metric_ == "roc_auc"
    assert model.classes_ == ["No", "Yes"]
    assert model.schema["customerID"].role.value == "identifier"
    board = model.leaderboard.to_frame()
    assert len(board) >= 3 and {"score", "fit_time", "predict_time_per_1k"} <= set(board.columns)
    proba = model.predict_proba(churn_test)
    assert list(proba.columns) == ["No", "Yes"] and proba.index.equals(churn_test.index)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = model.predict(churn_test)
    assert len(pred) == len(churn_test) and set(pred.unique()) <= {"No", "Yes"}
    evaluation = model.evaluate(churn_test, n_boot=200)
    auc = evaluation["roc_auc"]
    assert 0.80 < auc.value < 0.90 and auc.low < auc.value < auc.high
    assert evaluation.threshold is not None and evaluation.confusion is not None
    assert int(evaluation.confusion.to_numpy().sum()) == len(churn_test)


def test_predictions_keep_input_order_and_index(churn_model: mlwright.Model, churn_test):
    sample = churn_test.sample(50, random_state=1)
    shuffled = sample.set_index(pd.Index([f"r{i}" for i in range(50)]))
    p1 = churn_model.predict_proba(shuffled)
    p2 = churn_model.predict_proba(sample.iloc[::-1])
    assert list(p1.index) == list(shuffled.index)
    np.testing.assert_allclose(p1.to_numpy()[::-1], p2.to_numpy())


def test_save_load_fresh_process_identical(churn_model, churn_test, tmp_path: Path):
    saved = churn_model.save(tmp_path / "a" / "churn")
    expected = churn_model.predict_proba(churn_test)
    moved = saved.rename(tmp_path / "moved")  # folders move freely
    sample = tmp_path / "rows.csv"
    churn_test.to_csv(sample, index=False)
    code = (
        "import sys, mlwright; m = mlwright.load(sys.argv[1]); "
        "m.predict_proba(mlwright.read_data(sys.argv[2])).to_csv(sys.argv[3], index=False)"
    )
    out = tmp_path / "p.csv"
    subprocess.run([sys.executable, "-c", code, str(moved), str(sample), str(out)], check=True)
    again = pd.read_csv(out)
    np.testing.assert_array_equal(again.to_numpy(), expected.to_numpy())
    manifest = json.loads((moved / "manifest.json").read_text())
    for key in ("task", "schema", "cv_evaluation", "versions", "files", "training"):
        assert key in manifest
    assert manifest["training"]["data_fingerprint"].startswith("sha256:")
    assert not list(moved.rglob("*.pkl")) and not list(moved.rglob("*.pickle"))


def test_tampered_model_refused(churn_model, tmp_path: Path):
    saved = churn_model.save(tmp_path / "m")
    # whichever learners won, their native model files are hash-checked
    learner_file = sorted(p for p in saved.rglob("*") if p.is_file() and "learner" in p.parts)[0]
    learner_file.write_bytes(learner_file.read_bytes() + b" ")
    with pytest.raises(ArtifactError, match=learner_file.name):
        mlwright.load(saved)


def test_schema_checked_at_prediction(churn_model, churn_test):
    with pytest.raises(SchemaMismatch, match="tenure"):
        churn_model.predict(churn_test.drop(columns=["tenure"]))
    extra = churn_test.head(5).assign(surprise=1)
    with pytest.warns(mlwright.MlwrightWarning, match="surprise"):
        churn_model.predict(extra)
    odd = churn_test.head(5).copy()
    odd["Contract"] = "Lifetime"  # unseen category
    odd["MonthlyCharges"] = [None, "?", "70.5", "$80", "abc"]
    result = churn_model.score(odd)
    assert len(result.frame) == 4 and len(result.rejects) == 1
    assert "MonthlyCharges" in result.rejects["_reason"].iloc[0]
    with pytest.warns(mlwright.MlwrightWarning, match="set aside"):
        pred = churn_model.predict(odd)
    assert pred.isna().sum() == 1 and len(pred) == 5


@pytest.mark.parametrize("seed", range(12))
def test_few_rows_typed_directly_match_conform(churn_model, churn_test, monkeypatch, seed):
    """predict() types up to _FEW_ROWS plain rows as the server does; the result is conform's."""
    import mlwright.model as model_module

    rng = np.random.default_rng(seed)
    frame = churn_test.sample(int(rng.choice([1, 3, 40, 300])), random_state=seed)
    frame = frame.reset_index(drop=True) if seed % 2 else frame  # a shuffled index too
    messy = frame.copy()
    if seed % 3 == 0:  # text columns as plain Python objects, numbers as text
        messy = messy.astype(object)
        messy["tenure"] = messy["tenure"].map(str)
    if seed % 4 == 1:  # missing values and missing markers
        messy.loc[messy.index[:1], ["MonthlyCharges", "Contract"]] = [np.nan, "NA"]
        messy.loc[messy.index[-1:], "PaymentMethod"] = None
    if seed % 5 == 2:  # a column of pandas' nullable text and one of pandas' own categoricals
        messy["gender"] = messy["gender"].astype("string")
        messy["Partner"] = messy["Partner"].astype("category")
    if seed % 6 == 5:  # numbers as numbers (taken as arrays), of other widths
        messy["MonthlyCharges"] = messy["MonthlyCharges"].astype("float32")
        messy["tenure"] = messy["tenure"].astype("int32")
    if seed % 8 == 6:  # text columns of two Arrow chunks, as pd.concat leaves them
        messy = pd.concat([messy.iloc[:1], messy.iloc[1:]])
    if seed % 7 == 5:  # a number in text that Arrow's check refuses: conform parses it
        messy.loc[messy.index[:1], "TotalCharges"] = " 70.5"
    if seed % 7 == 3:  # a number that is not finite
        messy["MonthlyCharges"] = messy["MonthlyCharges"].astype(float)
        messy.loc[messy.index[:1], "MonthlyCharges"] = np.inf
    fast = churn_model.predict_proba(messy)
    labels = churn_model.predict(messy)
    monkeypatch.setattr(model_module, "_FEW_ROWS", 0)  # conform for everything
    pd.testing.assert_frame_equal(fast, churn_model.predict_proba(messy), check_exact=True)
    pd.testing.assert_series_equal(labels, churn_model.predict(messy))
    assert fast.index.equals(messy.index)


def test_few_plain_rows_skip_conform(churn_model, churn_test):
    """Plain rows, as read_data gives them (Arrow text, in one chunk or several), or with
    numbers as NumPy numbers, take the direct path (conform is only for what it must decide)."""
    rows = churn_test.head(20)
    numbers = rows.astype({"tenure": "int64", "MonthlyCharges": "float64"})
    for frame in (rows, pd.concat([rows.iloc[:7], rows.iloc[7:]]), numbers):
        assert churn_model._typed_few(frame) is not None
    assert churn_model._typed_few(rows.assign(Contract="Lifetime")) is not None  # unseen: encoder
    assert churn_model._typed_few(rows.assign(tenure="abc")) is None  # a row to set aside


def test_regression_with_messy_money_target(tmp_path: Path):
    df = _regression()
    model = mlwright.train(df, target="price", settings=FAST)
    assert model.task_ == "regression" and model.metric_ == "rmse"
    evaluation = model.evaluate(df.tail(100), n_boot=100)
    assert evaluation.residuals is not None
    assert evaluation["rmse"].value < 6000
    pred = model.predict(df.head(10))
    assert pred.dtype == float and len(pred) == 10


def test_multiclass_labels_as_in_data():
    df = _multiclass()
    model = mlwright.train(df, target="label", settings=FAST)
    assert model.task_ == "multiclass" and model.metric_ == "log_loss"
    proba = model.predict_proba(df.head(20))
    assert list(proba.columns) == ["alpha", "beta", "gamma"]
    assert (model.predict(df) == df["label"]).mean() > 0.8


def test_metric_override_and_forced_task():
    df = _multiclass()
    model = mlwright.train(df, target="label", metric="accuracy", settings=FAST)
    assert model.metric_ == "accuracy" and model.leaderboard.metric == "accuracy"
    with pytest.raises(mlwright.ConfigError, match="metric"):
        mlwright.train(df, target="label", metric="rmse", settings=FAST)


def test_same_seed_same_model():
    df = _multiclass(300)
    settings = FAST.with_overrides(training={"max_trials": 2})
    a = mlwright.train(df, target="label", seed=5, settings=settings)
    b = mlwright.train(df, target="label", seed=5, settings=settings)
    np.testing.assert_array_equal(a.predict_proba(df).to_numpy(), b.predict_proba(df).to_numpy())


def test_time_limit_honoured():
    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"f{i}" for i in range(12)])
    df["y"] = (df["f0"] + rng.normal(size=n) > 0).astype(int)
    settings = mlwright.Settings.model_validate({"progress": False})
    start = time.monotonic()
    model = mlwright.train(df, target="y", time_limit=8, settings=settings)
    elapsed = time.monotonic() - start
    assert elapsed <= 8 * 1.05, elapsed  # the issue: the run ends within 5% of the limit
    assert len(model.leaderboard.rows) >= 1


def test_cross_validated_intervals_are_planned_into_the_time_limit():
    from mlwright.search.budget import TimeBudget

    y = np.random.default_rng(0).integers(0, 2, 100_000)
    model = mlwright.Model(mlwright.Settings.model_validate({"progress": False}))
    # 200 resamples take about 1 s per 20,000 binary rows: far over a tenth of 1 s, so the fewest
    n_boot, seconds = model._plan_evaluation("binary", "roc_auc", y, 2, TimeBudget(1.0))
    assert n_boot == 50 and seconds > 0
    n_boot, seconds = model._plan_evaluation("binary", "roc_auc", y, 2, TimeBudget(3600.0))
    assert n_boot == 200 and 0 < seconds < 360
    steady = mlwright.Model(
        mlwright.Settings.model_validate({"training": {"deterministic": True}, "progress": False})
    )
    assert steady._plan_evaluation("binary", "roc_auc", y, 2, TimeBudget(1.0)) == (200, 0.0)


def test_a_limit_too_short_to_evaluate_says_so_before_searching():
    from mlwright.errors import BudgetExceeded

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=200_000), "b": rng.normal(size=200_000)})
    df["y"] = (df["a"] > 0).astype(int)
    settings = mlwright.Settings.model_validate({"progress": False})
    with pytest.raises(BudgetExceeded, match=r"time_limit=0.01s leaves no time to search"):
        mlwright.train(df, target="y", time_limit=0.01, settings=settings)


def test_untrained_model():
    with pytest.raises(NotTrainedError):
        mlwright.Model().predict(pd.DataFrame({"a": [1]}))


@pytest.mark.slow
def test_readme_quickstart_command(tmp_path: Path):
    """The README's first command, as a user runs it (with the installed console script)."""
    exe = Path(sys.executable).with_name("mlwright")
    out = tmp_path / "churn"
    done = subprocess.run(
        [
            str(exe),
            "train",
            str(EXAMPLE / "train.csv"),
            "--target",
            "Churn",
            "--time-limit",
            "60",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Model saved to" in done.stdout and str(out) in done.stdout.replace("\n", "")
    assert "leaderboard" in done.stdout and (out / "manifest.json").is_file()
    # the table shows the best rows; the manifest keeps every candidate tried
    manifest = json.loads((out / "manifest.json").read_text())
    learners = {row["learner"] for row in manifest["predictor"]["leaderboard"]["rows"]}
    assert "lightgbm" in learners and len(learners) >= 3


class _RunawayClock:
    """A clock on which every reading is 10 s after the last: a machine far slower than any
    budget."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 10.0
        return self.now


def test_deterministic_mode_ignores_the_clock(monkeypatch: pytest.MonkeyPatch):
    from mlwright.search import budget as budget_module

    df = _multiclass(300)
    settings = mlwright.Settings.model_validate(
        {"training": {"time_limit": 6, "deterministic": True, "folds": 3}, "progress": False}
    )
    a = mlwright.train(df, target="label", seed=1, settings=settings)
    monkeypatch.setattr(budget_module, "time", _RunawayClock())
    b = mlwright.train(df, target="label", seed=1, settings=settings)
    assert [r.name for r in a.leaderboard.rows] == [r.name for r in b.leaderboard.rows]
    assert len(a.leaderboard.rows) > 2
    np.testing.assert_array_equal(a.predict_proba(df).to_numpy(), b.predict_proba(df).to_numpy())


def test_presets_name_outcomes():
    df = _multiclass(300)
    # deterministic: the refit must not depend on how busy the machine is
    fast = mlwright.Settings.model_validate(
        {"training": {"time_limit": 20, "preset": "fast", "deterministic": True}, "progress": False}
    )
    model = mlwright.train(df, target="label", settings=fast)
    notes = {r.note for r in model.leaderboard.rows if r.learner != "ensemble"}
    assert notes == {"default"}  # no tuning in the fast preset
    # fast (like balanced) serves each member refitted once on all rows, not its 3 fold models
    bagged = [c for c, _ in model.predictor_.members if not CATALOG[c.learner].out_of_bag]
    assert bagged and all(c.refit and len(c.folds) == 1 for c in bagged)
    best = mlwright.Settings.model_validate(
        {
            "training": {
                "time_limit": 20,
                "preset": "best",
                "folds": 3,
                "max_trials": 3,
                "deterministic": True,
            },
            "progress": False,
        }
    )
    kept = mlwright.train(df, target="label", settings=best)
    assert all(
        len(c.folds) == 3 and not c.refit
        for c, _ in kept.predictor_.members
        if isinstance(c, BaggedCandidate) and not CATALOG[c.learner].out_of_bag
    )
    with pytest.raises(mlwright.ConfigError, match="preset"):
        mlwright.Settings().with_overrides(training={"preset": "turbo"})


def test_costs_set_the_threshold_and_are_reported_in_money(churn_model, churn_test):
    costly_misses = FAST.with_overrides(costs={"fp": 1.0, "fn": 20.0})
    model = mlwright.train(EXAMPLE / "train.csv", target="Churn", settings=costly_misses)
    # a missed churner costs 20x a needless offer: flag far more customers than at F1's threshold
    assert model.threshold_ < churn_model.threshold_
    evaluation = model.evaluate(churn_test, n_boot=100)
    cost = evaluation.cost
    assert cost is not None and cost["fn"] == 20.0
    assert cost["per_row_low"] <= cost["per_row"] <= cost["per_row_high"]
    # the model must beat both policies that need no model
    assert cost["per_row"] < min(cost["act_on_none"], cost["act_on_all"])
    assert churn_model.evaluate(churn_test, n_boot=50).cost is None


def test_probabilities_are_calibrated(churn_model, churn_test):
    from mlwright.evaluation import expected_calibration_error

    calibration = churn_model.predictor_.calibration
    assert calibration is not None and calibration.log_loss_after <= calibration.log_loss_before
    y = (churn_test["Churn"] == "Yes").to_numpy().astype(int)
    proba = churn_model.predict_proba(churn_test)[["No", "Yes"]].to_numpy()
    assert expected_calibration_error(y, proba) < 0.06


def test_compact_meets_a_latency_limit_and_reports_the_trade_off(tmp_path: Path, churn_test):
    train_df = mlwright.read_data(EXAMPLE / "train.csv")
    # the best preset keeps every fold model: compaction has refits to offer
    settings = FAST.with_overrides(training={"max_trials": 4, "preset": "best"})
    model = mlwright.train(train_df, target="Churn", settings=settings)
    small = model.compact(train_df)
    report = small.compaction_
    assert report is not None and {o.kind for o in report.options} >= {"refit"}
    chosen = next(o for o in report.options if o.name == report.chosen)
    safe = [o for o in report.options if not o.significantly_worse]
    # the fastest option that is not worse, or one within timing noise (10%) that scores better
    assert chosen.latency_ms <= 1.1 * min(o.latency_ms for o in safe)
    assert not chosen.significantly_worse
    # the compact model still predicts well, and survives save/load
    auc = small.evaluate(churn_test, n_boot=50)["roc_auc"].value
    assert auc > model.evaluate(churn_test, n_boot=50)["roc_auc"].value - 0.02
    reloaded = mlwright.load(small.save(tmp_path / "small"))
    np.testing.assert_allclose(
        reloaded.predict_proba(churn_test).to_numpy(), small.predict_proba(churn_test).to_numpy()
    )
    # an impossible limit: the fastest option, and the report says so
    tiny = model.compact(train_df, max_latency_ms=1e-6).compaction_
    assert tiny is not None and "no option meets" in tiny.reason


def _flipped(n: int = 600, seed: int = 4) -> pd.DataFrame:
    """Half the rows follow y = (x > 0), the other half the opposite, with weight 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    clean = np.arange(n) % 2 == 0
    y = np.where(clean, x > 0, x <= 0).astype(int)
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "w": clean.astype(float), "y": y})


def test_row_weights_decide_what_is_learned():
    df = _flipped()
    test = _flipped(seed=5).query("w == 1").drop(columns=["w"])  # new rows, not training rows
    weighted = mlwright.train(df, target="y", weight="w", settings=FAST)
    assert weighted.info_["weighted"] and "w" not in weighted.schema_.feature_names
    assert weighted.evaluate(test, n_boot=50)["roc_auc"].value > 0.95
    # without the weights the two halves cancel out
    plain = mlwright.train(df.drop(columns=["w"]), target="y", settings=FAST)
    assert plain.evaluate(test, n_boot=50)["roc_auc"].value < 0.8
    assert "knn" not in {r.learner for r in weighted.leaderboard.rows}  # cannot take weights


def test_balanced_class_weight_lifts_the_rare_class():
    rng = np.random.default_rng(6)
    n = 1000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = np.where(df["a"] + rng.normal(0, 1, n) > 1.8, "rare", "common")
    plain = mlwright.train(df, target="y", settings=FAST)
    balanced = mlwright.train(df, target="y", class_weight="balanced", settings=FAST)
    share = (df["y"] == "rare").mean()
    assert plain.predict_proba(df)["rare"].mean() == pytest.approx(share, abs=0.05)
    assert balanced.predict_proba(df)["rare"].mean() > 2 * share


def test_configurations_that_do_not_fit_in_memory_are_skipped(monkeypatch: pytest.MonkeyPatch):
    from mlwright.tasks.tabular import trainer

    df = _multiclass(300)
    # 1 kB free: every configuration's memory estimate is larger
    monkeypatch.setattr(trainer, "available_memory", lambda: 1e3)
    with pytest.raises(mlwright.BudgetExceeded, match="GB free"):
        mlwright.train(df, target="label", settings=FAST)


def test_best_preset_adds_a_stacking_layer_that_saves_and_loads(tmp_path: Path):
    df = _multiclass(450)
    best = FAST.with_overrides(training={"preset": "best", "max_trials": 3, "folds": 3})
    model = mlwright.train(df, target="label", settings=best)
    stacked = [r for r in model.leaderboard.rows if r.name.endswith("_stack")]
    assert {r.learner for r in stacked} == {"lightgbm", "linear"}
    assert all(r.note.startswith("stacked on ") for r in stacked)
    # here the stack beats every base by far, so the saved model holds it
    assert any(name.endswith("_stack") for name in model.predictor_.member_names)
    reloaded = mlwright.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(
        reloaded.predict_proba(df).to_numpy(), model.predict_proba(df).to_numpy()
    )
