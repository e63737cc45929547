"""create_app: the FastAPI model server.

Routes and their access policies (``ROUTE_POLICIES`` is the one place they are declared; the
app refuses to build if a route lacks one):

=======================  =========  ==========================================================
route                    policy     what
=======================  =========  ==========================================================
GET  /health             public     liveness, the model served, the last reload failure
GET  /ready              public     200 once a model is loaded, 503 before
POST /predict            predict    score rows (JSON, CSV or Parquet)
POST /explain            predict    why each row got its prediction (feature attributions)
POST /feedback           predict    ground truth for predictions (request id + actual value)
GET  /metadata           predict    input schema, model name/version, task, classes, metrics
GET  /openapi.json       predict    this API, with the model's own input columns
GET  /metrics            admin      Prometheus metrics
GET  /monitoring         admin      drift, data quality and performance of logged predictions
POST /reload             admin      check the source for a new version now
GET  /ui ...             predict    the web dashboard (``serving.dashboard``; POSTs: admin)
=======================  =========  ==========================================================

The metadata and the OpenAPI document need a ``predict`` key because they reveal the model's
inputs; metrics and monitoring need ``admin`` because they reveal traffic (give the scraper an
admin key). ``/feedback`` and ``/monitoring`` work when the server logs its predictions to a
registry (``mlwright serve NAME@ALIAS`` does by default). The dashboard's routes enforce their
policies themselves (a browser signs in once and sends a cookie, not a header) and show the
registry the server reads or logs to. With ``ServingConfig.shadow`` another
version scores every answered request silently, off the request path (``serving.shadow``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mlwright.data.conform import conform
from mlwright.data.typed import typed_features
from mlwright.errors import ConfigError, MlwrightError, MlwrightWarning
from mlwright.serving.auth import Access
from mlwright.serving.batcher import MicroBatcher
from mlwright.serving.config import ServingConfig
from mlwright.serving.dashboard import DASHBOARD_POLICIES, Dashboard
from mlwright.serving.dashboard_routes import mount_dashboard
from mlwright.serving.feedback import parse_labels
from mlwright.serving.guardrails import RULES
from mlwright.serving.holder import ModelHolder
from mlwright.serving.metrics import CONTENT_TYPE, ServingMetrics
from mlwright.serving.middleware import Guard, Instrument, request_id_of
from mlwright.serving.openapi import (
    feedback_request_body,
    predict_request_body,
    predict_response_schema,
)
from mlwright.serving.payload import body_kind, read_body, read_csv, read_parquet
from mlwright.serving.predlog import (
    NullPredictionLogger,
    PredictionLogger,
    PredictionRecord,
    RegistryPredictionLogger,
)
from mlwright.serving.problems import ApiError, error_body
from mlwright.serving.rows import RowBatch
from mlwright.serving.scoring import LoadedModel, Scored
from mlwright.serving.shadow import ShadowScorer
from mlwright.serving.sources import ModelSource, RegistrySource
from mlwright.settings import MonitoringSettings

__all__ = ["ROUTE_POLICIES", "create_app"]

log = logging.getLogger("mlwright.serving")

_EXPLAIN_MAX_ROWS = 100  # an explanation costs ~n_permutations x columns predictions per row

ROUTE_POLICIES: Mapping[tuple[str, str], Access] = {
    ("GET", "/health"): Access.PUBLIC,
    ("GET", "/ready"): Access.PUBLIC,
    ("POST", "/predict"): Access.PREDICT,
    ("POST", "/explain"): Access.PREDICT,
    ("POST", "/feedback"): Access.PREDICT,
    ("GET", "/metadata"): Access.PREDICT,
    ("GET", "/openapi.json"): Access.PREDICT,
    ("HEAD", "/openapi.json"): Access.PREDICT,
    ("GET", "/metrics"): Access.ADMIN,
    ("GET", "/monitoring"): Access.ADMIN,
    ("POST", "/reload"): Access.ADMIN,
    **DASHBOARD_POLICIES,
}

_ERRORS = {
    401: "no or unknown API key",
    403: "the key lacks the scope needed",
    413: "body over the size limit",
    415: "unsupported Content-Type",
    422: "rows that do not match the input schema (one message per field)",
    503: "no model loaded yet, or the server is at capacity (retry after Retry-After)",
}


def _json(document: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _model_ref(loaded: LoadedModel) -> dict[str, Any]:
    return {"name": loaded.ref.name, "version": loaded.ref.version}


class _Server:
    """What the routes share: the model holder, the batcher, metrics and settings."""

    def __init__(
        self,
        source: ModelSource,
        config: ServingConfig,
        metrics: ServingMetrics,
        prediction_logger: PredictionLogger,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.prediction_logger = prediction_logger
        # the registry the predictions go to: /feedback and /monitoring need one
        self.registry_log = (
            prediction_logger if isinstance(prediction_logger, RegistryPredictionLogger) else None
        )
        stats = getattr(prediction_logger, "stats", None)
        self.log_stats = stats if callable(stats) else None
        if self.log_stats is not None:
            metrics.watch_prediction_log(self.log_stats)
        self.holder = ModelHolder(
            source, metrics, poll_interval=config.poll_interval, guardrails=config.guardrails
        )
        self.shadow = self._shadow(config, metrics)
        self.batcher = MicroBatcher(
            max_batch_rows=config.max_batch_rows,
            max_wait_s=config.batch_wait_ms / 1000,
            max_in_flight=config.max_in_flight,
            max_queued_rows=config.max_queued_rows,
            on_batch=metrics.batch_rows.observe,
        )
        self.started = time.time()

    def _shadow(self, config: ServingConfig, metrics: ServingMetrics) -> ShadowScorer | None:
        if config.shadow is None:
            return None
        if self.registry_log is None:
            raise ConfigError(
                f"the shadow {config.shadow} needs the prediction log (its predictions are "
                "logged to be compared on real outcomes), and this server does not log to a "
                "registry. Serve NAME@ALIAS with the log on, or drop --shadow."
            )
        writer = self.registry_log.writer
        return ShadowScorer(
            self.registry_log.registry,
            self.registry_log.name,
            config.shadow,
            metrics,
            poll_interval=config.poll_interval,
            max_queued_rows=config.shadow_max_queued_rows,
            buffer_rows=writer.buffer_rows,
            flush_interval=writer.flush_interval,
        )

    def loaded(self) -> LoadedModel:
        loaded = self.holder.current
        if loaded is None:
            failure = self.holder.last_failure
            why = f" The last attempt failed: {failure.error}" if failure else ""
            raise ApiError(
                503,
                "not_ready",
                f"no model is loaded yet (source: {self.holder.source.description}).{why}",
                expected="a loaded model (GET /ready answers 200 once there is one)",
                hint="Retry in a few seconds; if it persists, check GET /health for the failure.",
                headers={"Retry-After": "2"},
            )
        return loaded

    # -- routes ------------------------------------------------------------------------------
    async def health(self) -> Response:
        loaded = self.holder.current
        failure = self.holder.last_failure
        model = None
        if loaded is not None:
            model = {**_model_ref(loaded), "digest": loaded.ref.digest}
        return _json(
            {
                "status": "ok",
                "ready": loaded is not None,
                "model": model,
                "last_reload_failure": None if failure is None else failure.to_dict(),
                "uptime_s": round(time.time() - self.started, 3),
                "prediction_log": self._log_health(),
                "shadow": None if self.shadow is None else self.shadow.health(),
            }
        )

    def _log_health(self) -> dict[str, Any] | None:
        """The log's counters; never its last error, which may quote logged inputs (public)."""
        if self.log_stats is None:
            return None
        stats = self.log_stats()
        keys = ("model", "written", "dropped", "queued", "failures", "buffer_rows")
        return {
            **{k: stats[k] for k in keys if k in stats},
            "flush_interval_s": stats.get("flush_interval_s"),
        }

    async def ready(self) -> Response:
        loaded = self.loaded()
        return _json({"ready": True, "model": _model_ref(loaded)})

    async def metadata(self) -> Response:
        loaded = self.loaded()
        model = loaded.model
        evaluation = model.cv_evaluation_.to_dict()
        columns = [
            {
                **col.to_dict(),
                "required": rule.required,
                "accepts": rule.expected,
            }
            for col, rule in ((r.column, r) for r in loaded.validator.rules.values())
        ]
        return _json(
            {
                "model": {
                    **_model_ref(loaded),
                    "digest": loaded.ref.digest,
                    "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(loaded.loaded_at)),
                    "members": model.predictor_.member_names,
                },
                "task": model.task_,
                "target": model.info_["target"],
                "classes": model.classes_,
                "threshold": model.threshold_,
                "metric": model.metric_,
                "metrics": {m["name"]: m.get("value") for m in evaluation["metrics"]},
                "cv_evaluation": evaluation,
                "input_schema": {"features": model.schema_.feature_names, "columns": columns},
                "training": {
                    k: model.info_.get(k) for k in ("rows", "rows_used", "rows_rejected", "seed")
                },
            }
        )

    async def metrics_text(self) -> Response:
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def reload(self) -> Response:
        swapped = await run_in_threadpool(self.holder.refresh, force=True)
        loaded = self.holder.current
        failure = self.holder.last_failure
        return _json(
            {
                "reloaded": swapped,
                "model": None if loaded is None else _model_ref(loaded),
                "last_reload_failure": None if failure is None else failure.to_dict(),
            }
        )

    async def predict(self, request: Request) -> Response:
        rid = request_id_of(request.scope)
        kind = body_kind(request.headers.get("content-type"))
        body = await read_body(request, self.config.max_body_bytes)
        loaded = self.loaded()
        batch = await self._parse(kind, body, loaded)
        try:
            scored = await asyncio.wait_for(
                self.batcher.submit(loaded, batch), self.config.request_timeout
            )
        except TimeoutError:
            raise ApiError(
                503,
                "timeout",
                f"the rows were not scored within {self.config.request_timeout:g} s.",
                expected="a server with spare capacity",
                hint="Retry later or send fewer rows per request.",
                headers={"Retry-After": "1"},
            ) from None
        except ApiError:
            raise
        except MlwrightError as exc:
            raise ApiError.from_error(exc, "rows the model can score") from None
        document = self._answer(rid, loaded, scored)
        self.metrics.rows_predicted.inc(batch.n_rows - len(scored.reasons))
        if scored.reasons:
            self.metrics.rows_rejected.inc(len(scored.reasons))
        if scored.guardrails is not None:
            self._count_guardrails(scored.guardrails)
        self._log(rid, loaded, batch, document)
        return _json(document)

    async def explain(self, request: Request) -> Response:
        """Attributions for at most ``max_explain_rows`` rows; ``?top=N`` columns per row."""
        kind = body_kind(request.headers.get("content-type"))
        body = await read_body(request, self.config.max_body_bytes)
        loaded = self.loaded()
        top = _top_param(request.query_params.get("top", "10"))
        batch = await self._parse(kind, body, loaded)
        if batch.n_rows > _EXPLAIN_MAX_ROWS:
            raise ApiError(
                413,
                "too_many_rows",
                f"{batch.n_rows} rows sent to /explain; it explains at most {_EXPLAIN_MAX_ROWS} "
                "per request (each costs about a thousand predictions).",
                expected=f"at most {_EXPLAIN_MAX_ROWS} rows",
                hint="Send the rows in smaller requests.",
            )
        try:
            document = await run_in_threadpool(_explain, loaded, batch, top)
        except MlwrightError as exc:
            raise ApiError.from_error(exc, "rows the model can explain") from None
        return _json({**document, "model": _model_ref(loaded)})

    def _count_guardrails(self, entries: list[dict[str, Any] | None]) -> None:
        for entry in entries:
            if entry is not None:
                for rule in RULES:
                    action = entry.get(rule)
                    if action is not None:
                        self.metrics.guardrails.labels(rule, action).inc()

    async def _parse(self, kind: str, body: bytes, loaded: LoadedModel) -> RowBatch:
        if kind == "json":
            return loaded.validator.parse_json(body)
        if kind == "csv":
            frame = await run_in_threadpool(read_csv, body)
        else:
            frame = await run_in_threadpool(read_parquet, body)
        return loaded.validator.check_frame(frame, f"{kind.upper()} body")

    def _answer(self, rid: str, loaded: LoadedModel, scored: Scored) -> dict[str, Any]:
        n = len(scored.predictions)
        document: dict[str, Any] = {"predictions": scored.predictions}
        keys = loaded.class_keys
        if keys is not None and scored.probabilities is not None:
            document["probabilities"] = [
                None if p is None else dict(zip(keys, p, strict=True)) for p in scored.probabilities
            ]
        document["rejects"] = [
            {"row": row, "reason": reason} for row, reason in sorted(scored.reasons.items())
        ]
        document["model"] = _model_ref(loaded)
        document["request_ids"] = [f"{rid}-{i}" for i in range(n)]
        if scored.guardrails is not None:
            document["guardrails"] = scored.guardrails
        return document

    def _log(
        self, rid: str, loaded: LoadedModel, batch: RowBatch, document: dict[str, Any]
    ) -> None:
        """THE hook: every answered predict request goes to the prediction logger here, and
        then to the shadow, if any (both only queue it)."""
        now = time.time()
        record = PredictionRecord(
            request_id=rid,
            timestamp=now,
            model_name=loaded.ref.name,
            model_version=loaded.ref.version,
            model_digest=loaded.ref.digest,
            inputs=batch.inputs,
            outputs=document,
        )
        try:
            self.prediction_logger.log(record)
        except Exception:  # a logging failure must not fail the prediction
            log.exception("the prediction logger failed for request %s", rid)
        if self.shadow is not None:
            try:
                self.shadow.submit(document["request_ids"], now, loaded, batch)
            except Exception:  # nor may the shadow
                log.exception("the shadow could not take request %s", rid)

    # -- the prediction log: feedback and monitoring --------------------------------------------
    def _logging(self, route: str) -> RegistryPredictionLogger:
        if self.registry_log is None:
            raise ApiError(
                409,
                "no_prediction_log",
                f"{route} needs the prediction log, and this server does not log its predictions "
                "to a registry.",
                expected="a server started with a prediction log",
                hint="Serve a registry model (mlwright serve NAME@ALIAS logs by default; do not "
                "pass --no-log), or log a model folder with --log-as NAME.",
            )
        return self.registry_log

    async def feedback(self, request: Request) -> Response:
        target = self._logging("POST /feedback")
        body = await read_body(request, self.config.max_body_bytes)
        batch = parse_labels(body)
        result = await run_in_threadpool(
            target.registry.operations.add_labels,
            target.name,
            batch.request_ids,
            batch.actuals,
            source="rest",
        )
        invalid = batch.invalid + [
            {**bad, "row": batch.positions[bad["row"]]} for bad in result.invalid
        ]
        document: dict[str, Any] = {
            "model": target.name,
            **result.to_dict(),
            "received": batch.received,
            "invalid": sorted(invalid, key=lambda bad: int(bad["row"]))[:100],
        }
        if result.unmatched:
            document["note"] = (
                "unmatched labels are stored and join their predictions once those are in the "
                f"log (it writes at least every {target.writer.flush_interval:g} s); an id that "
                "never matches was not logged by this model."
            )
        return _json(document)

    async def monitoring(self, request: Request) -> Response:
        target = self._logging("GET /monitoring")
        loaded = self.loaded()
        params = request.query_params
        unknown = sorted(set(params) - {"since", "until", "window", "store"})
        if unknown:
            raise ApiError(
                422,
                "invalid_query",
                f"unknown query parameter(s) {unknown}.",
                expected="since and until (an ISO 8601 time, or a duration back from now such "
                "as 7d), window (a duration such as 1d), store (true: keep the result and run "
                "the alert rules)",
                hint="GET /monitoring?since=7d&window=1d",
            )
        try:
            report = await run_in_threadpool(_monitor, target, loaded, dict(params), self.config)
        except ConfigError as exc:
            raise ApiError(
                422,
                "invalid_query",
                str(exc),
                expected="since/until as ISO 8601 times or durations (7d), window as a duration",
                hint="GET /monitoring?since=7d&window=1d",
            ) from None
        except MlwrightError as exc:
            raise ApiError.from_error(
                exc, "a model that can be monitored, with logged predictions", "Follow the message."
            ) from None
        return _json(report)

    # -- OpenAPI -----------------------------------------------------------------------------
    def openapi(self, app: FastAPI) -> dict[str, Any]:
        loaded = self.holder.current
        key = None if loaded is None else loaded.ref.digest
        cached = getattr(self, "_openapi", None)
        if cached is not None and cached[0] == key:
            document: dict[str, Any] = cached[1]
            return document
        title = "mlwright model server"
        if loaded is not None:
            version = "" if loaded.ref.version is None else f" v{loaded.ref.version}"
            title = f"{loaded.ref.name}{version} ({loaded.model.task_}) — mlwright"
        document = get_openapi(
            title=title,
            version="1",
            description=__doc__ or "",
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        operation = document["paths"]["/predict"]["post"]
        if loaded is not None:
            body, components = predict_request_body(loaded.model.schema_)
            operation["requestBody"] = body
            schemas.update(components)
        response, components = predict_response_schema()
        schemas.update(components)
        feedback = document["paths"].get("/feedback", {}).get("post")
        if feedback is not None:
            feedback["requestBody"], components = feedback_request_body()
            schemas.update(components)
        operation["responses"] = {
            "200": {
                "description": "One prediction per row; rows that cannot be scored are in rejects.",
                "content": {"application/json": {"schema": response}},
            },
            **{str(code): {"description": text} for code, text in _ERRORS.items()},
        }
        if self.config.keys is not None:
            document["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            for (method, path), access in ROUTE_POLICIES.items():
                op = document["paths"].get(path, {}).get(method.lower())
                if op is not None and access is not Access.PUBLIC:
                    op["security"] = [{"bearer": []}]
        self._openapi = (key, document)
        return document


def create_app(
    source: ModelSource,
    config: ServingConfig | None = None,
    *,
    prediction_logger: PredictionLogger | None = None,
) -> FastAPI:
    """The model server for ``source``, as an ASGI app (run it with ``serve`` or uvicorn).

    Parameters
    ----------
    source:
        Where the model comes from (``FolderSource`` or ``RegistrySource``).
    config:
        Limits, batching and authentication; ``ServingConfig()`` has no keys (no-auth).
    prediction_logger:
        Receives every answered predict request (default: drops them).

    Returns
    -------
    The app; the model loads in the background once it starts (``/ready`` says when).

    Example:
        >>> app = create_app(FolderSource("models/churn"), ServingConfig(keys=keys))
    """
    config = config or ServingConfig()
    metrics = ServingMetrics()
    server = _Server(source, config, metrics, prediction_logger or NullPredictionLogger())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger = server.prediction_logger
        start, close = getattr(logger, "start", None), getattr(logger, "close", None)
        if callable(start):
            await run_in_threadpool(start)
        shadow = server.shadow
        if shadow is not None:
            for message in await run_in_threadpool(shadow.start):
                log.warning(message)
        server.batcher.start()
        server.holder.start()
        try:
            yield
        finally:
            server.holder.stop()
            await server.batcher.stop()
            if shadow is not None:  # score and write what is queued, within the shutdown time
                await run_in_threadpool(shadow.stop, config.shutdown_timeout)
            if callable(close):  # every answered request is queued by now: write them all
                await run_in_threadpool(close)

    app = FastAPI(
        title="mlwright model server",
        # no Swagger page: FastAPI's loads its scripts from a CDN, and nothing here may
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.server = server
    app.add_api_route("/health", server.health, methods=["GET"], summary="Liveness")
    app.add_api_route("/ready", server.ready, methods=["GET"], summary="Readiness")
    app.add_api_route("/predict", server.predict, methods=["POST"], summary="Score rows")
    app.add_api_route("/explain", server.explain, methods=["POST"], summary="Explain predictions")
    app.add_api_route(
        "/feedback", server.feedback, methods=["POST"], summary="Ground truth for predictions"
    )
    app.add_api_route(
        "/monitoring", server.monitoring, methods=["GET"], summary="Monitor logged predictions"
    )
    app.add_api_route("/metadata", server.metadata, methods=["GET"], summary="The model")
    app.add_api_route("/metrics", server.metrics_text, methods=["GET"], summary="Prometheus")
    app.add_api_route("/reload", server.reload, methods=["POST"], summary="Check for a new model")
    registry = source.registry if isinstance(source, RegistrySource) else None
    if registry is None and server.registry_log is not None:
        registry = server.registry_log.registry
    mount_dashboard(app, Dashboard(registry, config.keys))
    app.openapi = lambda: server.openapi(app)  # type: ignore[method-assign]
    _add_error_handlers(app, metrics)
    _check_policies(app)
    paths = frozenset(path for _, path in ROUTE_POLICIES)
    # the dashboard checks its own routes (cookie sessions); the Guard checks Bearer keys
    api_policies = {k: v for k, v in ROUTE_POLICIES.items() if k not in DASHBOARD_POLICIES}
    app.add_middleware(Guard, policies=api_policies, keys=config.keys, metrics=metrics)
    app.add_middleware(Instrument, metrics=metrics, routes=paths)
    return app


def _monitor(
    target: RegistryPredictionLogger,
    loaded: LoadedModel,
    params: dict[str, str],
    config: ServingConfig,
) -> dict[str, Any]:
    """Judge the logged predictions of the version served (in a worker thread: it reads and
    writes the database)."""
    from mlwright.monitoring.service import monitor_logged, parse_duration, parse_time

    settings = config.monitoring or MonitoringSettings()
    since = parse_time(params.get("since") or settings.since)
    until = parse_time(params["until"]) if params.get("until") else None
    window_text = params.get("window") or settings.window
    window = parse_duration(window_text) if window_text else None
    store = (params.get("store") or "false").lower()
    if store not in ("true", "false", "1", "0"):
        raise ConfigError(f"store must be true or false, got '{store[:20]}'.")
    keep = store in ("true", "1")
    model = loaded.model
    result = monitor_logged(
        target.registry,
        target.name,
        loaded.ref.version,
        model.reference_,
        model.schema_,
        since=since,
        until=until,
        window=window,
        alpha=settings.alpha,
        seed=int(model.info_.get("seed", 0)),
        store=keep,
        # a plain GET only reads; storing the result and alerting are asked for (store=true),
        # so a dashboard polling the route neither fills the database nor fires webhooks
        alert_settings=config.alerts if keep else None,
    )
    document: dict[str, Any] = result.to_dict()
    return document


def _top_param(text: str) -> int:
    try:
        top = int(text)
    except ValueError:
        top = -1
    if top < 0:
        raise ApiError(
            422,
            "invalid_query",
            f"top={text!r} is not a count.",
            expected="top: how many columns to list per row, a whole number >= 0 (default 10)",
            hint="POST /explain?top=5",
        )
    return top


def _explain(loaded: LoadedModel, batch: RowBatch, top: int) -> dict[str, Any]:
    """The attributions of the usable rows of ``batch`` (rows by position), rejects with why."""
    model = loaded.model
    if batch.frame is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlwrightWarning)
            conformed = conform(batch.frame, model.schema_)
        features = conformed.features.set_axis(pd.Index(conformed.row_positions))
        reasons = dict(zip(conformed.rejects["_row"], conformed.rejects["_reason"], strict=True))
    else:
        assert batch.columns is not None
        typed = typed_features(batch.columns, model.schema_, batch.n_rows)
        features, reasons = typed.features, typed.reasons
    document = model.explain_features(features).to_dict(top=top)
    document["rejects"] = [
        {"row": int(row), "reason": str(why)} for row, why in sorted(reasons.items())
    ]
    return document


def route_methods(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers."""
    out = []
    for route in app.routes:
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", "")
        out += [(method, path) for method in sorted(methods)]
    return out


def _check_policies(app: FastAPI) -> None:
    missing = [f"{m} {p}" for m, p in route_methods(app) if (m, p) not in ROUTE_POLICIES]
    if missing:
        raise RuntimeError(
            f"route(s) {missing} have no access policy; add them to ROUTE_POLICIES in "
            "mlwright/serving/app.py."
        )


def _route_label(path: str) -> str:
    return path if any(path == p for _, p in ROUTE_POLICIES) else "other"


def _add_error_handlers(app: FastAPI, metrics: ServingMetrics) -> None:
    def respond(request: Request, error: ApiError) -> Response:
        metrics.errors.labels(_route_label(request.url.path), error.code).inc()
        return Response(
            error.body(request_id_of(request.scope)),
            status_code=error.status,
            media_type="application/json",
            headers=error.headers,
        )

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error = ApiError(
                404,
                "not_found",
                f"there is no route {request.url.path}.",
                expected="one of /predict, /explain, /feedback, /metadata, /health, /ready, "
                "/metrics, /monitoring, /reload, /openapi.json",
                hint="See /openapi.json for the routes.",
            )
        elif exc.status_code == 405:
            error = ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}.",
                expected=f"one of {exc.headers.get('Allow', '') if exc.headers else ''}",
                hint="Use the method the route documents in /openapi.json.",
                headers=dict(exc.headers or {}),
            )
        else:
            error = ApiError(
                exc.status_code, "http_error", str(exc.detail), headers=dict(exc.headers or {})
            )
        return respond(request, error)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        return respond(
            request,
            ApiError(422, "validation_error", str(exc), hint="See /openapi.json."),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path, exc_info=exc)
        rid = request_id_of(request.scope)
        metrics.errors.labels(_route_label(request.url.path), "internal_error").inc()
        body = error_body(
            "internal_error",
            f"the server failed: {type(exc).__name__}.",
            expected="the request to be handled",
            hint=f"Report it with the request id {rid}; the server log has the traceback.",
            request_id=rid,
        )
        return Response(body, status_code=500, media_type="application/json")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
