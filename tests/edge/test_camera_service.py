"""The edge's evidence upload against a real Mosquitto, a plain client playing the hub."""

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import cv2
import numpy as np

from devices.camera import (
    CameraCommand,
    CameraCommandKind,
    CameraConfig,
    EvidenceAck,
    EvidenceImage,
)
from devices.kinds import AlertKind, DeviceKind
from devices.messages import Alert
from devices.mqtt_link import MqttEndpoint
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from edge.camera.analytics import Box
from edge.camera.evidence import SPOOL_MAX_FILES, Snapshot, evidence_images
from edge.camera.service import CameraService, CameraWorker, Commit
from edge.detection import AlertDecision
from linli.brokers import MosquittoProcess
from tests.background import running

EDGE = "edge-cam"
TS = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


class NoDelay:
    """A backoff that waits a tenth of a second."""

    def next_delay(self) -> float:
        """Return a short delay."""
        return 0.1

    def reset(self) -> None:
        """Nothing to forget."""


class Counts(dict[str, int]):
    """The counters a service under test bumps, by name: pass it as the service's ``count``."""

    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


async def never_commit(_device: Device, _decisions: list[AlertDecision]) -> list[Alert]:
    """Fail: no camera runs in these tests, so nothing is committed."""
    raise AssertionError("no alerts expected")


async def never_seen(_device: Device) -> None:
    """Fail: no camera runs in these tests."""
    raise AssertionError("no camera expected")


def camera_service(
    port: int,
    data_dir: Path,
    count: Callable[[str, int], None],
    *,
    cameras: Sequence[CameraConfig] = (),
    devices: dict[str, Device] | None = None,
    commit: Commit = never_commit,
    resend_after_s: float,
    spool_max_files: int = SPOOL_MAX_FILES,
    cv_threads: int = 1,
) -> CameraService:
    """Return a camera service whose evidence goes to the broker on ``port``."""
    return CameraService(
        list(cameras),
        devices or {},
        edge_id=EDGE,
        data_dir=data_dir,
        hub=MqttEndpoint("127.0.0.1", port, client_id=f"linli-edge-{EDGE}-evidence"),
        resend_after_s=resend_after_s,
        commit=commit,
        seen=never_seen,
        count=count,
        clock=lambda: TS,
        backoff=NoDelay,
        spool_max_files=spool_max_files,
        cv_threads=cv_threads,
    )


async def test_spooled_pictures_are_resent_until_acked_and_a_bad_ack_changes_nothing(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    counters = Counts()

    service = camera_service(mosquitto.port, tmp_path, counters, resend_after_s=0.5)
    frame = np.full((48, 64, 3), 120, np.uint8)
    snapshot = Snapshot(
        EDGE, "cam-1", "a" * 32, AlertKind.CAMERA_FIRE, TS, None, Box(1, 1, 9, 9), frame
    )
    camera = CameraConfig(device="cam-1", source="x.avi")
    images = evidence_images(snapshot, camera)
    for image in images:
        service.spool.put(image)

    received: list[str] = []
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fake-hub") as hub:
        await hub.subscribe(edge_topic(EDGE, EdgeChannel.EVIDENCE), qos=1)
        ack_topic = edge_topic(EDGE, EdgeChannel.EVIDENCE_ACK)
        async with running(service.run()):
            async with asyncio.timeout(15):
                async for message in hub.messages:
                    assert isinstance(message.payload, bytes)
                    received.append(EvidenceImage.model_validate_json(message.payload).id)
                    if len(received) == 2:
                        # Garbage first: the edge counts it, keeps its pictures, goes on.
                        await hub.publish(ack_topic, b"{not an ack", qos=1)
                    if len(received) == 4:  # both sent again: nothing was acknowledged
                        ids = [i.id for i in images]
                        await hub.publish(ack_topic, EvidenceAck(ids=ids).model_dump_json(), qos=1)
                        break
                for _ in range(200):  # the acks are applied in a worker thread
                    if not service.spool.depth():
                        break
                    await asyncio.sleep(0.05)
    assert service.spool.depth() == 0
    assert received == [i.id for i in images] * 2
    assert counters["camera.evidence_ack_rejected"] == 1
    assert counters["camera.evidence_acked"] == 2


def write_motion_video(path: Path) -> Path:
    """Write a 2 s MJPG video: a textured scene with a block moving across it."""
    rng = np.random.default_rng(5)
    base = cv2.resize(
        rng.integers(60, 190, size=(30, 40, 3), dtype=np.uint8),
        (320, 240),
        interpolation=cv2.INTER_CUBIC,
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (320, 240))
    assert writer.isOpened()
    for i in range(50):
        image = base.copy()
        if i >= 10:
            x = 20 + i * 5
            cv2.rectangle(image, (x, 80), (x + 40, 160), (0, 0, 255), -1)
        writer.write(image)
    writer.release()
    return path


async def test_a_full_spool_drops_and_counts_the_least_urgent_pictures(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    counters = Counts()
    two_dropped = asyncio.Event()

    def count(name: str, n: int = 1) -> None:
        counters(name, n)
        if counters.get("camera.evidence_dropped", 0) >= 2:
            two_dropped.set()

    async def commit(device: Device, decisions: list[AlertDecision]) -> list[Alert]:
        return [d.alert(uuid.uuid4().hex, EDGE, device, TS) for d in decisions]

    camera = CameraConfig.model_validate(
        {
            "device": "cam-1",
            "source": str(write_motion_video(tmp_path / "motion.avi")),
            "fire": False,
            "smoke": False,
            "tamper": False,
            "zones": [{"name": "all", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": ["motion"]}],
        }
    )
    device = Device(id="cam-1", kind=DeviceKind.CAMERA, location="Test/Cam")
    service = camera_service(
        mosquitto.port,
        tmp_path,
        count,
        cameras=[camera],
        devices={"cam-1": device},
        commit=commit,
        resend_after_s=60,
        spool_max_files=2,
    )
    frame = np.full((48, 64, 3), 120, np.uint8)
    fire = Snapshot(EDGE, "cam-1", "a" * 32, AlertKind.CAMERA_FIRE, TS, None, None, frame)
    fire_images = evidence_images(fire, CameraConfig(device="cam-1", source="x.avi"))
    for image in fire_images:
        service.spool.put(image)
    async with running(service.run()):
        async with asyncio.timeout(15):
            await two_dropped.wait()
    assert counters["camera.evidence_spooled"] == 2
    assert counters["camera.evidence_dropped.camera_motion"] == 2
    assert counters["camera.evidence_dropped"] == 2
    assert [i.id for i in service.spool.pending(10)] == [i.id for i in fire_images]


def ignore(_name: str, _n: int = 1) -> None:
    """Count nothing."""


async def test_a_cap_lowered_since_the_last_run_applies_at_start_and_opencv_gets_one_thread(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    frame = np.full((48, 64, 3), 120, np.uint8)
    camera = CameraConfig(device="cam-1", source="x.avi")
    person = Snapshot(EDGE, "cam-1", "p" * 32, AlertKind.CAMERA_PERSON, TS, None, None, frame)
    fire = Snapshot(EDGE, "cam-1", "f" * 32, AlertKind.CAMERA_FIRE, TS, None, None, frame)
    earlier = camera_service(mosquitto.port, tmp_path, ignore, resend_after_s=60)
    fire_images = evidence_images(fire, camera)
    for image in evidence_images(person, camera) + fire_images:
        earlier.spool.put(image)
    counters = Counts()
    dropped = asyncio.Event()

    def count(name: str, n: int = 1) -> None:
        counters(name, n)
        if name == "camera.evidence_dropped":
            dropped.set()

    service = camera_service(
        mosquitto.port, tmp_path, count, resend_after_s=60, spool_max_files=2, cv_threads=1
    )
    cv2.setNumThreads(3)
    try:
        async with running(service.run()):
            async with asyncio.timeout(10):
                await dropped.wait()
            await asyncio.sleep(0)  # the workers (none here) start right after the cap
            threads = cv2.getNumThreads()
    finally:
        cv2.setNumThreads(-1)  # OpenCV's default again, for the tests that follow
    assert threads == 1, "OpenCV's pool is set for the camera workers"
    assert counters["camera.evidence_dropped.camera_person"] == 2
    assert [i.id for i in service.spool.pending(10)] == [i.id for i in fire_images]


def command(device_id: str, command_id: str = "c" * 32) -> bytes:
    """Return a re-baseline command as the hub sends it."""
    return (
        CameraCommand(
            id=command_id,
            device_id=device_id,
            command=CameraCommandKind.REBASELINE,
            requested_by="operator",
        )
        .model_dump_json()
        .encode()
    )


def test_a_rebaseline_command_reaches_its_camera_once(tmp_path: Path) -> None:
    counters = Counts()

    camera = CameraConfig(device="cam-1", source="x.avi")
    service = camera_service(1, tmp_path, counters, cameras=[camera], resend_after_s=1)
    worker = CameraWorker(camera, lambda _c, _a: None, lambda: TS, NoDelay(), threading.Event())
    service.workers = [worker]
    assert not service.on_command(b'{"id": "x"}', "t")  # not a command: counted, nothing done
    assert not service.on_command(command("cam-9"), "t")  # not a camera of this edge
    assert not worker.rebaseline_pending
    assert service.on_command(command("cam-1"), "t")
    assert worker.rebaseline_pending
    assert not service.on_command(command("cam-1"), "t")  # a redelivered copy: once is enough
    assert counters == {
        "camera.camera_command_rejected.invalid": 1,
        "camera.camera_command_rejected.unknown_camera": 1,
        "camera.camera_command.rebaseline": 1,
        "camera.camera_command_repeated": 1,
    }


async def test_the_edge_hears_camera_commands_on_its_evidence_session(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    counters = Counts()

    service = camera_service(mosquitto.port, tmp_path, counters, resend_after_s=1)
    async with (
        running(service.run()),
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fake-hub") as hub,
    ):
        async with asyncio.timeout(15):
            # Published until the edge's session is subscribed and has counted one.
            while "camera.camera_command_rejected.unknown_camera" not in counters:
                topic = edge_topic(EDGE, EdgeChannel.CAMERA_COMMAND)
                await hub.publish(topic, command("cam-9", uuid.uuid4().hex), qos=1)
                await asyncio.sleep(0.1)
