"""Residents' requests, the pure core, and photo re-encoding, on plain values."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from devices.kinds import Severity
from hub.cases.dispatch import Assignment
from hub.cases.rules import CaseStatus
from hub.errors import IllegalTransitionError, InvalidInputError
from hub.requests.photos import (
    MAX_UPLOAD_BYTES,
    PhotoFiles,
    PhotoRejectedError,
    reencode,
)
from hub.requests.rules import (
    NOT_FIXED_WITHIN,
    REQUEST_PRIORITY,
    Feedback,
    RatingFacts,
    RequestCategory,
    RequestStage,
    check_window,
    decide_feedback,
    public_name,
    request_stage,
)

NOW = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
TEAM = (Assignment("service", "plumber-1"),)


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    """Return a JPEG as a phone writes it: EXIF with a GPS position and a camera serial."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-123"  # BodySerialNumber
    exif[0x0112] = 6  # Orientation: rotate 90° to be upright
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 20.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_hazard_is_high_priority_and_nothing_is_life_safety() -> None:
    assert REQUEST_PRIORITY[RequestCategory.HAZARD] is Severity.HIGH
    assert set(REQUEST_PRIORITY) == set(RequestCategory)
    assert Severity.CRITICAL not in REQUEST_PRIORITY.values()


@pytest.mark.parametrize(
    ("status", "team", "visit", "stage"),
    [
        (CaseStatus.OPEN, (), None, RequestStage.RECEIVED),
        (CaseStatus.DISPATCHED, TEAM, None, RequestStage.ASSIGNED),
        (CaseStatus.ACCEPTED, TEAM, NOW, RequestStage.VISIT_PLANNED),
        (CaseStatus.OPEN, (), NOW, RequestStage.RECEIVED),
        (CaseStatus.IN_PROGRESS, TEAM, NOW, RequestStage.IN_PROGRESS),
        (CaseStatus.RESOLVED, TEAM, NOW, RequestStage.DONE),
        (CaseStatus.CLOSED, TEAM, None, RequestStage.DONE),
    ],
)
def test_what_a_household_sees(
    status: CaseStatus, team: tuple[Assignment, ...], visit: datetime | None, stage: RequestStage
) -> None:
    assert request_stage(status, team, visit) is stage


def test_a_household_sees_a_first_name_only() -> None:
    assert public_name("Zhang Wei") == "Zhang"
    assert public_name("王建国") == "王"
    assert public_name("") == ""


def test_a_preferred_window_is_a_window_ahead() -> None:
    assert check_window(None, None, NOW) is None
    window = (NOW + timedelta(hours=12), NOW + timedelta(hours=14))
    assert check_window(*window, NOW) == window
    with pytest.raises(InvalidInputError, match="both"):
        check_window(NOW, None, NOW)
    with pytest.raises(InvalidInputError, match="ends before"):
        check_window(window[1], window[0], NOW)
    with pytest.raises(InvalidInputError, match="already over"):
        check_window(NOW - timedelta(hours=3), NOW - timedelta(hours=1), NOW)
    with pytest.raises(InvalidInputError, match="30 days"):
        check_window(NOW + timedelta(days=40), NOW + timedelta(days=41), NOW)


def test_a_rating_waits_for_the_work_to_be_done() -> None:
    with pytest.raises(IllegalTransitionError, match="not done yet"):
        decide_feedback(RatingFacts(CaseStatus.ACCEPTED, None, False), Feedback(4, None), NOW)
    done = RatingFacts(CaseStatus.RESOLVED, NOW, False)
    assert decide_feedback(done, Feedback(4, "quick"), NOW).reopen is False
    with pytest.raises(InvalidInputError, match="1 to 5"):
        decide_feedback(done, Feedback(6, None), NOW)
    with pytest.raises(IllegalTransitionError, match="rated already"):
        decide_feedback(RatingFacts(CaseStatus.RESOLVED, NOW, True), Feedback(4, None), NOW)


def test_not_fixed_reopens_within_seven_days_only() -> None:
    done = RatingFacts(CaseStatus.RESOLVED, NOW, False)
    not_fixed = Feedback(1, "still dripping", fixed=False)
    assert decide_feedback(done, not_fixed, NOW + NOT_FIXED_WITHIN).reopen is True
    with pytest.raises(IllegalTransitionError, match="7 days"):
        decide_feedback(done, not_fixed, NOW + NOT_FIXED_WITHIN + timedelta(seconds=1))
    closed = RatingFacts(CaseStatus.CLOSED, NOW, False)
    with pytest.raises(IllegalTransitionError, match="closed"):
        decide_feedback(closed, not_fixed, NOW + timedelta(days=1))


def test_a_photo_is_reencoded_upright_without_exif_or_gps() -> None:
    original = jpeg_with_gps()
    assert b"SERIAL-123" in original
    photo = reencode(original)
    assert b"SERIAL-123" not in photo.jpeg
    assert b"PhoneMaker" not in photo.jpeg
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert stored.format == "JPEG"
    assert not stored.getexif()
    assert stored.size == (480, 640)  # turned upright by its orientation tag
    thumb = Image.open(io.BytesIO(photo.thumbnail))
    assert max(thumb.size) == 320
    assert not thumb.getexif()


def test_a_large_photo_is_scaled_down() -> None:
    photo = reencode(jpeg_with_gps(4000, 3000))
    assert max(photo.width, photo.height) == 2048


def test_non_images_oversized_files_and_bombs_are_refused() -> None:
    with pytest.raises(PhotoRejectedError, match="not a photo"):
        reencode(b"%PDF-1.4 not a picture")
    with pytest.raises(PhotoRejectedError, match="empty"):
        reencode(b"")
    with pytest.raises(PhotoRejectedError, match="too large"):
        reencode(b"\xff" * (MAX_UPLOAD_BYTES + 1))
    gif = io.BytesIO()
    Image.new("P", (10, 10)).save(gif, format="GIF")
    with pytest.raises(PhotoRejectedError, match="GIF"):
        reencode(gif.getvalue())
    # A small file that claims 20000×20000 pixels: refused before a pixel is decoded.
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 1024 * 1024
    with pytest.raises(PhotoRejectedError, match="pixels"):
        reencode(bomb.getvalue())


def test_photo_bytes_are_kept_once_by_hash(tmp_path: Path) -> None:
    files = PhotoFiles(tmp_path)
    photo = reencode(jpeg_with_gps())
    sha = files.write(photo.jpeg)
    assert sha == photo.sha256 == files.write(photo.jpeg)
    assert files.read(sha) == photo.jpeg
    assert files.path_of(sha).parent.name == sha[:2]
    with pytest.raises(PhotoRejectedError, match="no photos"):
        PhotoFiles(None).write(b"x")
