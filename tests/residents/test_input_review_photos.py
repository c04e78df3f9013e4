"""Residents' photos from the outside: what a phone, an editing app or a hostile page sends.

A photo is shown to responders and kept as evidence, so what the hub stores must carry the
pixels and nothing else; and a photo the hub can read must not fail the resident's request.
"""

import io
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, PngImagePlugin

from hub.requests.photos import reencode
from tests.hub.conftest import app, clock
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, report, staff

__all__ = ["app", "clock"]

pytestmark = pytest.mark.fake_clock

HOME = b"home 31.2304N 121.4737E, phone serial SN-7F3A9C"


def jpeg_with_comment() -> bytes:
    """A JPEG whose COM segment names where it was taken and the phone (as some apps write)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 30)).save(out, format="JPEG", comment=HOME)
    return out.getvalue()


def png_with_comment() -> bytes:
    """A PNG whose text chunk ``comment`` names where it was taken and the phone."""
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", HOME.decode())
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 30)).save(out, format="PNG", pnginfo=text)
    return out.getvalue()


def jpeg_with_odd_exif(tag: int = 0x010F, kind: int = 5) -> bytes:
    """A 40×20 JPEG whose EXIF says "rotate 90°" and holds ``tag`` (Make) of the wrong type
    ``kind`` (5: RATIONAL), as a buggy camera or editing app writes it; Pillow reads it, but
    cannot write such an EXIF back."""
    after_ifd = 8 + 2 + 2 * 12 + 4
    entries = [
        (0x0112, 3, 1, struct.pack("<HH", 6, 0)),  # Orientation: rotate 90°
        (tag, kind, 1, struct.pack("<I", after_ifd)),
    ]
    tiff = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for number, type_, count, value in entries:
        tiff += struct.pack("<HHI", number, type_, count) + value
    tiff += struct.pack("<I", 0) + struct.pack("<II", 1, 2) * 2
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 40, 40)).save(out, format="JPEG", exif=b"Exif\x00\x00" + tiff)
    return out.getvalue()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with a staffed site (a plumber for building 3)."""
    async with api_client(app) as client:
        await staff(client)
        yield client


@pytest.mark.parametrize("original", [jpeg_with_comment(), png_with_comment()], ids=["jpeg", "png"])
def test_a_photos_comment_naming_a_home_and_a_phone_is_not_kept(original: bytes) -> None:
    photo = reencode(original)
    for kept in (photo.jpeg, photo.thumbnail):
        assert b"SN-7F3A9C" not in kept
        assert b"121.4737" not in kept
        assert "comment" not in Image.open(io.BytesIO(kept)).info


@pytest.mark.parametrize(("tag", "kind"), [(0x010F, 5), (0x0131, 11)], ids=["make", "software"])
def test_a_photo_with_an_odd_exif_is_still_taken_upright(tag: int, kind: int) -> None:
    photo = reencode(jpeg_with_odd_exif(tag, kind))
    assert (photo.width, photo.height) == (20, 40)
    assert "exif" not in Image.open(io.BytesIO(photo.jpeg)).info


async def test_a_resident_reports_with_such_photos_and_the_page_shows_only_pixels(
    client: httpx.AsyncClient,
) -> None:
    token = (await household(client, "Wang family", LOCATION))["token"]
    created = await report(client, token, [jpeg_with_odd_exif(), jpeg_with_comment()])
    assert created.status_code == 201, created.text
    [mine] = (await client.get(f"/r/{token}/requests")).json()["items"]
    assert len(mine["photos"]) == 2
    for photo in mine["photos"]:
        for path in (photo["path"], photo["thumbnail_path"]):
            shown = await client.get(f"/r/{token}/requests/{mine['id']}/{path}")
            assert shown.status_code == 200
            assert b"SN-7F3A9C" not in shown.content
            assert not Image.open(io.BytesIO(shown.content)).info.keys() & {"comment", "exif"}
