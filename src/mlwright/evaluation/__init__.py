"""Evaluation: metrics, bootstrap intervals, thresholds, cross-validation folds, leaderboards."""

from mlwright.evaluation.bootstrap import bootstrap_interval
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
    "Evaluation",
    "Leaderboard",
    "LeaderboardRow",
    "Metric",
    "MetricResult",
    "bootstrap_interval",
    "choose_threshold",
    "default_metric",
    "evaluate_predictions",
    "get_metric",
    "holdout_split",
    "make_folds",
    "report_metrics",
]
