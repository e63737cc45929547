"""Paired comparisons: right error rates, power, exact hand computations, plain sentences."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from mlwright.errors import ConfigError, DataError
from mlwright.evaluation import (
    Comparison,
    compare_folds,
    corrected_resampled_t,
    fold_scores,
    get_metric,
    make_folds,
    paired_bootstrap,
)
from mlwright.evaluation.compare import bootstrap_p_value, bootstrap_scores

Data = Callable[[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def two_classifiers(
    n: int, seed: int, gap: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary targets and two models' probabilities; ``a`` separates the classes ``gap`` better."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    logit_a = (1.0 + gap) * (2 * y - 1) + rng.normal(0, 1.5, n)
    logit_b = 1.0 * (2 * y - 1) + rng.normal(0, 1.5, n)
    return y, 1 / (1 + np.exp(-logit_a)), 1 / (1 + np.exp(-logit_b))


def two_regressors(
    n: int, seed: int, noise_a: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 3, n)
    return y, y + rng.normal(0, noise_a, n), y + rng.normal(0, 1.0, n)


@pytest.mark.parametrize(
    ("metric_name", "task", "data"),
    [("roc_auc", "binary", two_classifiers), ("rmse", "regression", two_regressors)],
)
def test_type_one_error_is_about_alpha_when_equally_good(
    metric_name: str, task: str, data: Data
) -> None:
    metric = get_metric(metric_name, task)
    rejections = 0
    sims = 200
    for seed in range(sims):
        y, a, b = data(150, seed)
        rejections += paired_bootstrap(metric, y, a, b, n_boot=400, seed=seed).significant
    assert 0.01 <= rejections / sims <= 0.10


def test_clearly_better_model_is_significant_either_way_round() -> None:
    y, a, b = two_classifiers(2000, seed=1, gap=1.0)
    metric = get_metric("roc_auc", "binary")
    ab = paired_bootstrap(metric, y, a, b, names=("strong", "weak"))
    assert ab.significant and ab.difference > 0 and 0 < ab.low <= ab.difference <= ab.high
    assert ab.p_value < 0.001
    ba = paired_bootstrap(metric, y, b, a, names=("weak", "strong"))
    assert ba.significant and ba.difference < 0 and ba.high < 0
    assert ba.sentence().startswith("strong is better than weak by ")


def test_direction_follows_metric_lower_is_better() -> None:
    y, a, b = two_regressors(1000, seed=2, noise_a=0.5)  # a has the smaller errors
    c = paired_bootstrap(get_metric("rmse", "regression"), y, a, b)
    assert c.score_a < c.score_b and c.difference == pytest.approx(c.score_b - c.score_a)
    assert c.difference > 0 and c.significant


def test_p_values_symmetric_in_a_and_b() -> None:
    y, a, b = two_classifiers(300, seed=3, gap=0.15)
    for name in ("roc_auc", "log_loss", "accuracy"):
        metric = get_metric(name, "binary")
        ab = paired_bootstrap(metric, y, a, b, n_boot=500, seed=4)
        ba = paired_bootstrap(metric, y, b, a, n_boot=500, seed=4)
        assert ab.p_value == pytest.approx(ba.p_value)
        assert ab.difference == pytest.approx(-ba.difference)
        assert (ab.low, ab.high) == pytest.approx((-ba.high, -ba.low))


def test_deterministic_per_seed() -> None:
    y, a, b = two_classifiers(300, seed=5, gap=0.1)
    metric = get_metric("roc_auc", "binary")
    first = paired_bootstrap(metric, y, a, b, n_boot=300, seed=7)
    assert paired_bootstrap(metric, y, a, b, n_boot=300, seed=7) == first
    assert paired_bootstrap(metric, y, a, b, n_boot=300, seed=8).low != first.low


def test_resampled_scores_pair_the_rows() -> None:
    # the same resampled rows for both: comparing a model with itself never differs
    y, a, _ = two_classifiers(200, seed=6)
    metric = get_metric("roc_auc", "binary")
    scores = bootstrap_scores(metric, y, [a, a.copy()], n_boot=200, seed=0)
    np.testing.assert_array_equal(scores[0], scores[1])
    same = paired_bootstrap(metric, y, a, a)
    assert same.p_value == 1.0 and not same.significant and same.low == same.high == 0.0


def test_bootstrap_p_value_counts_the_far_side() -> None:
    diffs = np.r_[np.full(95, 1.0), np.full(5, -1.0)]
    assert bootstrap_p_value(diffs) == pytest.approx(2 * 6 / 101)
    assert math.isnan(bootstrap_p_value(np.array([np.nan])))


def test_corrected_t_matches_hand_computation() -> None:
    diffs = np.array([0.012, 0.020, 0.004, 0.015, 0.009])
    n_train, n_test = 800, 200
    mean = diffs.mean()
    var = ((diffs - mean) ** 2).sum() / 4
    se = math.sqrt((1 / 5 + 200 / 800) * var)
    t = mean / se
    expected_p = 2 * (1 - stats.t.cdf(t, df=4))
    margin = stats.t.ppf(0.975, df=4) * se
    c = corrected_resampled_t(diffs, n_train, n_test, metric="roc_auc", names=("x", "y"))
    assert c.method == "corrected_t" and c.difference == pytest.approx(mean)
    assert c.p_value == pytest.approx(expected_p)
    assert (c.low, c.high) == pytest.approx((mean - margin, mean + margin))
    assert c.significant == (expected_p < 0.05)
    # the correction makes it more cautious than the naive t-test on folds
    assert c.p_value > stats.ttest_1samp(diffs, 0.0).pvalue
    flipped = corrected_resampled_t(-diffs, n_train, n_test, metric="roc_auc")
    assert flipped.p_value == pytest.approx(c.p_value)


def test_corrected_t_edge_cases_and_bad_input() -> None:
    same = corrected_resampled_t(np.zeros(5), 80, 20, metric="mae")
    assert same.p_value == 1.0 and not same.significant
    constant = corrected_resampled_t(np.full(5, 0.1), 80, 20, metric="mae")
    assert constant.p_value == 0.0 and constant.significant
    with pytest.raises(DataError, match="at least 2 finite"):
        corrected_resampled_t(np.array([0.1]), 80, 20, metric="mae")
    with pytest.raises(ConfigError, match="positive row counts"):
        corrected_resampled_t(np.ones(3), 0, 20, metric="mae")
    with pytest.raises(ConfigError, match="alpha must be between 0 and 1"):
        corrected_resampled_t(np.ones(3), 80, 20, metric="mae", alpha=5)


def test_fold_scores_equal_scoring_each_fold() -> None:
    y, a, _ = two_classifiers(300, seed=9)
    folds = make_folds(y, "binary", 5, seed=0)
    for name in ("roc_auc", "accuracy", "log_loss", "f1"):
        metric = get_metric(name, "binary")
        expected = [metric.score(y[val], a[val]) for _, val in folds]
        np.testing.assert_allclose(fold_scores(metric, y, a, folds), expected)


def test_compare_folds_runs_the_corrected_t_on_fold_scores() -> None:
    y, a, b = two_regressors(500, seed=10, noise_a=0.6)
    metric = get_metric("mae", "regression")
    folds = make_folds(y, "regression", 5, seed=0)
    c = compare_folds(metric, y, a, b, folds, names=("a", "b"))
    diffs = fold_scores(metric, y, b, folds) - fold_scores(metric, y, a, folds)
    assert c == corrected_resampled_t(
        diffs, 400, 100, metric="mae", names=("a", "b"), scores=(c.score_a, c.score_b)
    )
    assert c.significant and c.difference > 0 and c.score_a < c.score_b


def test_sentences_in_plain_words() -> None:
    better = Comparison(
        "roc_auc", "lightgbm_1", "linear_1", 0.9, 0.888, 0.012, 0.004, 0.020, 0.003,
        "paired_bootstrap", True,
    )  # fmt: skip
    assert better.sentence() == (
        "lightgbm_1 is better than linear_1 by 0.012 roc_auc (95% CI 0.004 to 0.020, p = 0.003)"
    )
    worse = Comparison(
        "rmse", "linear_1", "lightgbm_1", 3.2, 2.0, -1.2, -1.5, -0.9, 0.0001, "corrected_t", True,
        alpha=0.1,
    )  # fmt: skip
    assert worse.sentence() == (
        "lightgbm_1 is better than linear_1 by 1.2 rmse (90% CI 0.9 to 1.5, p < 0.001)"
    )
    none = Comparison(
        "roc_auc", "a", "b", 0.8, 0.79, 0.01, -0.01, 0.03, 0.41, "paired_bootstrap", False
    )
    assert none.sentence() == "no significant difference between a and b in roc_auc (p = 0.41)"


def test_to_dict_is_json_ready() -> None:
    c = corrected_resampled_t(np.array([0.1, 0.2, 0.15]), 80, 20, metric="mae")
    document = c.to_dict()
    json.dumps(document, allow_nan=False)
    assert document["score_a"] is None and document["method"] == "corrected_t"
    assert set(document) >= {"metric", "a", "b", "difference", "low", "high", "p_value"}


def test_bad_arguments_say_what_to_pass() -> None:
    y, a, b = two_regressors(50, seed=0)
    metric = get_metric("rmse", "regression")
    with pytest.raises(ConfigError, match="n_boot must be at least 1"):
        paired_bootstrap(metric, y, a, b, n_boot=0)
    with pytest.raises(ConfigError, match="alpha must be between 0 and 1"):
        paired_bootstrap(metric, y, a, b, alpha=0)
    with pytest.raises(DataError, match="one row each"):
        paired_bootstrap(metric, y, a[:-1], b)
