"""``mlwright serve``: the REST model server; ``mlwright ui``: the web dashboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mlwright.cli.predlog import log_name
from mlwright.errors import ConfigError, MlwrightError
from mlwright.progress import stderr_console
from mlwright.serving import (
    ModelSource,
    RegistryPredictionLogger,
    RegistrySource,
    ResolvedModel,
    ServingConfig,
    check_auth_setup,
    keys_from_environment,
    open_source,
    serve,
)
from mlwright.settings import PredictionLogSettings, Settings, load_settings

if TYPE_CHECKING:  # the runner pulls in training; a server without --retrain never imports it
    from mlwright.operate import RetrainRunner

ACTION_HELP = "off, flag, default or review"

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("serve")(serve_cmd)
    app.command("ui")(ui_cmd)


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
    log: bool = typer.Option(
        None,
        "--log/--no-log",
        help="Log every prediction into the registry [prediction_log.enabled: on for NAME@ALIAS].",
        show_default=False,
    ),
    log_as: str = typer.Option(
        None, "--log-as", help="Log a model folder's predictions under this registered NAME."
    ),
    out_of_range: str = typer.Option(
        None, "--out-of-range", help=f"Guardrail for inputs far outside training: {ACTION_HELP}."
    ),
    out_of_range_k: float = typer.Option(
        None, "--out-of-range-k", help="Out of range beyond min/max by k x the training range [1]."
    ),
    low_confidence: str = typer.Option(
        None, "--low-confidence", help=f"Guardrail for low classifier confidence: {ACTION_HELP}."
    ),
    low_confidence_threshold: float = typer.Option(
        None, "--low-confidence-threshold", help="Top class probability below this is low [0.6]."
    ),
    default_prediction: str = typer.Option(
        None, "--default-prediction", help="The answer given under the 'default' action."
    ),
    shadow: str = typer.Option(
        None,
        "--shadow",
        help="Also score every answered request with this version (NAME@ALIAS), silently, "
        "off the request path; its predictions are logged to be compared on real outcomes "
        "(mlwright retrain NAME --shadow NAME@ALIAS).",
    ),
    retrain: bool = typer.Option(
        False,
        "--retrain",
        help="Run the [retrain] policy in the background: monitor, alert and retrain "
        "(one server of a fleet acts, chosen by a lease in the registry).",
    ),
    project: Path = typer.Option(
        None, "--project", help="Project file to read (default: ./mlwright.toml when present)."
    ),
) -> None:
    """Serve a model over HTTP: POST /predict, /feedback, GET /metadata, /health, /ready,
    /metrics, /monitoring.

    API keys come from MLWRIGHT_API_KEYS ('KEY:predict,KEY2:admin') or the file named by
    MLWRIGHT_API_KEYS_FILE; clients send 'Authorization: Bearer KEY'. A registry reference is
    polled, and the server switches to the new version when the alias moves.

    A registry reference logs every prediction into that registry (request ids, inputs, outputs;
    --no-log turns it off), which POST /feedback joins labels to and GET /monitoring judges; a
    model folder logs only with --log-as NAME (a model registered in --registry). Guardrails
    ([guardrails] in mlwright.toml, or the flags) flag, replace or route to review predictions
    whose inputs are far outside the training data or whose confidence is low. --shadow scores
    each answered request with a second version of the model too, never delaying or changing the
    answer, and logs its predictions under the same request ids, so labels judge both.

    Example:
        mlwright serve models/churn --no-auth
        MLWRIGHT_API_KEYS=$KEY:predict mlwright serve churn@production --host 0.0.0.0
        mlwright serve churn@production --no-auth --low-confidence review
        mlwright serve churn@production --no-auth --retrain
        mlwright serve churn@production --no-auth --shadow churn@challenger
    """
    keys = check_auth_setup(host, keys_from_environment(), no_auth)
    settings = load_settings(project).with_overrides(
        guardrails={
            "out_of_range": out_of_range,
            "out_of_range_k": out_of_range_k,
            "low_confidence": low_confidence,
            "low_confidence_threshold": low_confidence_threshold,
            "default_prediction": default_prediction,
        }
    )
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
        guardrails=settings.guardrails if settings.guardrails.active else None,
        alerts=settings.alerts,
        monitoring=settings.monitoring,
        shadow=shadow,
    )
    model_source = open_source(source, registry)
    resolved = model_source.resolve()  # a wrong path or reference fails here, in one line
    version = "" if resolved.version is None else f" version {resolved.version}"
    auth = "no auth (localhost only)" if keys is None else f"{len(keys)} API key(s)"
    err = stderr_console()
    err.print(
        f"serving {resolved.name}{version} from {model_source.description} on "
        f"http://{host}:{port} ({auth})",
        highlight=False,
        soft_wrap=True,
    )
    logger = prediction_logger(model_source, resolved, settings, log=log, log_as=log_as,
                               registry=registry)  # fmt: skip
    if logger is None:
        err.print("prediction log: off", highlight=False)
    else:
        for message in logger.start():  # earlier writers that died with rows unwritten
            err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
        err.print(
            f"prediction log: model '{logger.name}' in {_where(logger)}; {logger.bound}",
            highlight=False,
            soft_wrap=True,
        )
    if isinstance(model_source, RegistrySource) or logger is not None:
        err.print(f"dashboard: http://{host}:{port}/ui", highlight=False)
    if shadow is not None:
        _announce_shadow(shadow, logger)
    rails = settings.guardrails
    if rails.active:
        rules = [f"{r}={getattr(rails, r)}" for r in ("out_of_range", "low_confidence")]
        err.print(f"guardrails: {', '.join(rules)}", highlight=False)
    runner = _runner(model_source, source, settings) if retrain else None
    try:
        serve(model_source, config, prediction_logger=logger)
    finally:
        if runner is not None:
            runner.stop()


def ui_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    registry: str = typer.Option(
        None, "--registry", help="Registry folder or URL (default: $MLWRIGHT_REGISTRY)."
    ),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Serve without API keys (only on 127.0.0.1/localhost)."
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Serve the web dashboard of a registry: models, versions and aliases, leaderboards and
    reports, monitoring charts, alerts, the audit log, and promote / roll back with a reason.

    Open http://HOST:PORT/ui and sign in with an API key (the same keys as mlwright serve:
    MLWRIGHT_API_KEYS or MLWRIGHT_API_KEYS_FILE); a predict key can look, an admin key can
    also promote and roll back. Every asset is served by mlwright itself, so it works offline.
    `mlwright serve NAME@ALIAS` shows the same dashboard at /ui.

    Example:
        mlwright ui --no-auth
        MLWRIGHT_API_KEYS=$KEY:admin mlwright ui --host 0.0.0.0 --port 8080 --registry ./reg
    """
    from mlwright.registry import open_registry
    from mlwright.registry.database import redact_url
    from mlwright.serving.dashboard_app import serve_dashboard

    keys = check_auth_setup(host, keys_from_environment(), no_auth)
    opened = open_registry(registry)
    auth = "no auth (localhost only)" if keys is None else f"{len(keys)} API key(s)"
    stderr_console().print(
        f"dashboard of {redact_url(opened.url)} on http://{host}:{port}/ui ({auth})",
        highlight=False,
        soft_wrap=True,
    )
    try:
        serve_dashboard(
            opened,
            keys,
            host=host,
            port=port,
            log_level=log_level.lower(),
            access_log=access_log,
        )
    finally:
        opened.close()


def _runner(model_source: ModelSource, ref: str, settings: Settings) -> RetrainRunner:
    """The background runner of the retraining policy for a registry reference."""
    from mlwright.operate import RetrainRunner
    from mlwright.registry import parse_ref

    if not isinstance(model_source, RegistrySource):
        raise ConfigError(
            f"--retrain needs a registry reference (NAME@ALIAS), not the folder {ref}: "
            "retraining registers challengers and moves the alias. Register the model first."
        )
    name, selector = parse_ref(ref)
    if selector.isdigit() or selector == "latest":
        raise ConfigError(f"--retrain needs an alias to move (e.g. {name}@production), not {ref}.")
    runner = RetrainRunner(model_source.registry, name, alias=selector, settings=settings)
    policy = settings.retrain
    triggers = [
        f"schedule {policy.schedule}" if policy.schedule else None,
        "on alert" if policy.on_alert else None,
        f"{policy.min_new_labels} new labels" if policy.min_new_labels else None,
    ]
    found = ", ".join(t for t in triggers if t) or "none set: only monitoring runs"
    stderr_console().print(
        f"retraining runner: every {runner.check_interval_s:g} s, monitors {name}@{selector} "
        f"and retrains on policy (triggers: {found})",
        highlight=False,
        soft_wrap=True,
    )
    runner.start()
    return runner


def _announce_shadow(shadow: str, logger: RegistryPredictionLogger | None) -> None:
    """Say which version shadows; a reference that does not resolve yet is a warning (the
    server retries it), a server without a prediction log an error."""
    if logger is None:
        raise ConfigError(
            f"--shadow {shadow} needs the prediction log: the shadow's predictions are logged to "
            "be compared on real outcomes. Serve NAME@ALIAS without --no-log (or a folder with "
            "--log-as NAME)."
        )
    err = stderr_console()
    try:
        found = logger.registry.resolve(shadow)
    except MlwrightError as exc:
        err.print(
            f"[yellow]warning:[/] the shadow {shadow} cannot be loaded yet ({exc}); the server "
            "retries it and reports it in /health.",
            highlight=False,
            soft_wrap=True,
        )
        return
    err.print(
        f"shadow: {found.name} version {found.version} scores every answered request, off the "
        "request path (logged with source 'shadow')",
        highlight=False,
        soft_wrap=True,
    )


def prediction_logger(
    source: ModelSource,
    resolved: ResolvedModel,
    settings: Settings,
    *,
    log: bool | None,
    log_as: str | None,
    registry: str | None,
) -> RegistryPredictionLogger | None:
    """The prediction log a server of ``source`` writes, or None when it does not log.

    A registry reference logs into its registry under its own name unless turned off (``log``
    False, or ``prediction_log.enabled = false``); a folder logs only under ``log_as``.
    """
    options: PredictionLogSettings = settings.prediction_log
    registry_ref = isinstance(source, RegistrySource)
    name = log_name(
        resolved.name if registry_ref else None,
        source.description,
        enabled=options.enabled,
        log=log,
        log_as=log_as,
        verb="serve",
    )
    if name is None:
        return None
    if isinstance(source, RegistrySource):
        target = source.registry
    else:
        from mlwright.registry import open_registry

        target = open_registry(registry)
    return RegistryPredictionLogger(
        target,
        name,
        buffer_rows=options.buffer_rows,
        flush_interval=options.flush_interval_s,
        retention_days=options.retention_days,
    )


def _where(logger: RegistryPredictionLogger) -> str:
    from mlwright.registry.database import redact_url

    return redact_url(logger.registry.url)
