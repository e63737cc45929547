"""Printing results: Rich for people, one JSON document on stdout with ``--json``."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console, RenderableType

__all__ = ["emit", "stdout_console"]


def stdout_console() -> Console:
    """A Rich console on stdout."""
    return Console(soft_wrap=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def emit(as_json: bool, document: dict[str, Any], *renderables: RenderableType) -> None:
    """Print ``document`` as JSON when ``as_json``, otherwise the Rich ``renderables``."""
    if as_json:
        print(json.dumps(_clean(document), indent=2, default=str))
        return
    console = stdout_console()
    for item in renderables:
        console.print(item)
