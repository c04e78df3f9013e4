"""``GET /api/v1/health`` tells how many residents' photos are being re-encoded now, and the
most at once so far (``photos``), beside its other live figures: the photo threads are a
bounded pool, and an operator should see them busy. ``counters`` stays ingest's own.

A photo's re-encoding is held at its start (the real re-encoder runs once it is let go) while
the health answer is read over the hub's API.
"""

import asyncio
import io
import threading
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from hub.requests import photos
from hub.requests.photos import ProcessedPhoto
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, client

__all__ = ["client"]

pytestmark = pytest.mark.fake_clock


class HeldReencoding:
    """The photo re-encoder, held at its start until the test lets it go."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go_on = threading.Event()
        self._reencode = photos.reencode

    def __call__(self, data: bytes) -> ProcessedPhoto:
        self.started.set()
        self.go_on.wait(timeout=60)
        return self._reencode(data)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldReencoding]:
    gate = HeldReencoding()
    monkeypatch.setattr(photos, "reencode", gate)
    try:
        yield gate
    finally:
        gate.go_on.set()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 90, 160)).save(out, "JPEG")
    return out.getvalue()


async def test_health_shows_the_photos_being_reencoded(
    client: httpx.AsyncClient, held: HeldReencoding
) -> None:
    home = await household(client, "Wang family", LOCATION)
    before = (await client.get("/api/v1/health")).json()["photos"]
    assert before["photos_reencoding"] == 0
    upload = asyncio.create_task(
        client.post(
            f"/r/{home['token']}/requests",
            data={"category": "repair", "text": "Water drips through the ceiling"},
            files=[("photos", ("leak.jpg", jpeg(), "image/jpeg"))],
        )
    )
    assert await asyncio.to_thread(held.started.wait, 60)
    busy = (await client.get("/api/v1/health")).json()
    assert busy["photos"]["photos_reencoding"] == 1
    assert busy["photos"]["photos_reencoding_most"] >= 1
    assert busy["counters"] == {}
    held.go_on.set()
    assert (await upload).status_code == 201
    after = (await client.get("/api/v1/health")).json()["photos"]
    assert after["photos_reencoding"] == 0
    assert after["photos_reencoding_most"] >= 1
