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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from hub.api import router
from hub.db import create_hub_engine, migrate
from hub.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from hub.events import EventBus
from hub.ingest import MqttIngest
from hub.resident import SosThrottle
from hub.resident_api import resident_router
from hub.settings import HubSettings
from hub.store import Clock, HubStore, utc_now

logger = logging.getLogger(__name__)


def create_app(settings: HubSettings, *, clock: Clock = utc_now) -> FastAPI:
    """Return a hub application for ``settings``; nothing starts until its lifespan does.

    ``app.state`` holds ``settings``, ``clock``, ``events`` (an ``EventBus``) and
    ``sos_throttle`` at once, and during the lifespan also ``store`` (a ``HubStore``) and
    ``ingest`` (a ``MqttIngest``, or None when ``settings.start_ingest`` is off).
    """
    events = EventBus()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_hub_engine(settings.resolved_database_url())
        try:
            await asyncio.to_thread(migrate, engine)
            store = HubStore(engine, clock=clock)
            ingest = (
                MqttIngest(settings, store, events, clock=clock) if settings.start_ingest else None
            )
            app.state.store = store
            app.state.ingest = ingest
            task = (
                asyncio.create_task(ingest.run(), name="hub-mqtt-ingest")
                if ingest is not None
                else None
            )
            try:
                yield
            finally:
                events.close()
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                app.state.ingest = None
        finally:
            engine.dispose()
            logger.info("hub stopped")

    app = FastAPI(
        title="Linli hub",
        summary="Alerts from edges become cases that operators acknowledge and resolve.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.events = events
    app.state.sos_throttle = SosThrottle()
    app.state.ingest = None
    app.include_router(router)
    app.include_router(resident_router)
    # --- case management routers (issue 6) ---
    # --- auth routers (issue 6) ---
    # --- door access routers (issue 4) ---
    # --- camera evidence routers (issue 5) ---
    # --- console, metrics routers (issue 7) ---

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    async def unprocessable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(IllegalTransitionError, conflict)
    app.add_exception_handler(InvalidInputError, unprocessable)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
