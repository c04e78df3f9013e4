"""Evidence snapshots (clean + annotated JPEG, size-capped) and the edge's disk spool."""

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from devices.camera import (
    EVIDENCE_MAX_MESSAGE_BYTES,
    CameraConfig,
    EvidenceImage,
    EvidenceVariant,
)
from devices.kinds import AlertKind
from edge.camera.analytics import Box, Frame
from edge.camera.evidence import (
    EvidenceSpool,
    Snapshot,
    SpooledPicture,
    SpoolLimits,
    annotate,
    encode_jpeg,
    evidence_images,
    pictures_to_drop,
)

TS = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
CAMERA = CameraConfig.model_validate(
    {
        "device": "cam-1",
        "source": "x.avi",
        "zones": [
            {"name": "exit", "polygon": [[0.5, 0.2], [0.9, 0.2], [0.9, 0.9]], "rules": ["motion"]}
        ],
    }
)


def frame(width: int = 640, height: int = 480, seed: int = 0) -> Frame:
    """Return a noisy frame (the worst case for JPEG size)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def snapshot(alert_id: str = "a" * 32) -> Snapshot:
    """Return a snapshot of a motion alert in the exit zone."""
    return Snapshot(
        "edge-1",
        "cam-1",
        alert_id,
        AlertKind.CAMERA_MOTION,
        TS,
        "exit",
        Box(400, 150, 60, 90),
        frame(),
    )


def test_a_jpeg_never_exceeds_its_budget() -> None:
    jpeg = encode_jpeg(frame(1920, 1080), max_bytes=400_000)
    assert len(jpeg) <= 400_000
    assert jpeg[:3] == b"\xff\xd8\xff"


def test_an_alert_has_a_clean_and_an_annotated_picture_that_fit_one_message() -> None:
    clean, annotated = evidence_images(snapshot(), CAMERA)
    assert (clean.variant, annotated.variant) == (EvidenceVariant.CLEAN, EvidenceVariant.ANNOTATED)
    for image in (clean, annotated):
        jpeg = base64.b64decode(image.data)
        assert hashlib.sha256(jpeg).hexdigest() == image.sha256
        assert len(image.model_dump_json()) < EVIDENCE_MAX_MESSAGE_BYTES
        assert image.alert_id == "a" * 32
        assert image.ts == TS
    assert clean.id != annotated.id
    assert clean.sha256 != annotated.sha256


def test_the_annotation_draws_the_zone_and_the_detection() -> None:
    plain = np.zeros((480, 640, 3), np.uint8)
    drawn = annotate(plain, CAMERA, "exit", Box(100, 100, 50, 50), "camera_motion exit")
    assert drawn[100, 125].tolist() == [0, 0, 255], "the detection box is red"
    yellow = (drawn[:, :, 0] == 0) & (drawn[:, :, 1] == 255) & (drawn[:, :, 2] == 255)
    assert yellow.any(), "the zone outline is yellow"
    assert plain.sum() == 0, "the clean frame is untouched"


def test_the_spool_keeps_pictures_in_order_until_acknowledged(tmp_path: Path) -> None:
    spool = EvidenceSpool(tmp_path / "evidence")
    images = [img for n in range(3) for img in evidence_images(snapshot(f"{n}" * 16), CAMERA)]
    for image in images:
        spool.put(image)
    assert spool.depth() == 6
    # A restart: a new spool on the same folder sees the same pictures, oldest first.
    again = EvidenceSpool(tmp_path / "evidence")
    assert [i.id for i in again.pending(10)] == [i.id for i in images]
    assert again.acknowledge([images[0].id, images[1].id, "f" * 32]) == 2
    assert [i.id for i in again.pending(2)] == [images[2].id, images[3].id]


def test_an_unreadable_spool_file_is_set_aside_and_blocks_nothing(tmp_path: Path) -> None:
    spool = EvidenceSpool(tmp_path / "evidence")
    (tmp_path / "evidence" / "00000000000000000000-000000-bad.json").write_text("{not json")
    good = evidence_images(snapshot(), CAMERA)[0]
    spool.put(good)
    assert [i.id for i in spool.pending(10)] == [good.id]
    assert (tmp_path / "evidence" / "00000000000000000000-000000-bad.bad").exists()


def test_a_frame_can_be_decoded_back_from_its_evidence() -> None:
    image = evidence_images(snapshot(), CAMERA)[0]
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(image.data), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (480, 640, 3)
    assert EvidenceImage.model_validate_json(image.model_dump_json()) == image


# --- the spool's cap ------------------------------------------------------------------------


def picture(name: str, kind: AlertKind | None, size: int = 100) -> SpooledPicture:
    """Return a spool entry as the cap sees it."""
    return SpooledPicture(name, kind, size)


def test_the_cap_drops_the_least_urgent_kinds_first_and_the_oldest_within_a_kind() -> None:
    spool = [
        picture("1", AlertKind.CAMERA_FIRE),
        picture("2", AlertKind.CAMERA_MOTION),
        picture("3", AlertKind.CAMERA_TAMPER),
        picture("4", AlertKind.CAMERA_PERSON),
        picture("5", AlertKind.CAMERA_SMOKE),
        picture("6", AlertKind.CAMERA_MOTION),
    ]
    dropped = pictures_to_drop(spool, SpoolLimits(max_bytes=10_000, max_files=3))
    # Low severity (motion, person) oldest first, then medium (tamper); fire and smoke stay.
    assert [p.name for p in dropped] == ["2", "4", "6"]
    assert pictures_to_drop(spool, SpoolLimits(max_bytes=10_000, max_files=6)) == []


def test_the_byte_cap_applies_on_its_own() -> None:
    spool = [
        picture("1", AlertKind.CAMERA_MOTION, 400),
        picture("2", AlertKind.CAMERA_LOITERING, 300),
        picture("3", AlertKind.CAMERA_PERSON, 200),
    ]
    dropped = pictures_to_drop(spool, SpoolLimits(max_bytes=350, max_files=100))
    assert [p.name for p in dropped] == ["1", "3"]


def test_life_safety_pictures_go_only_when_nothing_else_is_left() -> None:
    spool = [
        picture("1", AlertKind.CAMERA_SMOKE),
        picture("2", AlertKind.CAMERA_FIRE),
        picture("3", AlertKind.CAMERA_OBSTRUCTION),
        picture("4", AlertKind.CAMERA_FIRE),
    ]
    dropped = pictures_to_drop(spool, SpoolLimits(max_bytes=10_000, max_files=2))
    assert [p.name for p in dropped] == ["3", "1"]
    # A file of an older edge (no kind in its name) is kept like a life-safety picture.
    old = [picture("0", None), picture("1", AlertKind.CAMERA_FIRE)]
    assert [p.name for p in pictures_to_drop(old, SpoolLimits(10_000, 1))] == ["0"]


def images_of(kind: AlertKind, alert_id: str) -> list[EvidenceImage]:
    """Return the two pictures of one alert of ``kind``."""
    shot = Snapshot("edge-1", "cam-1", alert_id, kind, TS, None, None, frame(160, 120))
    return evidence_images(shot, CAMERA)


def test_a_full_spool_drops_motion_pictures_and_keeps_the_fire_ones(tmp_path: Path) -> None:
    fire = images_of(AlertKind.CAMERA_FIRE, "f" * 16)
    motion = images_of(AlertKind.CAMERA_MOTION, "m" * 16)
    later_fire = images_of(AlertKind.CAMERA_FIRE, "g" * 16)
    spool = EvidenceSpool(tmp_path / "evidence", SpoolLimits(max_bytes=10**9, max_files=4))
    dropped = [p for image in fire + motion + later_fire for p in spool.put(image)]
    assert [p.kind for p in dropped] == [AlertKind.CAMERA_MOTION] * 2
    assert [i.id for i in spool.pending(10)] == [i.id for i in fire + later_fire]
    assert spool.depth() == 4
    # Still readable and acknowledgeable under the new names.
    assert spool.acknowledge([fire[0].id]) == 1


def test_the_byte_cap_holds_on_disk(tmp_path: Path) -> None:
    one = len(images_of(AlertKind.CAMERA_PERSON, "p" * 16)[0].model_dump_json())
    spool = EvidenceSpool(tmp_path / "evidence", SpoolLimits(max_bytes=5 * one, max_files=100))
    for n in range(6):
        for image in images_of(AlertKind.CAMERA_PERSON, f"{n}" * 16):
            spool.put(image)
            assert spool.size() <= 5 * one + one // 2  # the pictures differ a little in size
    assert 3 <= spool.depth() <= 5


def test_a_fire_picture_is_sent_before_the_older_motion_pictures(tmp_path: Path) -> None:
    """After a cut uplink, the window the edge sends next holds the fire's pictures first,
    however many motion pictures wait before them (before: oldest first, the fire last)."""
    spool = EvidenceSpool(tmp_path / "evidence")
    motion = [i for n in range(4) for i in images_of(AlertKind.CAMERA_MOTION, f"{n}" * 16)]
    tamper = images_of(AlertKind.CAMERA_TAMPER, "t" * 16)
    fire = images_of(AlertKind.CAMERA_FIRE, "f" * 16)
    smoke = images_of(AlertKind.CAMERA_SMOKE, "s" * 16)
    for image in motion + tamper + fire + smoke:
        spool.put(image)
    assert [i.id for i in spool.pending(4)] == [i.id for i in fire + smoke]
    expected = fire + smoke + tamper + motion
    assert [i.id for i in EvidenceSpool(tmp_path / "evidence").pending(100)] == [
        i.id for i in expected
    ]
