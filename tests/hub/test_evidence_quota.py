"""The pictures' quota per edge: the rule on plain values, the usage from the database, and
the reader refusing one edge's pictures over a real Mosquitto while it takes another's."""

import asyncio
import base64
import uuid
from pathlib import Path

import aiomqtt
import pytest

from devices.camera import EvidenceAck, EvidenceImage
from devices.kinds import LIFE_SAFETY, AlertKind
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.errors import NotFoundError
from hub.evidence.link import EvidenceIngest
from hub.evidence.quota import PictureQuota, QuotaReason, admit_picture
from hub.evidence.repository import EvidenceStore
from linli.brokers import MosquittoProcess
from tests.hub.conftest import hub_on
from tests.hub.factories import T0, alert_id
from tests.hub.test_evidence_api import running
from tests.hub.test_evidence_store import JPEG, image

MIB = 1024 * 1024
QUOTA = PictureQuota(
    edge_bytes=100 * MIB, life_safety_reserve_bytes=20 * MIB, min_free_disk_bytes=MIB
)
ROOMY_DISK = 10 * 1024 * MIB


async def acked_by_the_hub(
    reader: EvidenceIngest, port: int, sent: list[tuple[EvidenceImage, str]]
) -> list[str]:
    """Send each picture from its edge through the real broker to ``reader``; return the ids
    the hub acknowledged, in order, once it has answered each."""
    async with (
        running(reader),
        aiomqtt.Client("127.0.0.1", port, identifier=f"edges-{uuid.uuid4().hex[:8]}") as edges,
    ):
        for edge in sorted({edge for _, edge in sent}):
            await edges.subscribe(edge_topic(edge, EdgeChannel.EVIDENCE_ACK), qos=1)
        for message, edge in sent:
            await edges.publish(
                edge_topic(edge, EdgeChannel.EVIDENCE), message.model_dump_json(), qos=1
            )
        acked: list[str] = []
        async with asyncio.timeout(10):
            async for ack in edges.messages:
                assert isinstance(ack.payload, bytes)
                acked.extend(EvidenceAck.model_validate_json(ack.payload).ids)
                if len(acked) == len(sent):
                    break
    return acked


def test_a_picture_within_the_edges_quota_is_admitted() -> None:
    verdict = admit_picture(
        held=99 * MIB, size=MIB, free_disk=ROOMY_DISK, kind=AlertKind.CAMERA_PERSON, quota=QUOTA
    )
    assert verdict is None


def test_a_picture_past_the_edges_quota_is_refused_with_its_figures() -> None:
    verdict = admit_picture(
        held=99 * MIB, size=MIB + 1, free_disk=ROOMY_DISK, kind=AlertKind.CAMERA_PERSON, quota=QUOTA
    )
    assert verdict is not None
    assert verdict.reason is QuotaReason.OVER_QUOTA
    assert str(99 * MIB) in verdict.detail
    assert str(100 * MIB) in verdict.detail


@pytest.mark.parametrize("kind", sorted(LIFE_SAFETY))
def test_a_life_safety_picture_may_use_the_reserve_and_no_more(kind: AlertKind) -> None:
    def verdict(held: int) -> QuotaReason | None:
        refusal = admit_picture(held=held, size=MIB, free_disk=ROOMY_DISK, kind=kind, quota=QUOTA)
        return None if refusal is None else refusal.reason

    assert verdict(100 * MIB) is None
    assert verdict(119 * MIB) is None
    assert verdict(119 * MIB + 1) is QuotaReason.OVER_QUOTA


def test_the_reserve_is_not_for_other_pictures() -> None:
    for kind in (AlertKind.CAMERA_MOTION, AlertKind.CAMERA_TAMPER, AlertKind.CAMERA_PERSON):
        refusal = admit_picture(
            held=100 * MIB, size=1, free_disk=ROOMY_DISK, kind=kind, quota=QUOTA
        )
        assert refusal is not None
        assert refusal.reason is QuotaReason.OVER_QUOTA


def test_no_picture_takes_the_disk_below_its_floor_not_even_a_fire() -> None:
    for kind in (AlertKind.CAMERA_FIRE, AlertKind.CAMERA_PERSON):
        refusal = admit_picture(held=0, size=MIB, free_disk=2 * MIB - 1, kind=kind, quota=QUOTA)
        assert refusal is not None
        assert refusal.reason is QuotaReason.DISK_LOW
        assert admit_picture(held=0, size=MIB, free_disk=2 * MIB, kind=kind, quota=QUOTA) is None


def test_a_zero_quota_refuses_every_picture_and_the_reserve_alone_takes_fires() -> None:
    none = PictureQuota(edge_bytes=0, life_safety_reserve_bytes=0, min_free_disk_bytes=0)
    fires_only = PictureQuota(edge_bytes=0, life_safety_reserve_bytes=MIB, min_free_disk_bytes=0)
    fire, person = AlertKind.CAMERA_FIRE, AlertKind.CAMERA_PERSON
    assert admit_picture(held=0, size=1, free_disk=MIB, kind=fire, quota=none) is not None
    assert admit_picture(held=0, size=1, free_disk=MIB, kind=fire, quota=fires_only) is None
    assert admit_picture(held=0, size=1, free_disk=MIB, kind=person, quota=fires_only) is not None


def picture(edge: str, jpeg: bytes, kind: AlertKind = AlertKind.CAMERA_PERSON) -> EvidenceImage:
    """Return an evidence message of ``edge`` with these bytes, of an alert of ``kind``."""
    return image(alert=alert_id(), jpeg=jpeg).model_copy(
        update={"edge_id": edge, "kind": kind, "device_id": f"{edge}-cam"}
    )


def jpeg(n: int) -> bytes:
    """Return distinct picture bytes, all of one size."""
    return JPEG + n.to_bytes(2)


SIZE = len(jpeg(0))


def test_an_edges_usage_sums_its_own_pictures_each_time_they_are_named(
    evidence: EvidenceStore,
) -> None:
    assert evidence.held_bytes("e1") == 0
    first = picture("e1", jpeg(1))
    evidence.store(first, jpeg(1), T0)
    # The same bytes named by another picture count again: each row is the edge's to keep.
    evidence.store(picture("e1", jpeg(1)), jpeg(1), T0)
    evidence.store(picture("e2", jpeg(2)), jpeg(2), T0)
    assert evidence.held_bytes("e1") == 2 * SIZE
    assert evidence.held_bytes("e2") == SIZE
    assert evidence.holds(first.id)
    assert not evidence.holds(alert_id())
    assert evidence.usage() == {"e1": 2 * SIZE, "e2": SIZE}
    assert evidence.free_disk_bytes() > 0


def data(message: EvidenceImage) -> bytes:
    """Return the JPEG inside an evidence message."""
    return base64.b64decode(message.data)


async def test_an_edge_over_its_quota_is_refused_while_another_edges_picture_is_taken(
    mosquitto: MosquittoProcess, tmp_path: Path, database_url: str
) -> None:
    settings = hub_on(
        mosquitto,
        tmp_path,
        database_url=database_url,
        evidence_edge_quota_bytes=2 * SIZE,
        evidence_life_safety_reserve_bytes=SIZE,
        evidence_min_free_disk_bytes=0,
    )
    app = create_app(settings.model_copy(update={"start_ingest": False}))
    async with app.router.lifespan_context(app):
        evidence: EvidenceStore = app.state.evidence_store
        # Held before this reader started (another run of the hub): e1's quota is full.
        held = [picture("e1", jpeg(1)), picture("e1", jpeg(2))]
        for message in held:
            await asyncio.to_thread(evidence.store, message, data(message), T0)
        over = picture("e1", jpeg(3))
        other_edge = picture("e2", jpeg(4))
        fire = picture("e1", jpeg(5), AlertKind.CAMERA_FIRE)
        second_fire = picture("e1", jpeg(6), AlertKind.CAMERA_FIRE)
        sent = [(held[0], "e1"), (over, "e1"), (other_edge, "e2"), (fire, "e1")]
        sent.append((second_fire, "e1"))
        reader = EvidenceIngest(settings, evidence)
        acked = await acked_by_the_hub(reader, mosquitto.port, sent)
        # Every picture is acknowledged: a refused one would be refused again, forever.
        assert acked == [message.id for message, _ in sent]
        assert reader.counters["evidence_duplicate"] == 1, "a re-sent picture takes no room"
        assert reader.counters["evidence_rejected.over_quota"] == 2
        assert reader.counters["evidence_new"] == 2
        for taken in (other_edge, fire):
            _view, path = await asyncio.to_thread(evidence.get, taken.id)
            assert path.read_bytes() == data(taken)
        for refused in (over, second_fire):
            with pytest.raises(NotFoundError):
                await asyncio.to_thread(evidence.get, refused.id)
            assert not evidence.path_of(refused.sha256).exists(), "nothing written to disk"
        assert await asyncio.to_thread(evidence.usage) == {"e1": 3 * SIZE, "e2": SIZE}


async def test_a_disk_below_its_floor_takes_no_picture(
    mosquitto: MosquittoProcess, tmp_path: Path, database_url: str
) -> None:
    settings = hub_on(
        mosquitto,
        tmp_path,
        database_url=database_url,
        evidence_min_free_disk_bytes=2**62,
    )
    app = create_app(settings.model_copy(update={"start_ingest": False}))
    async with app.router.lifespan_context(app):
        evidence: EvidenceStore = app.state.evidence_store
        fire = picture("e1", jpeg(7), AlertKind.CAMERA_FIRE)
        reader = EvidenceIngest(settings, evidence)
        async with (
            running(reader),
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="disk-edge") as edge,
        ):
            await edge.subscribe(edge_topic("e1", EdgeChannel.EVIDENCE_ACK), qos=1)
            await edge.publish(
                edge_topic("e1", EdgeChannel.EVIDENCE), fire.model_dump_json(), qos=1
            )
            async with asyncio.timeout(10):
                ack = await anext(aiter(edge.messages))
        assert isinstance(ack.payload, bytes)
        assert EvidenceAck.model_validate_json(ack.payload).ids == [fire.id]
        assert reader.counters["evidence_rejected.disk_low"] == 1
        assert await asyncio.to_thread(evidence.usage) == {}
        assert not evidence.path_of(fire.sha256).exists()


async def test_other_bytes_under_a_stored_pictures_id_take_no_room(
    mosquitto: MosquittoProcess, tmp_path: Path, database_url: str
) -> None:
    """A stolen edge re-sends its one stored picture's id with new bytes each time. Before,
    each was a "duplicate" (no quota check for a held id) whose file and blob row were written
    anyway and named by no picture: never counted, never pruned, the disk filled. Now each is
    refused (``id_reused``), acknowledged, and nothing is written; a true re-send is still a
    duplicate, and another edge's picture under that id is refused too."""
    settings = hub_on(
        mosquitto,
        tmp_path,
        database_url=database_url,
        evidence_edge_quota_bytes=SIZE,
        evidence_life_safety_reserve_bytes=0,
        evidence_min_free_disk_bytes=0,
    )
    app = create_app(settings.model_copy(update={"start_ingest": False}))
    async with app.router.lifespan_context(app):
        evidence: EvidenceStore = app.state.evidence_store
        first = picture("e1", jpeg(1))
        reused = [
            first.model_copy(update={"sha256": other.sha256, "data": other.data})
            for other in (picture("e1", jpeg(n)) for n in (2, 3, 4))
        ]
        foreign = first.model_copy(update={"edge_id": "e2", "device_id": "e2-cam"})
        sent = [(first, "e1"), *[(m, "e1") for m in reused], (first, "e1"), (foreign, "e2")]
        reader = EvidenceIngest(settings, evidence)
        acked = await acked_by_the_hub(reader, mosquitto.port, sent)
        assert acked == [first.id] * len(sent)
        assert reader.counters["evidence_new"] == 1
        assert reader.counters["evidence_duplicate"] == 1
        assert reader.counters["evidence_rejected.id_reused"] == 4
        for message in reused:
            assert not evidence.path_of(message.sha256).exists(), "nothing written to disk"
        assert len(list(evidence.folder.rglob("*.jpg"))) == 1
        view, path = await asyncio.to_thread(evidence.get, first.id)
        assert (view.edge_id, path.read_bytes()) == ("e1", jpeg(1))
