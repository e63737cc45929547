"""``mlwright serve``: the REST model server."""

from __future__ import annotations

import typer

from mlwright.progress import stderr_console
from mlwright.serving import (
    ServingConfig,
    check_auth_setup,
    keys_from_environment,
    open_source,
    serve,
)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("serve")(serve_cmd)


def serve_cmd(
    source: str = typer.Argument(
        ..., help="A model folder, or a registry reference NAME@ALIAS / NAME@VERSION."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    registry: str = typer.Option(
        None, "--registry", help="Registry folder or URL (default: $MLWRIGHT_REGISTRY)."
    ),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Serve without API keys (only on 127.0.0.1/localhost)."
    ),
    max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Largest request body, MiB."),
    poll_interval: float = typer.Option(
        2.0, "--poll-interval", help="Seconds between checks for a new model version."
    ),
    max_in_flight: int = typer.Option(
        256, "--max-in-flight", help="Predict requests admitted at once; more get 503."
    ),
    max_batch_rows: int = typer.Option(
        256, "--max-batch-rows", help="Most rows scored in one model call (micro-batching)."
    ),
    batch_wait_ms: float = typer.Option(
        0.0, "--batch-wait-ms", help="Wait this long to gather concurrent requests [0: no wait]."
    ),
    request_timeout: float = typer.Option(
        30.0, "--request-timeout", help="Seconds a predict request may wait before a 503."
    ),
    shutdown_timeout: float = typer.Option(
        10.0, "--shutdown-timeout", help="Seconds in-flight requests get to finish on shutdown."
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Serve a model over HTTP: POST /predict, /metadata, /health, /ready, /metrics.

    API keys come from MLWRIGHT_API_KEYS ('KEY:predict,KEY2:admin') or the file named by
    MLWRIGHT_API_KEYS_FILE; clients send 'Authorization: Bearer KEY'. A registry reference is
    polled, and the server switches to the new version when the alias moves.

    Example:
        mlwright serve models/churn --no-auth
        MLWRIGHT_API_KEYS=$KEY:predict mlwright serve churn@production --host 0.0.0.0
    """
    keys = check_auth_setup(host, keys_from_environment(), no_auth)
    config = ServingConfig(
        host=host,
        port=port,
        keys=keys,
        max_body_mb=max_body_mb,
        poll_interval=poll_interval,
        max_in_flight=max_in_flight,
        max_batch_rows=max_batch_rows,
        batch_wait_ms=batch_wait_ms,
        request_timeout=request_timeout,
        shutdown_timeout=shutdown_timeout,
        access_log=access_log,
        log_level=log_level.lower(),
    )
    model_source = open_source(source, registry)
    resolved = model_source.resolve()  # a wrong path or reference fails here, in one line
    version = "" if resolved.version is None else f" version {resolved.version}"
    auth = "no auth (localhost only)" if keys is None else f"{len(keys)} API key(s)"
    stderr_console().print(
        f"serving {resolved.name}{version} from {model_source.description} on "
        f"http://{host}:{port} ({auth})",
        highlight=False,
        soft_wrap=True,
    )
    serve(model_source, config)
