"""The hub's ASGI application factory: ``create_app(settings)``.

The lifespan owns every long-lived object: the database engine (migrated on startup), the
repository, and the MQTT ingest task (which also publishes case feedback to the edges). The
live event bus is created with the app, so that in-process callers can subscribe to
``app.state.events`` before the server starts.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DataError, StatementError
from starlette.middleware.cors import CORSMiddleware

from hub.access.routes import access_router
from hub.audit.anchoring import AnchorWatch
from hub.audit.routes import router as audit_router
from hub.auth.openapi import install_openapi
from hub.auth.repository import AuthStore
from hub.auth.routes import auth_router, authenticate, authorized
from hub.auth.rules import (
    AuthError,
    ForbiddenError,
    SignInThrottle,
    weak_bootstrap_token,
    weak_metrics_token,
)
from hub.care.routes import router as care_router
from hub.care.watch import CareWatch
from hub.cases.changes import CaseChanges
from hub.cases.correlation import correlation_rules
from hub.cases.notify import household_targets, notify_targets
from hub.cases.routes import router as cases_router
from hub.cases.supervision import supervision_policy
from hub.cases.tasks import CaseTasks
from hub.console.routes import console_api_router, console_router
from hub.errors import (
    HubStartupError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    refusal,
    without_value,
)
from hub.evidence.routes import evidence_router
from hub.fleet.routes import router as fleet_router
from hub.http.docs import install_api_docs
from hub.http.security import SecurityMiddleware
from hub.ingest.link import MqttIngest
from hub.ingest.routes import router as health_router
from hub.live.events import EventBus
from hub.live.relay import ALONE_AFTER_S, PostgresEventRelay
from hub.live.routes import router as stream_router
from hub.notices.routes import resident_notices_router
from hub.notices.routes import router as notices_router
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.transactions import Clock, utc_now
from hub.positions.routes import router as positions_router
from hub.requests.inbound import router as gateway_router
from hub.requests.repository import MessageIdClashError
from hub.requests.resident import resident_requests_router
from hub.requests.routes import router as requests_router
from hub.requests.stages import StageWatch
from hub.requests.uploads import MAX_UPLOAD_REQUEST, UPLOAD_PATHS
from hub.residents.page import resident_router
from hub.residents.routes import router as households_router
from hub.residents.rules import SosThrottle
from hub.roster.file import apply_roster, load_roster
from hub.roster.routes import roster_router
from hub.settings import HubSettings
from hub.silences.routes import router as silences_router
from hub.statistics.routes import router as statistics_router
from hub.store import HubStore
from hub.telemetry.metrics import metrics_router

logger = logging.getLogger(__name__)


def _provision_roster(store: HubStore, path: Path) -> None:
    """Create or update the roster file's records, or stop the hub saying what is wrong."""
    roster = load_roster(path)
    try:
        changed = apply_roster(store.roster, roster)
    except InvalidInputError as exc:
        raise HubStartupError(f"the roster file {path} does not fit: {exc}") from exc
    logger.info(
        "roster file %s: %d sites, %d grids, %d responders (%d records changed)",
        path,
        len(roster.sites),
        len(roster.grids),
        len(roster.responders),
        changed,
    )


def _live_relay(settings: HubSettings, dialect: str, events: EventBus) -> PostgresEventRelay | None:
    """Return the relay that shows every hub worker's events to every worker's consoles (on
    PostgreSQL, unless ``live_relay`` is off; unset, only while another hub listens), attached
    to ``events``; None: in-process only."""
    if dialect != "postgresql" or settings.live_relay is False:
        return None
    relay = PostgresEventRelay(
        settings.resolved_database_url(),
        events,
        worker=settings.mqtt_client_id,
        alone_after_s=None if settings.live_relay else ALONE_AFTER_S,
    )
    relay.attach()
    return relay


def create_app(settings: HubSettings, *, clock: Clock = utc_now) -> FastAPI:
    """Return a hub application for ``settings``; nothing starts until its lifespan does.

    ``app.state`` holds ``settings``, ``clock``, ``events`` (an ``EventBus``) and
    ``sos_throttle`` at once, and during the lifespan also ``store`` (a ``HubStore``),
    ``ingest`` (a ``MqttIngest``, or None when ``settings.start_ingest`` is off) and
    ``live_relay`` (a ``PostgresEventRelay`` on PostgreSQL, else None).
    """
    if settings.bootstrap_token is not None and (
        weak := weak_bootstrap_token(settings.bootstrap_token.get_secret_value())
    ):
        # Refused, not fatal: a hub that does not start after an upgrade hears no alarm.
        logger.error("the bootstrap token is not accepted: %s", weak)
        settings = settings.model_copy(update={"bootstrap_token": None})
    if settings.metrics_token is not None and (
        weak := weak_metrics_token(settings.metrics_token.get_secret_value())
    ):
        logger.error("the metrics token is not accepted: %s", weak)
        settings = settings.model_copy(update={"metrics_token": None})
    events = EventBus(max_queued=settings.stream_max_queued)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_hub_engine(settings.resolved_database_url())
        if unshared := settings.workers_unshared_folders():
            logger.warning(
                "hub worker %s: %s unset, so the pictures it receives go under its own data "
                "folder %s, where the other workers cannot serve them; set them to one folder "
                "all workers share (docs/scale.md)",
                settings.worker_id,
                " and ".join(unshared),
                settings.data_dir,
            )
        try:
            await asyncio.to_thread(migrate, engine)
            store = HubStore(
                engine,
                clock=clock,
                rules=correlation_rules(settings),
                reopen_within=timedelta(seconds=settings.reopen_within_seconds),
                supervision=supervision_policy(settings),
                notify=notify_targets(settings),
                household_notify=household_targets(settings),
                photo_dir=settings.resolved_request_photo_dir(),
            )
            ingest = (
                MqttIngest(settings, store, events, clock=clock) if settings.start_ingest else None
            )
            app.state.store = store
            app.state.auth_store = auth_store = AuthStore(engine, clock=clock)
            if settings.roster_file is not None:
                await asyncio.to_thread(_provision_roster, store, settings.roster_file)
            if settings.seed_operator_token is not None:
                await asyncio.to_thread(
                    auth_store.seed_operator, settings.seed_operator_token.get_secret_value()
                )
            app.state.ingest = ingest
            relay = _live_relay(settings, engine.dialect.name, events)
            app.state.live_relay = relay
            relay_task = (
                asyncio.create_task(relay.run(), name="hub-live-relay")
                if relay is not None
                else None
            )
            app.state.case_changes = changes = (
                ingest.changes if ingest is not None else CaseChanges(events)
            )
            task = (
                asyncio.create_task(ingest.run(), name="hub-mqtt-ingest")
                if ingest is not None
                else None
            )
            app.state.case_tasks = case_tasks = CaseTasks(
                settings, store, changes, ingest, clock=clock
            )
            case_tasks.start()
            care_watch = CareWatch(store.care, changes, interval=settings.care_check_interval_s)
            care_task = (
                asyncio.create_task(care_watch.run(), name="hub-care-watch")
                if settings.start_ingest
                else None
            )
            anchor_watch = AnchorWatch(
                store.audit, settings, clock=clock, interval=settings.audit_anchor_every_s
            )
            anchor_task = (
                asyncio.create_task(anchor_watch.run(), name="hub-audit-anchor")
                if settings.start_ingest and settings.audit_anchor_every_s > 0
                else None
            )
            stage_watch = StageWatch(store.request_stages, interval=settings.stage_check_interval_s)
            stage_task = (
                asyncio.create_task(stage_watch.run(), name="hub-request-stages")
                if settings.start_ingest and settings.gateway_outbound_url is not None
                else None
            )
            try:
                yield
            finally:
                events.close()
                await case_tasks.stop()
                for watcher in (care_task, stage_task, anchor_task):
                    if watcher is not None:
                        watcher.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watcher
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                app.state.ingest = None
                if relay is not None and relay_task is not None:
                    relay.detach()
                    relay_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await relay_task
        finally:
            engine.dispose()
            logger.info("hub stopped")

    app = FastAPI(
        title="Linli hub",
        summary="Alerts from edges become cases that operators acknowledge and resolve.",
        version="1",
        lifespan=lifespan,
        # One guard in front of every route: /api/v1 needs a credential and the permission
        # hub.auth.required_permission names; other paths (resident page, console assets,
        # docs) pass through to their own checks. A router added later is covered too.
        dependencies=[Depends(authorized)],
        docs_url=None,  # served with bundled assets, no CDN, to signed-in users: hub.http.docs
        redoc_url=None,
        openapi_url=None,
    )
    install_api_docs(app, authenticate)
    install_openapi(app)
    # Outermost: a too-large body is refused before anything reads it (residents' photo
    # uploads have their own, larger ceiling), and every response (errors included) carries
    # the security headers (hub.http.security).
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        SecurityMiddleware,
        max_request_bytes=settings.max_request_bytes,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=MAX_UPLOAD_REQUEST,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.events = events
    app.state.sos_throttle = SosThrottle()
    app.state.sign_in_throttle = SignInThrottle()
    app.state.ingest = None
    app.state.case_changes = CaseChanges(events)
    for api_router in (
        fleet_router,
        cases_router,
        silences_router,
        audit_router,
        households_router,
        health_router,
        stream_router,
        statistics_router,
        positions_router,
    ):
        app.include_router(api_router)
    app.include_router(resident_router)
    # --- residents' requests (issue 15) ---
    app.include_router(requests_router)
    app.include_router(gateway_router)
    app.include_router(resident_requests_router)
    app.include_router(care_router)
    app.include_router(notices_router)
    app.include_router(resident_notices_router)
    # --- case management routers (issue 6) ---
    app.include_router(roster_router)
    # --- auth routers (issue 6) ---
    app.include_router(auth_router)
    # --- door access routers (issue 4) ---
    app.include_router(access_router)  # + access link
    # --- camera evidence routers (issue 5) ---
    app.include_router(evidence_router)  # + its reader
    # --- console, metrics routers (issue 7) ---
    app.include_router(console_router)
    app.include_router(console_api_router)
    app.include_router(metrics_router)

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(refusal(exc), status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(refusal(exc), status_code=409)

    async def precondition_failed(_request: Request, exc: Exception) -> JSONResponse:
        # An action sent with If-Match for a version the case has moved on from: the case as
        # it is now, for the caller to show before acting again (docs/contract.md).
        assert isinstance(exc, StaleVersionError)
        body = {"detail": str(exc), "version": exc.version, "status": exc.status}
        return JSONResponse(body, status_code=412, headers={"ETag": f'"{exc.version}"'})

    async def unprocessable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(refusal(exc), status_code=422)

    async def unauthenticated(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def forbidden(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(refusal(exc), status_code=403)

    async def unstorable(request: Request, exc: Exception) -> JSONResponse:
        # A value the database cannot hold, in a path, query or body: an id past its integer
        # column (2**31 on PostgreSQL, 2**63 on SQLite), a NUL character in text on
        # PostgreSQL. The statement failed, so its transaction changed nothing: the caller's
        # input is refused, not a server error. The message names no SQL and no value; the log
        # names the route's template, never its path (a resident's path is their token).
        route = getattr(request.scope.get("route"), "path", "?")
        logger.warning(
            "%s %s: refused a value the database cannot store: %s",
            request.method,
            route,
            type(exc.__cause__ or exc).__name__,
        )
        detail = "a value is out of range or holds a NUL character"
        return JSONResponse({"detail": detail}, status_code=422)

    async def statement_failed(request: Request, exc: Exception) -> JSONResponse:
        # SQLAlchemy wraps what a bound value's conversion raised (a datetime whose UTC value
        # is before the year 1: ``astimezone`` overflows in ``UtcDateTime``) in a
        # StatementError. The routes refuse such values first (``hub.http.times``); this is the
        # backstop for one they missed. Any other failed statement stays a server error.
        assert isinstance(exc, StatementError)
        if isinstance(exc.orig, OverflowError):
            return await unstorable(request, exc)
        raise exc

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's default echoes each invalid value back ("input"): for a card number, a
        # PIN or a password sent with the wrong type that is a secret in a response body.
        assert isinstance(exc, RequestValidationError)
        errors = [without_value(e) for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(AuthError, unauthenticated)
    app.add_exception_handler(ForbiddenError, forbidden)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(IllegalTransitionError, conflict)
    app.add_exception_handler(StaleVersionError, precondition_failed)
    app.add_exception_handler(MessageIdClashError, conflict)
    app.add_exception_handler(InvalidInputError, unprocessable)
    app.add_exception_handler(DataError, unstorable)
    app.add_exception_handler(OverflowError, unstorable)
    app.add_exception_handler(StatementError, statement_failed)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        # Whoever types the hub's address is an operator: the console (the API docs at /docs).
        return RedirectResponse("/console/")

    return app
