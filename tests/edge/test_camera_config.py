"""Cameras in the site file, the evidence topics, and the agent refusing a bad camera config."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.camera import (
    CameraCommand,
    CameraCommandKind,
    CameraConfig,
    EvidenceAck,
    Schedule,
    check_cameras,
)
from devices.errors import TopicError
from devices.site import SiteFile
from devices.topics import (
    EdgeChannel,
    EdgeTopic,
    edge_topic,
    evidence_subscriptions,
    parse_edge_topic,
)
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings

SITE = """
[site]
name = "Courtyard"
edge_id = "edge-1"

[[devices]]
id = "b3-exit-cam"
kind = "camera"
location = "Building 3/Stairwell"

[[devices]]
id = "b3-smoke"
kind = "smoke"
location = "Building 3/Stairwell"

[[cameras]]
device = "b3-exit-cam"
source = "rtsp://10.0.3.12:554/stream1"
detect_fps = 4

[[cameras.zones]]
name = "fire-exit"
polygon = [[0.6, 0.4], [0.95, 0.4], [0.95, 1.0], [0.6, 1.0]]
rules = ["obstruction"]

[[cameras.zones]]
name = "roof"
polygon = [[0, 0], [1, 0], [1, 0.3], [0, 0.3]]
rules = ["motion", "person"]
schedule = { start = "22:00", end = "06:00", timezone = "Asia/Shanghai" }

[[cameras.masks]]
polygon = [[0, 0.9], [1, 0.9], [1, 1], [0, 1]]
"""


def test_a_site_file_with_cameras_parses(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    site = SiteFile.load(path)
    (camera,) = site.cameras
    assert camera.detect_fps == 4
    assert camera.width == 640
    assert [z.name for z in camera.zones] == ["fire-exit", "roof"]
    roof = camera.zones[1].schedule
    assert roof is not None
    assert roof.start.hour == 22
    check_cameras(site.cameras, {"b3-exit-cam"})


def test_a_schedule_spanning_midnight() -> None:
    from datetime import UTC, datetime

    night = Schedule.model_validate({"start": "22:00", "end": "06:00", "timezone": "UTC"})
    assert night.active(datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
    assert night.active(datetime(2026, 1, 1, 5, 59, tzinfo=UTC))
    assert not night.active(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


TRIANGLE = [[0, 0], [1, 0], [1, 1]]
MARS = {"start": "22:00", "end": "06:00", "timezone": "Mars/Olympus"}


def zone(**changes: object) -> dict[str, list[dict[str, object]]]:
    """Return settings with one zone, changed as given."""
    return {"zones": [{"name": "z", "polygon": TRIANGLE, "rules": ["motion"], **changes}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (zone(polygon=[[0, 0], [1, 1]]), "at least 3"),
        (zone(polygon=[[0, 0], [2, 0], [1, 1]]), "less than or equal to 1"),
        (zone(rules=["dance"]), "motion"),
        (zone(name="has space"), "zone name"),
        (zone(schedule=MARS), "unknown time zone"),
        ({"detect_fps": 0}, "greater than 0"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_camera_settings_are_refused_with_a_clear_error(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CameraConfig.model_validate({"device": "cam", "source": "x.avi", **change})


def test_a_camera_must_name_a_camera_device(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a device of kind 'camera'"):
        check_cameras([CameraConfig(device="b3-smoke", source="x.avi")], {"b3-exit-cam"})
    path = tmp_path / "site.toml"
    path.write_text(SITE.replace('device = "b3-exit-cam"', 'device = "b3-smoke"'))
    with pytest.raises(ValueError, match="b3-smoke"):
        EdgeAgent(EdgeSettings(site_file=path, data_dir=tmp_path / "edge"))


def test_the_evidence_channels_round_trip() -> None:
    for channel in (EdgeChannel.EVIDENCE, EdgeChannel.EVIDENCE_ACK):
        topic = edge_topic("edge-1", channel)
        assert topic == f"linli/edge/edge-1/{channel}"
        assert parse_edge_topic(topic) == EdgeTopic("edge-1", channel)
    assert evidence_subscriptions() == ["linli/edge/+/evidence"]
    with pytest.raises(TopicError):
        parse_edge_topic("linli/edge/edge-1/evidence/extra")


def test_an_evidence_ack_ignores_fields_it_does_not_know() -> None:
    ack = EvidenceAck.model_validate_json('{"v": 2, "ids": ["abcdef0123456789"], "new": 1}')
    assert ack.ids == ["abcdef0123456789"]


def test_a_rebaseline_command_round_trips_and_ignores_unknown_keys() -> None:
    raw = (
        '{"v": 1, "id": "cmd-0001", "device_id": "b3-stair-cam", "command": "rebaseline",'
        ' "requested_by": "operator-7", "later_field": 1}'
    )
    command = CameraCommand.model_validate_json(raw)
    assert command.command is CameraCommandKind.REBASELINE
    assert CameraCommand.model_validate_json(command.model_dump_json()) == command
