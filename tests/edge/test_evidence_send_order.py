"""The order an edge sends its spooled pictures in, against a real Mosquitto: a fire's first."""

import asyncio
from pathlib import Path

import aiomqtt
import numpy as np

from devices.camera import CameraConfig, EvidenceImage
from devices.kinds import AlertKind
from devices.topics import EdgeChannel, edge_topic
from edge.camera.evidence import Snapshot, evidence_images
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.edge.test_camera_service import EDGE, TS, Counts, camera_service

CAMERA = CameraConfig(device="cam-1", source="x.avi")


def pictures(kind: AlertKind, alert_id: str) -> list[EvidenceImage]:
    """Return the two pictures of one alert of ``kind`` (small frames: a fast test)."""
    frame = np.full((48, 64, 3), 120, np.uint8)
    return evidence_images(Snapshot(EDGE, "cam-1", alert_id, kind, TS, None, None, frame), CAMERA)


async def test_after_a_cut_uplink_the_fire_pictures_reach_the_hub_first(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Hours of motion pictures wait in the spool when a fire's are taken; the uplink comes
    back: the hub's first pictures are the fire's (before: the oldest, the motion ones)."""
    service = camera_service(mosquitto.port, tmp_path, Counts(), resend_after_s=60)
    motion = [i for n in range(6) for i in pictures(AlertKind.CAMERA_MOTION, f"{n}" * 16)]
    fire = pictures(AlertKind.CAMERA_FIRE, "f" * 16)
    for image in motion + fire:
        service.spool.put(image)

    received: list[EvidenceImage] = []
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fake-hub") as hub:
        await hub.subscribe(edge_topic(EDGE, EdgeChannel.EVIDENCE), qos=1)
        async with running(service.run()), asyncio.timeout(15):
            async for message in hub.messages:  # never acknowledged: the first window only
                assert isinstance(message.payload, bytes)
                received.append(EvidenceImage.model_validate_json(message.payload))
                if len(received) == 2:
                    break
    assert [i.id for i in received] == [i.id for i in fire]
