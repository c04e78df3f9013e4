"""Serving the hub: startup failures become ``HubStartupError``, cancellation stops it cleanly."""

import asyncio
import contextlib
import socket
from pathlib import Path

import httpx
import pytest

from hub.errors import HubStartupError
from hub.service import serve
from hub.settings import HubSettings
from linli.brokers import free_port


async def test_a_taken_port_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = HubSettings(data_dir=tmp_path, http_port=port, start_ingest=False)
        with pytest.raises(HubStartupError):
            await serve(settings)


async def test_an_unreachable_database_is_a_startup_error(tmp_path: Path) -> None:
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/linli",
        http_port=free_port(),
        start_ingest=False,
    )
    with pytest.raises(HubStartupError):
        await serve(settings)


async def test_cancelling_stops_the_hub_and_frees_its_port(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path, http_port=free_port(), start_ingest=False)
    started = asyncio.Event()
    task = asyncio.create_task(serve(settings, started=started))
    async with asyncio.timeout(15):
        await started.wait()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}") as http:
        assert (await http.get("/api/v1/health")).status_code == 200
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    # The port is free again: a second hub on the same settings starts.
    again = asyncio.create_task(serve(settings, started=(restarted := asyncio.Event())))
    async with asyncio.timeout(15):
        await restarted.wait()
    again.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await again
