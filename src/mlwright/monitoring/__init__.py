"""Monitoring: drift, data quality and performance of a model's windows against its reference.

Every alarm is a significant test (Holm-corrected across all checks of a window, 1% family-wise)
AND an effect large enough to act on, so identical data stays quiet at any window size.

Example:
    >>> report = model.monitor(window_df)          # or monitor(model.reference_, features, proba)
    >>> report.status, report.reasons
"""

from mlwright.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    Delivery,
    evaluate_alerts,
    parse_rules,
    post_json,
)
from mlwright.monitoring.drift import (
    ALPHA,
    MIN_ROWS,
    PSI_ALERT,
    PSI_WARN,
    DriftReport,
    FeatureDrift,
    drift,
)
from mlwright.monitoring.performance import (
    MetricCheck,
    PerformanceReport,
    estimate_performance,
    expected_accuracy,
    expected_roc_auc,
)
from mlwright.monitoring.quality import ColumnQuality, QualityCheck, quality_checks
from mlwright.monitoring.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    SkippedReference,
    build_reference,
)
from mlwright.monitoring.report import MonitorReport, encode_labels, monitor
from mlwright.monitoring.service import (
    FeedbackResult,
    LoggedMonitorResult,
    WindowSummary,
    monitor_logged,
    parse_duration,
    parse_time,
    store_feedback,
)

__all__ = [
    "ALPHA",
    "MIN_ROWS",
    "PSI_ALERT",
    "PSI_WARN",
    "AlertEvent",
    "AlertRule",
    "CategoricalReference",
    "ColumnQuality",
    "Delivery",
    "DriftReport",
    "FeedbackResult",
    "FeatureDrift",
    "LoggedMonitorResult",
    "MetricCheck",
    "MonitorReport",
    "NumericReference",
    "PerformanceReport",
    "QualityCheck",
    "ReferenceProfile",
    "SkippedReference",
    "WindowSummary",
    "build_reference",
    "drift",
    "encode_labels",
    "estimate_performance",
    "evaluate_alerts",
    "expected_accuracy",
    "expected_roc_auc",
    "monitor",
    "monitor_logged",
    "parse_duration",
    "parse_rules",
    "parse_time",
    "post_json",
    "quality_checks",
    "store_feedback",
]
