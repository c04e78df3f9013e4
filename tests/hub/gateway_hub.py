"""A hub app that takes a messaging gateway's signed messages, for the gateway tests."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from hub.app import create_app
from hub.settings import HubSettings
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client

SECRET = "gateway-shared-secret"


@asynccontextmanager
async def gateway_hub(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """Serve a hub (no MQTT ingest) whose gateway secret is ``SECRET``; yield its client."""
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=database_url,
        start_ingest=False,
        gateway_secret=SecretStr(SECRET),
    )
    async with api_client(create_app(settings, clock=clock)) as client:
        yield client
