"""A request's photo files exist only for what committed: a request or an update whose
transaction fails, and a gateway message sent again, leave no file behind (review low
finding: the files were written before the transaction and orphaned when it failed)."""

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from hub.errors import NotFoundError
from hub.requests.photos import PhotoFiles, ProcessedPhoto, reencode
from hub.requests.repository import NewRequest
from hub.requests.rules import RequestCategory, RequestSource
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_requests_rules import jpeg_with_gps


@pytest.fixture
def photos_store(engine: Engine, clock: FakeClock, tmp_path: Path) -> HubStore:
    """A store keeping residents' photos under ``tmp_path/photos``."""
    return HubStore(engine, clock=clock, photo_dir=tmp_path / "photos")


def files_under(folder: Path) -> list[Path]:
    """Return every file under ``folder``, temporaries included."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def request(household_id: int, *, message_id: str | None = None) -> NewRequest:
    """A repair request of ``household_id`` (from the gateway with ``message_id``)."""
    return NewRequest(
        household_id=household_id,
        category=RequestCategory.REPAIR,
        text="Water drips through the ceiling",
        source=RequestSource.PAGE if message_id is None else RequestSource.GATEWAY,
        external_id=message_id,
    )


def two_photos() -> list[ProcessedPhoto]:
    """Two different photos, re-encoded as a route hands them over."""
    return [reencode(jpeg_with_gps()), reencode(jpeg_with_gps(800, 600))]


def test_a_request_whose_transaction_fails_leaves_no_photo_file(
    photos_store: HubStore, tmp_path: Path
) -> None:
    # No household 999: the transaction fails on it, after the photos were read.
    with pytest.raises(NotFoundError):
        photos_store.requests.open_request(request(999), two_photos())
    assert files_under(tmp_path / "photos") == []


def test_an_update_whose_transaction_fails_leaves_no_photo_file(
    photos_store: HubStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        photos_store.requests.add_update(
            999, actor="plumber-1", note="fixed", visit_at=None, photos=two_photos()
        )
    assert files_under(tmp_path / "photos") == []


def test_committed_photos_are_kept_and_a_repeated_message_adds_no_file(
    photos_store: HubStore, tmp_path: Path
) -> None:
    home = photos_store.households.create_household("Wang family", "Building 3", [], "h" * 64)
    first = two_photos()
    opened = photos_store.requests.open_request(request(home.id, message_id="wx-1"), first)
    assert opened.new
    files = PhotoFiles(tmp_path / "photos")
    kept = {files.path_of(p.sha256) for p in first} | {
        files.path_of(p.thumbnail_sha256) for p in first
    }
    assert set(files_under(tmp_path / "photos")) == kept
    assert all(files.read(p.sha256) == p.jpeg for p in first)

    # The gateway sends the same message again, with another photo this time: answered with
    # the request it opened, and nothing of the copy is kept.
    other = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 90, 200)).save(other, format="PNG")
    again = [reencode(other.getvalue())]
    assert files.path_of(again[0].sha256) not in kept
    repeated = photos_store.requests.open_request(request(home.id, message_id="wx-1"), again)
    assert not repeated.new
    assert repeated.request.id == opened.request.id
    assert set(files_under(tmp_path / "photos")) == kept

    # An update's photos are kept once it committed; a photo already kept is kept once.
    photos_store.requests.add_update(
        opened.request.id, actor="plumber-1", note="fixed", visit_at=None, photos=[first[0]]
    )
    assert set(files_under(tmp_path / "photos")) == kept
