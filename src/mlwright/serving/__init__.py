"""The model server: ``mlwright serve SOURCE`` or ``create_app(source, config)`` under any ASGI
server. See ``mlwright.serving.app`` for the routes and their access policies."""

from mlwright.serving.app import ROUTE_POLICIES, create_app, route_methods
from mlwright.serving.auth import Access, KeyRing, Scope, check_auth_setup, keys_from_environment
from mlwright.serving.config import ServingConfig
from mlwright.serving.guardrails import Guardrails
from mlwright.serving.predlog import (
    NullPredictionLogger,
    PredictionLogger,
    PredictionRecord,
    RegistryPredictionLogger,
)
from mlwright.serving.server import serve
from mlwright.serving.sources import (
    FolderSource,
    ModelSource,
    RegistrySource,
    ResolvedModel,
    open_source,
)

__all__ = [
    "ROUTE_POLICIES",
    "Access",
    "FolderSource",
    "Guardrails",
    "KeyRing",
    "ModelSource",
    "NullPredictionLogger",
    "PredictionLogger",
    "PredictionRecord",
    "RegistryPredictionLogger",
    "RegistrySource",
    "ResolvedModel",
    "Scope",
    "ServingConfig",
    "check_auth_setup",
    "create_app",
    "keys_from_environment",
    "open_source",
    "route_methods",
    "serve",
]
