"""Every metric equals scikit-learn on random data; undefined cases give nan, never raise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as sk

from mlwright.errors import ConfigError, DataError
from mlwright.evaluation import METRICS, default_metric, get_metric, report_metrics

RNG = np.random.default_rng(0)
N = 400
# binary, with tied probabilities so rank ties are exercised
Y_BIN = RNG.integers(0, 2, N)
P1 = np.round(np.clip(0.35 * Y_BIN + 0.65 * RNG.random(N), 0, 1), 2)
P_BIN = np.column_stack([1 - P1, P1])
THRESHOLD = 0.45
LABEL_BIN = (P1 >= THRESHOLD).astype(int)
# multiclass
Y_MC = RNG.integers(0, 4, N)
P_MC = RNG.dirichlet(np.ones(4), N)
P_MC[np.arange(N), Y_MC] += 0.3
P_MC /= P_MC.sum(axis=1, keepdims=True)
LABEL_MC = P_MC.argmax(axis=1)
# regression
Y_REG = RNG.normal(3, 2, N)
P_REG = Y_REG + RNG.normal(0, 1, N)

Ref = Callable[[], float]
BINARY: dict[str, Ref] = {
    "roc_auc": lambda: sk.roc_auc_score(Y_BIN, P1),
    "log_loss": lambda: sk.log_loss(Y_BIN, P_BIN, labels=[0, 1]),
    "accuracy": lambda: sk.accuracy_score(Y_BIN, LABEL_BIN),
    "balanced_accuracy": lambda: sk.balanced_accuracy_score(Y_BIN, LABEL_BIN),
    "f1": lambda: sk.f1_score(Y_BIN, LABEL_BIN),
    "f1_macro": lambda: sk.f1_score(Y_BIN, LABEL_BIN, average="macro"),
    "precision": lambda: sk.precision_score(Y_BIN, LABEL_BIN),
    "recall": lambda: sk.recall_score(Y_BIN, LABEL_BIN),
    "average_precision": lambda: sk.average_precision_score(Y_BIN, P1),
    "mcc": lambda: sk.matthews_corrcoef(Y_BIN, LABEL_BIN),
}
MULTICLASS: dict[str, Ref] = {
    "roc_auc": lambda: sk.roc_auc_score(Y_MC, P_MC, multi_class="ovr", average="macro"),
    "log_loss": lambda: sk.log_loss(Y_MC, P_MC, labels=range(4)),
    "accuracy": lambda: sk.accuracy_score(Y_MC, LABEL_MC),
    "balanced_accuracy": lambda: sk.balanced_accuracy_score(Y_MC, LABEL_MC),
    "f1_macro": lambda: sk.f1_score(Y_MC, LABEL_MC, average="macro"),
    "mcc": lambda: sk.matthews_corrcoef(Y_MC, LABEL_MC),
}
REGRESSION: dict[str, Ref] = {
    "rmse": lambda: sk.root_mean_squared_error(Y_REG, P_REG),
    "mae": lambda: sk.mean_absolute_error(Y_REG, P_REG),
    "r2": lambda: sk.r2_score(Y_REG, P_REG),
    "mape": lambda: sk.mean_absolute_percentage_error(Y_REG, P_REG),
    "median_ae": lambda: sk.median_absolute_error(Y_REG, P_REG),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_metrics_match_sklearn(name: str) -> None:
    got = get_metric(name, "binary").score(Y_BIN, P_BIN, threshold=THRESHOLD)
    assert got == pytest.approx(BINARY[name](), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(MULTICLASS))
def test_multiclass_metrics_match_sklearn(name: str) -> None:
    got = get_metric(name, "multiclass").score(Y_MC, P_MC)
    assert got == pytest.approx(MULTICLASS[name](), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_metrics_match_sklearn(name: str) -> None:
    got = get_metric(name, "regression").score(Y_REG, P_REG)
    assert got == pytest.approx(REGRESSION[name](), rel=1e-12, abs=1e-12)


def test_every_metric_is_checked() -> None:
    assert set(METRICS) == set(BINARY) | set(MULTICLASS) | set(REGRESSION)


def test_binary_accepts_positive_class_column_only() -> None:
    assert get_metric("roc_auc", "binary").score(Y_BIN, P1) == pytest.approx(BINARY["roc_auc"]())


def test_log_loss_clips_certain_mistakes() -> None:
    value = get_metric("log_loss", "binary").score(np.array([1, 0]), np.array([0.0, 1.0]))
    assert np.isfinite(value) and value > 30


def test_loss_is_lower_is_better() -> None:
    auc = get_metric("roc_auc", "binary")
    assert auc.loss(Y_BIN, P_BIN) == -auc.score(Y_BIN, P_BIN)
    rmse = get_metric("rmse", "regression")
    assert rmse.loss(Y_REG, P_REG) == rmse.score(Y_REG, P_REG)


@pytest.mark.parametrize("name", ["roc_auc", "average_precision"])
def test_one_class_present_gives_nan(name: str) -> None:
    y = np.zeros(5, dtype=int)
    metric = get_metric(name, "binary")
    assert np.isnan(metric.score(y, P_BIN[:5]))
    assert metric.loss(y, P_BIN[:5]) == float("inf")


def test_degenerate_cases_never_raise() -> None:
    assert np.isnan(get_metric("r2", "regression").score(np.ones(4), np.arange(4.0)))
    assert np.isnan(get_metric("accuracy", "binary").score(np.array([], int), np.zeros((0, 2))))
    assert get_metric("f1", "binary").score(np.zeros(3, int), P_BIN[:3], threshold=2.0) == 0.0
    # a class absent from y is left out of the one-vs-rest average
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    assert get_metric("roc_auc", "multiclass").score(y, p) == 1.0


def test_mismatched_shapes_are_data_errors() -> None:
    with pytest.raises(DataError, match="one row each"):
        get_metric("rmse", "regression").score(np.ones(3), np.ones(4))
    with pytest.raises(DataError, match="class indices"):
        get_metric("accuracy", "binary").score(np.array([0, 2]), P_BIN[:2])


def test_get_metric_rejects_unknown_and_wrong_task() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'auc'.*roc_auc"):
        get_metric("auc", "binary")
    with pytest.raises(ConfigError, match="does not apply to a regression task.*rmse"):
        get_metric("accuracy", "regression")
    with pytest.raises(ConfigError, match="f1_macro"):
        get_metric("f1", "multiclass")
    with pytest.raises(ConfigError, match="unknown task"):
        get_metric("rmse", "forecast")


def test_defaults_and_report_lists() -> None:
    assert [default_metric(t) for t in ("binary", "multiclass", "regression")] == [
        "roc_auc",
        "log_loss",
        "rmse",
    ]
    assert report_metrics("binary", "f1")[:3] == ["f1", "roc_auc", "log_loss"]
    assert report_metrics("regression", "rmse") == ["rmse", "mae", "r2", "median_ae"]
    assert report_metrics("multiclass", "mcc")[0] == "mcc"
    for task in ("binary", "multiclass", "regression"):
        names = report_metrics(task, default_metric(task))
        assert len(names) == len(set(names))
        assert all(task in METRICS[n].tasks for n in names)
