"""Evidence at the hub: parsing and checking a message, storing it once by hash, finding it."""

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from devices.camera import EvidenceImage, EvidenceVariant
from devices.kinds import AlertKind, DeviceKind
from hub.errors import NotFoundError
from hub.evidence.link import EvidenceAccepted, parse_evidence
from hub.evidence.repository import EvidenceRefusedError, EvidenceStore
from hub.ingest.messages import RejectedMessage
from hub.persistence.evidence import EvidenceBlobRow, EvidenceRow
from hub.persistence.tables import DeviceRow
from hub.store import HubStore
from tests.hub.factories import T0, alert_id, make_alert, make_device

JPEG = b"\xff\xd8\xff\xe0" + b"picture bytes" * 100 + b"\xff\xd9"
CAMERA = "b3-corridor-cam"
TOPIC = "linli/edge/e1/evidence"


def image(
    *, alert: str, jpeg: bytes = JPEG, variant: EvidenceVariant = EvidenceVariant.CLEAN
) -> EvidenceImage:
    """Return an evidence message as an edge sends it."""
    return EvidenceImage(
        id=alert_id(),
        edge_id="e1",
        device_id=CAMERA,
        alert_id=alert,
        kind=AlertKind.CAMERA_FIRE,
        variant=variant,
        ts=T0,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        data=base64.b64encode(jpeg).decode(),
    )


def parse(payload: str | bytes, topic: str = TOPIC) -> EvidenceAccepted | RejectedMessage:
    """Parse with the hub's default limit."""
    return parse_evidence(topic, payload, max_bytes=1024 * 1024)


def test_a_good_message_is_accepted_with_its_bytes() -> None:
    good = image(alert=alert_id())
    parsed = parse(good.model_dump_json())
    assert parsed == EvidenceAccepted(good, JPEG)


def tampered(good: EvidenceImage, **changes: object) -> str:
    """Return the message JSON with fields replaced."""
    data = json.loads(good.model_dump_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("make", "reason", "acked"),
    [
        (lambda g: tampered(g, sha256="0" * 64), "hash_mismatch", True),
        (lambda g: tampered(g, data="not base64!"), "bad_base64", True),
        (lambda g: tampered(g, data=base64.b64encode(b"GIF89a...").decode(),
                            sha256=hashlib.sha256(b"GIF89a...").hexdigest()), "not_jpeg", True),
        (lambda g: tampered(g, edge_id="e2"), "edge_mismatch", True),
        (lambda g: tampered(g, kind="camera_dance"), "malformed", True),
        (lambda g: "{not json", "malformed", False),
        (lambda g: "x" * (1024 * 1024 + 1), "oversized", False),
    ],
)  # fmt: skip
def test_bad_messages_are_rejected_by_reason(
    make: Callable[[EvidenceImage], str], reason: str, acked: bool
) -> None:
    good = image(alert=alert_id())
    parsed = parse(make(good))
    assert isinstance(parsed, RejectedMessage)
    assert parsed.reason == reason
    assert parsed.edge_id == "e1"
    assert (parsed.message_id == good.id) is acked


def test_a_message_on_another_channel_is_refused() -> None:
    parsed = parse(image(alert=alert_id()).model_dump_json(), topic="linli/edge/e1/alert")
    assert isinstance(parsed, RejectedMessage)
    assert parsed.reason == "unknown_topic"


def test_pictures_are_stored_once_by_hash_and_found_by_alert_and_case(
    store: HubStore, evidence: EvidenceStore, engine: Engine
) -> None:
    store.fleet.register_device(make_device(CAMERA, kind=DeviceKind.CAMERA, location="Building 3"))
    alert = make_alert(device_id=CAMERA, kind=AlertKind.CAMERA_FIRE)
    # The picture may arrive before its alert: it is kept, and found once the alert is in.
    clean = image(alert=alert.id)
    annotated = image(alert=alert.id, jpeg=JPEG + b"\x00", variant=EvidenceVariant.ANNOTATED)
    assert evidence.store(clean, JPEG, T0).new
    assert evidence.for_alert(alert.id)[0].case_id is None
    result = store.intake.ingest_alerts([alert], T0 + timedelta(seconds=1))
    (case_id,) = {c.id for c in result.cases_opened}
    assert evidence.store(annotated, JPEG + b"\x00", T0).new
    # The same picture again (a re-send), and the same bytes for another alert.
    assert not evidence.store(clean, JPEG, T0).new
    other = image(alert=alert_id())
    assert evidence.store(other, JPEG, T0).new

    listed = evidence.for_alert(alert.id)
    assert {(e.variant, e.case_id) for e in listed} == {("clean", case_id), ("annotated", case_id)}
    assert [e.id for e in evidence.for_case(case_id)] == [e.id for e in listed]
    view, path = evidence.get(clean.id)
    assert path.read_bytes() == JPEG
    assert view.size == len(JPEG)
    assert view.url == f"/api/v1/evidence/{clean.id}"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(EvidenceRow)) == 3
        assert session.scalar(select(func.count()).select_from(EvidenceBlobRow)) == 2
    assert len(list(evidence.folder.rglob("*.jpg"))) == 2


def test_unknown_alerts_cases_and_pictures_are_not_found(evidence: EvidenceStore) -> None:
    with pytest.raises(NotFoundError):
        evidence.for_alert(alert_id())
    with pytest.raises(NotFoundError):
        evidence.for_case(424242)
    with pytest.raises(NotFoundError):
        evidence.get(alert_id())


def test_bytes_that_do_not_match_their_hash_are_never_stored(evidence: EvidenceStore) -> None:
    with pytest.raises(ValueError, match="do not match"):
        evidence.store(image(alert=alert_id()), JPEG + b"!", T0)
    assert not list(evidence.folder.rglob("*.jpg"))


def test_a_picture_naming_another_edges_alert_is_never_that_alerts_picture(
    store: HubStore, evidence: EvidenceStore
) -> None:
    """Edge e2 sends a picture for an alert edge e1 raised: before the alert is in, it is kept
    but never listed with the alert or its case; after, it is refused and nothing is written."""
    store.fleet.register_device(make_device(CAMERA, kind=DeviceKind.CAMERA, location="Building 3"))
    alert = make_alert(device_id=CAMERA, kind=AlertKind.CAMERA_FIRE)
    own = image(alert=alert.id)
    early_forgery = image(alert=alert.id, jpeg=JPEG + b"early").model_copy(
        update={"edge_id": "e2", "device_id": "e2-cam"}
    )
    assert evidence.store(early_forgery, JPEG + b"early", T0).new
    assert evidence.store(own, JPEG, T0).new
    (case_id,) = {c.id for c in store.intake.ingest_alerts([alert], T0).cases_opened}

    assert [e.id for e in evidence.for_alert(alert.id)] == [own.id]
    assert [e.id for e in evidence.for_case(case_id)] == [own.id]
    placed, _path = evidence.get(early_forgery.id)
    assert (placed.case_id, placed.device_id) == (None, "e2-cam")
    with pytest.raises(NotFoundError):  # the forger's own site does not see e1's alert
        evidence.for_alert(alert.id, device_ids=frozenset({"e2-cam"}))

    late_forgery = image(alert=alert.id, jpeg=JPEG + b"late").model_copy(update={"edge_id": "e2"})
    with pytest.raises(EvidenceRefusedError) as refused:
        evidence.store(late_forgery, JPEG + b"late", T0)
    assert refused.value.reason == "alert_of_other_edge"
    with pytest.raises(NotFoundError):
        evidence.get(late_forgery.id)
    assert len(list(evidence.folder.rglob("*.jpg"))) == 2


def test_a_picture_of_another_edges_camera_is_refused_and_never_placed_there(
    store: HubStore, evidence: EvidenceStore
) -> None:
    """Edge e2 names e1's camera (registered by an operator) and an alert that never comes:
    before, the picture was kept and placed on that camera, so Building 3's operators read it
    as their own camera's. Now it is refused (``foreign_device``) and nothing is written."""
    store.fleet.register_device(make_device(CAMERA, kind=DeviceKind.CAMERA, location="Building 3"))
    forged = image(alert=alert_id()).model_copy(update={"edge_id": "e2"})
    with pytest.raises(EvidenceRefusedError) as refused:
        evidence.store(forged, JPEG, T0)
    assert refused.value.reason == "foreign_device"
    with pytest.raises(NotFoundError):
        evidence.get(forged.id, device_ids=frozenset({CAMERA}))
    assert not list(evidence.folder.rglob("*.jpg"))
    # The camera's own edge still delivers its pictures; an unknown camera's are kept.
    assert evidence.store(image(alert=alert_id()), JPEG, T0).new
    unknown = image(alert=alert_id()).model_copy(update={"edge_id": "e2", "device_id": "e2-cam"})
    assert evidence.store(unknown, JPEG, T0).new


def test_a_picture_of_a_camera_only_an_inventory_gave_another_edge_is_taken(
    store: HubStore, evidence: EvidenceStore, engine: Engine
) -> None:
    """As its alert is (contested, not refused: ``hub.ingest.identity.screen_alerts``)."""
    store.fleet.register_device(make_device(CAMERA, kind=DeviceKind.CAMERA, location="Building 3"))
    with Session(engine) as session, session.begin():  # an older row: read as an inventory's
        session.get_one(DeviceRow, CAMERA).registered_by = None
    contested = image(alert=alert_id()).model_copy(update={"edge_id": "e2"})
    assert evidence.store(contested, JPEG, T0).new
