"""Cameras in the site file (zones, masks, schedules, analytics) and the evidence wire messages.

Site file example (``[[cameras]]`` next to ``[[devices]]``; ``device`` names a device of kind
``camera``)::

    [[cameras]]
    device = "b3-f12-corridor-cam"
    source = "rtsp://10.0.3.12:554/stream1"     # or http://..., a file path, or "usb:0"
    detect_fps = 5
    fire = true
    smoke = true

    [[cameras.zones]]
    name = "fire-exit"
    polygon = [[0.6, 0.4], [0.95, 0.4], [0.95, 1.0], [0.6, 1.0]]   # fractions of width, height
    rules = ["obstruction"]

    [[cameras.zones]]
    name = "roof"
    polygon = [[0, 0], [1, 0], [1, 0.3], [0, 0.3]]
    rules = ["motion", "person"]
    schedule = { start = "22:00", end = "06:00", timezone = "Asia/Shanghai" }

    [[cameras.masks]]                # never analysed (a busy street, a flag in the wind)
    polygon = [[0, 0.9], [1, 0.9], [1, 1], [0, 1]]

Polygons are in fractions of the frame (0..1), so a zone survives a change of resolution.
"""

import re
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from devices.kinds import AlertKind
from devices.messages import AlertId, WireModel
from devices.registry import Identifier
from devices.timezone import TimeZoneName

Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
"""A polygon vertex as fractions of the frame's width and height."""

EVIDENCE_MAX_MESSAGE_BYTES = 1024 * 1024
"""Mosquitto's and the hub's limit for one evidence message (JSON, base64 image inside)."""
EVIDENCE_MAX_IMAGE_BYTES = 700 * 1024
"""Largest JPEG per message: base64 adds a third, which must still fit the message limit."""

_SOURCE_USB = re.compile(r"usb:(\d{1,2})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ZoneRule(StrEnum):
    """What a zone watches for."""

    MOTION = "motion"
    PERSON = "person"
    LOITERING = "loitering"
    OBSTRUCTION = "obstruction"


class Schedule(BaseModel):
    """Local hours during which a zone's rules apply; ``start`` > ``end`` spans midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time
    timezone: TimeZoneName = "Asia/Shanghai"

    def active(self, at: datetime) -> bool:
        """Return whether the schedule covers the aware moment ``at``."""
        local = at.astimezone(ZoneInfo(self.timezone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Zone(BaseModel):
    """A named polygon of the frame and the rules watched inside it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    polygon: list[Point] = Field(min_length=3)
    rules: list[ZoneRule] = Field(min_length=1)
    schedule: Schedule | None = None
    """None: always active."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"zone name {value!r}: 1-64 letters, digits, '.', '_', '-'")
        return value


class Mask(BaseModel):
    """A polygon of the frame that is never analysed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    polygon: list[Point] = Field(min_length=3)


class CameraConfig(BaseModel):
    """One camera's source and analytics, keyed by the camera device's id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: Identifier
    source: str = Field(min_length=1)
    """``rtsp://``/``http(s)://`` URL, a video file path, or ``usb:<index>``."""
    detect_fps: float = Field(default=5.0, gt=0, le=30)
    """Frames analysed per second, chosen by the frames' own timestamps."""
    width: int = Field(default=640, ge=160, le=1920)
    """Frames are resized to this width before analysis (height keeps the aspect)."""
    zones: list[Zone] = []
    masks: list[Mask] = []
    fire: bool = True
    smoke: bool = True
    tamper: bool = True
    person_whole_frame: bool = False
    """Watch for people anywhere in the frame, not only in zones with the ``person`` rule."""
    loiter_s: float = Field(default=60.0, gt=0)
    """A person present in a loitering zone this long is loitering."""
    obstruction_s: float = Field(default=180.0, gt=0)
    """Something standing still in an obstruction zone this long obstructs it."""
    moved_rebaseline_s: float = Field(default=120.0, gt=0)
    """A moved camera's new view becomes its reference once it has held still this long (the
    ``camera_tamper`` alert then clears); an operator may re-baseline at once."""
    no_frames_s: float = Field(default=30.0, gt=0)
    """No frame for this long is ``camera_tamper`` (cable cut, camera off)."""
    cooldown_s: float = Field(default=120.0, ge=0)
    """After a clear, the same alert is not raised again for this long."""
    clear_after_s: float = Field(default=10.0, gt=0)
    """A cue absent this long clears its alert."""
    loop: bool = False
    """Replay a file source forever (demos, benchmarks)."""
    pace: bool = False
    """Replay a file source at its own frame rate, as a camera delivers frames, instead of as
    fast as it decodes (demos, benchmarks)."""

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value.startswith("usb:") and not _SOURCE_USB.fullmatch(value):
            raise ValueError(f"source {value!r}: a USB camera is 'usb:<index>'")
        return value

    @model_validator(mode="after")
    def _unique_zones(self) -> Self:
        names = [z.name for z in self.zones]
        if len(names) != len(set(names)):
            raise ValueError(f"camera {self.device}: zone names must be unique")
        return self

    def usb_index(self) -> int | None:
        """Return the USB device index for a ``usb:<n>`` source, else None."""
        match = _SOURCE_USB.fullmatch(self.source)
        return int(match.group(1)) if match else None


def check_cameras(cameras: list[CameraConfig], camera_device_ids: set[str]) -> None:
    """Raise ValueError unless every camera names a distinct camera device of the site."""
    seen: set[str] = set()
    for camera in cameras:
        if camera.device not in camera_device_ids:
            raise ValueError(
                f"camera {camera.device!r} is not a device of kind 'camera' in the site file"
            )
        if camera.device in seen:
            raise ValueError(f"camera {camera.device!r} is configured twice")
        seen.add(camera.device)


# --- evidence on the wire (edge → hub, ``linli/edge/<edge_id>/evidence``) ---------------------


class EvidenceVariant(StrEnum):
    """The two pictures of an alert: the frame as seen, and with the zone and detection drawn."""

    CLEAN = "clean"
    ANNOTATED = "annotated"


Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class EvidenceImage(WireModel):
    """One JPEG snapshot of one alert, base64 in JSON; re-sent until an ``EvidenceAck``."""

    id: AlertId
    """The evidence's own id: every copy of it is recognised as the same picture."""
    edge_id: Identifier
    device_id: Identifier
    alert_id: AlertId
    kind: AlertKind
    variant: EvidenceVariant
    ts: AwareDatetime
    """The frame's time."""
    sha256: Sha256Hex
    """Of the decoded JPEG bytes; the hub refuses a picture that does not match."""
    content_type: str = "image/jpeg"
    data: str = Field(max_length=EVIDENCE_MAX_MESSAGE_BYTES)
    """Base64 (standard alphabet) of the JPEG."""


class EvidenceAck(WireModel):
    """The hub has stored these evidence images: the edge may delete them from its spool."""

    ids: list[AlertId]


# --- camera commands (hub → edge; proposed topic ``linli/edge/<edge_id>/camera_command``) -----


class CameraCommandKind(StrEnum):
    """What the hub asks of one camera's analytics."""

    REBASELINE = "rebaseline"
    """An operator re-aimed the camera on purpose: take its current view as the reference
    (``camera_tamper``/``camera_moved`` then clears by the usual rule)."""


class CameraCommand(WireModel):
    """A command for one camera of an edge, sent by the hub at an operator's request."""

    id: AlertId
    """The command's own id (a replayed copy is recognised)."""
    device_id: Identifier
    command: CameraCommandKind
    requested_by: str | None = None
    """Who asked (for the trail); not acted upon by the edge."""
