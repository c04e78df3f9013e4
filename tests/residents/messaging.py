"""The residents' messaging gateway as the tests run it, and a hub app that sends through it."""

from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from tests.hub.conftest import FakeClock, hub_app
from tests.hub.webhook_gateway import Gateway

SECRET = b"notice-webhook-secret"
"""The secret the hub signs its webhook calls with, and the gateway checks them against."""


def signed_gateway(failures: int = 0) -> Iterator[Gateway]:
    """Run a gateway on ``/notify`` that checks the hub's signature and fails its first
    ``failures`` calls; close it when the test is done (``yield from`` it in a fixture)."""
    running = Gateway(failures=failures, path="/notify", secret=SECRET)
    yield running
    running.close()


def gateway_app(database_url: str, tmp_path: Path, clock: FakeClock, url: str | None) -> FastAPI:
    """Return a hub app whose residents' messages go out through the gateway at ``url``."""
    return hub_app(
        database_url,
        tmp_path,
        clock,
        gateway_outbound_url=url,
        notify_webhook_secret=SecretStr(SECRET.decode()),
    )
