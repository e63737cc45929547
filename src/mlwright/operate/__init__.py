"""Operate: retrain registered models on policy and promote them only on evidence.

Example:
    >>> from mlwright.operate import retrain
    >>> decision = retrain(mlwright.registry(), "churn", if_needed=True)
    >>> decision.decision
    'kept'
"""

from mlwright.operate.policy import TriggerCheck, Verdict, check_triggers, judge
from mlwright.operate.retrain import Lease, RetrainDecision, retrain
from mlwright.operate.runner import RetrainRunner

__all__ = [
    "Lease",
    "RetrainDecision",
    "RetrainRunner",
    "TriggerCheck",
    "Verdict",
    "check_triggers",
    "judge",
    "retrain",
]
