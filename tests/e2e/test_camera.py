"""A camera fed from a video file, end to end in real processes: flames in the video become a
``camera_fire`` alert, a case at the hub, and the case's evidence pictures over HTTP."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from devices.kinds import DeviceKind
from devices.registry import Device
from linli.brokers import MosquittoProcess
from simulators.clips import CLIP_SIZE, corridor, draw_flames
from tests.conftest import missing
from tests.e2e.stack import Stack
from tests.polling import wait_until

CAMERA = Device(id="b3-corridor-cam", kind=DeviceKind.CAMERA, location="Building 3/Floor 12")


def write_fire_video(path: Path, seconds: float = 8.0, fps: float = 10.0) -> Path:
    """Write a corridor (textured, still) where flames start flickering after two seconds."""
    rng = np.random.default_rng(11)
    base = corridor(rng)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, CLIP_SIZE)
    for i in range(int(seconds * fps)):
        frame = base.copy()
        if i >= 2 * fps:
            draw_flames(frame, rng, height_px=40)
        writer.write(frame)
    writer.release()
    return path


def camera_stack(root: Path, video: Path, *, separate_hub_broker: bool = False) -> Stack:
    """Return a stack (SQLite) whose site has one camera reading ``video``."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    stack = Stack(
        root, [CAMERA], f"sqlite:///{root / 'hub.sqlite3'}", separate_hub_broker=separate_hub_broker
    )
    with (root / "site.toml").open("a") as site:
        site.write(
            f'\n[[cameras]]\ndevice = "{CAMERA.id}"\nsource = "{video}"\n'
            "smoke = false\ntamper = false\n"
        )
    return stack


@pytest.fixture
def fire_stack(tmp_path: Path) -> Iterator[Stack]:
    """A running stack whose camera watches flames start."""
    with camera_stack(tmp_path, write_fire_video(tmp_path / "corridor.avi")).started() as stack:
        yield stack


def case_pictures(stack: Stack, case_id: int) -> list[dict[str, Any]] | None:
    """Return a case's pictures once both of its alert's pictures are there."""
    pictures = stack.get(f"/cases/{case_id}/evidence")
    return pictures if len(pictures) >= 2 else None


def assert_fire_case_with_pictures(stack: Stack) -> None:
    """Wait for the camera_fire alert, its case and both pictures; check them."""
    alerts = wait_until(
        lambda: stack.get("/alerts", kind="camera_fire"), timeout=30, what="a camera_fire alert"
    )
    alert = alerts[0]
    assert alert["device_id"] == CAMERA.id
    assert alert["state"] == "raised"
    assert alert["case_id"] is not None
    pictures = wait_until(
        lambda: case_pictures(stack, alert["case_id"]), timeout=30, what="the case's pictures"
    )
    assert sorted(p["variant"] for p in pictures) == ["annotated", "clean"]
    assert {p["alert_id"] for p in pictures} == {alert["id"]}
    for picture in pictures:
        response = stack.api.get(picture["url"].removeprefix("/api/v1"))
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        decoded = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None
        assert decoded.shape[1] == 640
    # Flames burning on: one alert, not one per frame; the edge's spool is empty once acked.
    assert len(stack.get("/alerts", kind="camera_fire")) == 1
    wait_until(
        lambda: not list((stack.root / "edge" / "evidence").glob("*.json")),
        timeout=15,
        what="the edge's evidence spool to empty",
    )


def test_flames_on_camera_become_a_case_with_its_pictures(fire_stack: Stack) -> None:
    assert_fire_case_with_pictures(fire_stack)


def test_pictures_taken_while_the_uplink_is_cut_arrive_when_it_is_back(tmp_path: Path) -> None:
    video = tmp_path / "corridor.avi"  # not there yet: the camera keeps trying to open it
    stack = camera_stack(tmp_path, video, separate_hub_broker=True)
    try:
        stack.start()
        stack.hub_broker.stop()
        write_fire_video(tmp_path / "recording.avi").rename(video)
        spool = stack.root / "edge" / "evidence"
        wait_until(
            lambda: len(list(spool.glob("*.json"))) == 2,
            timeout=30,
            what="both pictures spooled on the edge's disk while the uplink is down",
        )
        stack.hub_broker.start()
        stack.wait_for_hub()
        assert_fire_case_with_pictures(stack)
    finally:
        stack.close()
