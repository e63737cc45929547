"""The model registry: versions with lineage, aliases, an audit log and a content-addressed store.

Example:
    >>> reg = open_registry("./mlwright-registry")
    >>> v = reg.register("models/churn", "churn")
    >>> reg.promote("churn", v.version, "production", reason="beats v2 on March data")
    >>> Model.load(reg.resolve("churn@production").path)
"""

from mlwright.registry.registry import (
    DEFAULT_REGISTRY,
    Event,
    ModelSummary,
    ModelVersion,
    Registry,
    open_registry,
    parse_ref,
)
from mlwright.registry.store import ArtifactStore

__all__ = [
    "DEFAULT_REGISTRY",
    "ArtifactStore",
    "Event",
    "ModelSummary",
    "ModelVersion",
    "Registry",
    "open_registry",
    "parse_ref",
]
