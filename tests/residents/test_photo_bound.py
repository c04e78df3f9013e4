"""Residents' photos are re-encoded a few at a time, on threads of their own.

A 5 KB PNG of 7000 × 7000 pixels passes every limit of ``hub.requests.photos`` and takes about
a second and 300 MB to decode. The page and the gateway re-encoded on the event loop's default
pool (6 threads on 2 cores), which every route's database work shares: a few uploads at once
took GBs of memory — a hub killed for it loses its alarms — and every thread the routes need.

Here a household posts several such photos at once while a thread of the test looks at what
every thread of the process is running (``sys._current_frames``): no more than
``PHOTO_THREADS`` photos are ever being decoded at once, and never on a shared thread.
"""

import asyncio
import io
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from hub.requests import photos
from tests.hub.conftest import app, clock
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, report, staff

__all__ = ["app", "clock"]

pytestmark = pytest.mark.fake_clock

SHARED = 6
"""The default pool's size on a 2-core box."""

UPLOADS = 5


def many_pixels(side: int = 7000) -> bytes:
    """A PNG of ``side`` × ``side`` pixels of one colour: a few KB on the wire."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 80, 40)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _decoding(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code is photos.reencode.__code__:
            return True
        frame = frame.f_back
    return False


class Watcher(threading.Thread):
    """Notes, until stopped, which threads are in ``reencode`` and the most at once."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.most = 0
        self.threads: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            names = {t.ident: t.name for t in threading.enumerate()}
            now = [
                names.get(ident, "?")
                for ident, frame in sys._current_frames().items()
                if _decoding(frame)
            ]
            self.most = max(self.most, len(now))
            self.threads.update(now)
            time.sleep(0.002)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with a staffed site, on a default pool as large as a 2-core box's."""
    pool = ThreadPoolExecutor(max_workers=SHARED, thread_name_prefix="shared")
    asyncio.get_running_loop().set_default_executor(pool)
    async with api_client(app) as client:
        await staff(client)
        yield client


async def test_photos_posted_at_once_are_decoded_a_few_at_a_time_off_the_shared_threads(
    client: httpx.AsyncClient,
) -> None:
    token = (await household(client, "Wang family", LOCATION))["token"]
    png = many_pixels()
    watcher = Watcher()
    watcher.start()
    try:
        sent = await asyncio.gather(
            *(report(client, token, [png], text=f"Leak number {n}") for n in range(UPLOADS))
        )
    finally:
        watcher.stop.set()
        watcher.join()
    assert [r.status_code for r in sent] == [201] * UPLOADS, [r.text for r in sent]
    assert watcher.threads, "no photo was seen being decoded"
    shared = sorted(name for name in watcher.threads if name.startswith("shared"))
    assert not shared, f"photos were decoded on the threads every route shares: {shared}"
    assert watcher.most <= photos.PHOTO_THREADS, f"{watcher.most} photos decoded at once"
    [mine] = (await client.get(f"/r/{token}/requests")).json()["items"][:1]
    assert (mine["photos"][0]["width"], mine["photos"][0]["height"]) == (2048, 2048)
    counted = photos.reencoding()
    assert counted["photos_reencoding"] == 0
    assert 1 <= counted["photos_reencoding_most"] <= photos.PHOTO_THREADS


async def test_a_photo_is_re_encoded_while_every_shared_thread_is_busy() -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=SHARED, thread_name_prefix="shared"))
    gate = threading.Event()
    busy = [loop.run_in_executor(None, gate.wait) for _ in range(SHARED)]
    try:
        async with asyncio.timeout(60):
            photo = await photos.reencode_photo(many_pixels(3000))
        assert not any(b.done() for b in busy)
    finally:
        gate.set()
        await asyncio.gather(*busy)
    assert (photo.width, photo.height) == (2048, 2048)


def test_a_large_jpeg_decoded_at_reduced_size_keeps_its_picture() -> None:
    """``Image.draft`` decodes an 8000-pixel-wide JPEG at half size: what is kept must look
    as the full decode scaled down does."""
    gradient = Image.linear_gradient("L").resize((8000, 6000))
    picture = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient)
    )
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    kept = photos.reencode(out.getvalue())
    assert (kept.width, kept.height) == (2048, 1536)
    full = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
    full.thumbnail((photos.MAX_SIDE, photos.MAX_SIDE))
    mine = Image.open(io.BytesIO(kept.jpeg)).convert("RGB")
    diff = [abs(a - b) for a, b in zip(full.tobytes(), mine.tobytes(), strict=True)]
    assert sum(diff) / len(diff) < 2
