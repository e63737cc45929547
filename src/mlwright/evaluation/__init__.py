"""Evaluation: metrics, bootstrap intervals, paired comparisons, thresholds, folds, leaderboards."""

from mlwright.evaluation.bootstrap import bootstrap_interval
from mlwright.evaluation.calibration import (
    Calibration,
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)
from mlwright.evaluation.compare import (
    Comparison,
    compare_folds,
    corrected_resampled_t,
    fold_scores,
    paired_bootstrap,
)
from mlwright.evaluation.cv import holdout_split, make_folds
from mlwright.evaluation.evaluation import Evaluation, MetricResult, evaluate_predictions
from mlwright.evaluation.leaderboard import Leaderboard, LeaderboardRow
from mlwright.evaluation.metrics import (
    METRICS,
    Metric,
    default_metric,
    get_metric,
    report_metrics,
)
from mlwright.evaluation.threshold import choose_threshold

__all__ = [
    "METRICS",
    "Calibration",
    "Comparison",
    "Evaluation",
    "Leaderboard",
    "LeaderboardRow",
    "Metric",
    "MetricResult",
    "apply_temperature",
    "bootstrap_interval",
    "choose_threshold",
    "compare_folds",
    "corrected_resampled_t",
    "default_metric",
    "evaluate_predictions",
    "expected_calibration_error",
    "fit_temperature",
    "fold_scores",
    "get_metric",
    "holdout_split",
    "make_folds",
    "paired_bootstrap",
    "report_metrics",
]
