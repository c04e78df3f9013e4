"""Run the hub (HTTP API + MQTT ingest) inside the current event loop: ``serve(settings)``."""

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from hub.app import create_app
from hub.errors import HubStartupError
from hub.live.events import EventBus
from hub.settings import HubSettings

GRACEFUL_SHUTDOWN_SECONDS = 10
"""How long open HTTP requests may take to finish once the hub is asked to stop."""


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the program embedding it and reports startup."""

    def __init__(self, config: uvicorn.Config, started: asyncio.Event | None) -> None:
        super().__init__(config)
        self._started_event = started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The embedding program (the CLI, the demo) owns SIGINT/SIGTERM: Ctrl-C cancels
        # its task, and ``serve`` turns that cancellation into a graceful shutdown.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then tell the caller that connections are accepted."""
        await super().startup(sockets)
        if self.started and self._started_event is not None:
            self._started_event.set()


async def serve(
    settings: HubSettings,
    *,
    started: asyncio.Event | None = None,
    app: FastAPI | None = None,
) -> None:
    """Serve the hub until cancelled; set ``started`` once it accepts connections.

    Pass ``app`` (from ``create_app(settings)``) to keep a handle on it, e.g. to subscribe
    to ``app.state.events`` in-process. On cancellation the hub shuts down gracefully — live
    streams end, the ingest task stops, the database engine is disposed — and the
    cancellation propagates. Raises ``HubStartupError`` if it cannot start.
    """
    app = app if app is not None else create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _EmbeddedServer(config, started)
    try:
        await server.serve()
    except asyncio.CancelledError:
        server.should_exit = True
        events: EventBus = app.state.events
        events.close()  # ends the live streams, so their connections can close
        if getattr(server, "lifespan", None) is not None:
            await server.shutdown()
        raise
    except SystemExit as exc:
        # uvicorn exits the process when it cannot bind or the lifespan fails to start.
        raise HubStartupError(
            f"the hub could not start on {settings.http_host}:{settings.http_port}; "
            "see the log above"
        ) from exc
