"""Using a model outside training: batch scoring of big files and queries, Docker export.

Example:
    >>> from mlwright.deploy import score_file
    >>> model = mlwright.load("churn@production")
    >>> score_file(model, "big.parquet", Path("scored.parquet")).rows_per_second
"""

from mlwright.deploy.batch import (
    BatchLog,
    BatchSummary,
    default_rejects_path,
    score_file,
    score_stream,
)
from mlwright.deploy.docker import (
    TRAINING_ONLY,
    DockerExport,
    export_docker,
    model_learners,
    serving_requirements,
)
from mlwright.deploy.sinks import TableSink, open_sink, stdout_sink
from mlwright.deploy.wheel import build_wheel

__all__ = [
    "TRAINING_ONLY",
    "BatchLog",
    "BatchSummary",
    "DockerExport",
    "TableSink",
    "build_wheel",
    "default_rejects_path",
    "export_docker",
    "model_learners",
    "open_sink",
    "score_file",
    "score_stream",
    "serving_requirements",
    "stdout_sink",
]
