"""Evidence of a camera alert: two JPEGs (clean, annotated) and the disk spool that keeps them.

The spool is a folder of ``EvidenceImage`` JSON files, one per picture, written atomically
(temporary file, fsync, rename; one a killed process left half-written is deleted at start).
A picture stays there until the hub's ``EvidenceAck`` names
it, so a cut uplink or a restart loses nothing; pictures of life-safety kinds (fire, smoke) are
sent first, then by severity, oldest first within each (``sending_order``). The spool is capped
in bytes and pictures (``SpoolLimits``): past the cap the pictures of the least urgent kinds
go first, oldest first (motion and people, then tamper, loitering and obstruction), and those
of life-safety kinds (fire, smoke) only when nothing else is left.
"""

import base64
import hashlib
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
from pydantic import ValidationError

from devices.camera import (
    EVIDENCE_MAX_IMAGE_BYTES,
    CameraConfig,
    EvidenceImage,
    EvidenceVariant,
)
from devices.durable import write_durably
from devices.kinds import LIFE_SAFETY, AlertKind, Severity
from edge.camera.analytics import Box, Frame, polygon_mask
from edge.camera.rules import SEVERITIES

logger = logging.getLogger(__name__)

SPOOL_DIR = "evidence"
_QUALITIES = (85, 70, 55, 40, 25)


class EvidenceError(Exception):
    """A snapshot could not be encoded or the spool could not be written."""


def encode_jpeg(frame: Frame, max_bytes: int = EVIDENCE_MAX_IMAGE_BYTES) -> bytes:
    """Return ``frame`` as a JPEG of at most ``max_bytes``: lower quality, then resolution."""
    picture = frame
    for _ in range(4):
        for quality in _QUALITIES:
            ok, buffer = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(buffer) <= max_bytes:
                return bytes(buffer.tobytes())
        picture = cv2.resize(picture, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    raise EvidenceError(f"a {frame.shape[1]}x{frame.shape[0]} frame does not fit {max_bytes} B")


def annotate(
    frame: Frame, camera: CameraConfig, zone: str | None, box: Box | None, label: str
) -> Frame:
    """Return a copy of ``frame`` with the alert's zone outline, detection box and label."""
    out: Frame = frame.copy()
    height, width = out.shape[:2]
    for z in camera.zones:
        if z.name != zone:
            continue
        mask = polygon_mask(z.polygon, width, height).astype("uint8")
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 255, 255), 2)
    if box is not None:
        cv2.rectangle(out, (box.x, box.y), (box.x + box.w, box.y + box.h), (0, 0, 255), 2)
    cv2.putText(out, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a raised camera alert needs for its evidence."""

    edge_id: str
    device_id: str
    alert_id: str
    kind: AlertKind
    ts: datetime
    zone: str | None
    box: Box | None
    frame: Frame


def evidence_images(snapshot: Snapshot, camera: CameraConfig) -> list[EvidenceImage]:
    """Return the clean and the annotated picture of an alert as wire messages."""
    label = f"{snapshot.kind} {snapshot.zone or ''} {snapshot.ts:%Y-%m-%d %H:%M:%S}Z".strip()
    pictures = {
        EvidenceVariant.CLEAN: snapshot.frame,
        EvidenceVariant.ANNOTATED: annotate(
            snapshot.frame, camera, snapshot.zone, snapshot.box, label
        ),
    }
    images: list[EvidenceImage] = []
    for variant, picture in pictures.items():
        jpeg = encode_jpeg(picture)
        images.append(
            EvidenceImage(
                id=uuid.uuid4().hex,
                edge_id=snapshot.edge_id,
                device_id=snapshot.device_id,
                alert_id=snapshot.alert_id,
                kind=snapshot.kind,
                variant=variant,
                ts=snapshot.ts,
                sha256=hashlib.sha256(jpeg).hexdigest(),
                data=base64.b64encode(jpeg).decode("ascii"),
            )
        )
    return images


SPOOL_MAX_BYTES = 256 * 1024 * 1024
"""Default cap of the spool on disk: a small share of a Pi's 16-32 GB SD card, and about
2,000 pictures at ~130 KB (a 640 px JPEG, base64 in JSON) -- hours of a cut uplink."""
SPOOL_MAX_FILES = 2000
"""Default cap of spooled pictures, whatever their size (a file system's inodes, a scan's time)."""


@dataclass(frozen=True, slots=True)
class SpoolLimits:
    """How much evidence an edge keeps waiting for the hub; beyond it the least urgent goes."""

    max_bytes: int = SPOOL_MAX_BYTES
    max_files: int = SPOOL_MAX_FILES


@dataclass(frozen=True, slots=True)
class SpooledPicture:
    """One picture in the spool as the cap sees it: its file name, alert kind and size."""

    name: str
    kind: AlertKind | None
    """None: a file spooled before kinds were written into names; treated as most urgent."""
    size: int


def drop_rank(kind: AlertKind | None) -> tuple[int, int]:
    """Return the order in which pictures of a kind are dropped: lower goes first."""
    if kind is None or kind in LIFE_SAFETY:
        # A fire or smoke picture is the evidence a responder needs most: the last to go.
        return (1, 0)
    return (0, -SEVERITIES.get(kind, Severity.LOW).rank)


def send_rank(kind: AlertKind | None) -> tuple[int, int]:
    """Return the order in which pictures of a kind are sent: lower goes first."""
    if kind is None or kind in LIFE_SAFETY:
        return (0, 0)
    return (1, SEVERITIES.get(kind, Severity.LOW).rank)


def sending_order(names: list[str]) -> list[str]:
    """Return spool file names in the order they are sent: most urgent kind, then oldest.

    After a cut uplink the spool holds hours of pictures; sent oldest first, a fire's picture
    taken now waited behind every motion picture of those hours (2,000 pictures of ~130 KB
    are ~35 minutes on a 1 Mbit/s uplink) while the operator handled the fire without it.
    """
    return sorted(names, key=lambda name: (send_rank(_kind_in_name(name)), name))


def pictures_to_drop(pictures: list[SpooledPicture], limits: SpoolLimits) -> list[SpooledPicture]:
    """Return the pictures to delete so the rest fit ``limits``: least urgent, then oldest first.

    ``pictures`` are oldest first (spool names sort by time of writing).
    """
    total = sum(p.size for p in pictures)
    count = len(pictures)
    if total <= limits.max_bytes and count <= limits.max_files:
        return []
    order = sorted(range(count), key=lambda i: (drop_rank(pictures[i].kind), i))
    dropped: list[SpooledPicture] = []
    for i in order:
        if total <= limits.max_bytes and count <= limits.max_files:
            break
        dropped.append(pictures[i])
        total -= pictures[i].size
        count -= 1
    return dropped


def stale_temporaries(names: list[str], pid: int | None) -> list[str]:
    """Return the names of half-written pictures left by another (killed) process.

    ``devices.durable.write_durably`` writes ``.<name>.<pid>.<thread>.tmp`` and renames it; a
    kill -9 or a power cut in between leaves it, named by no ``*.json``: never sent, counted
    by no cap, never deleted. One of process ``pid``'s own may be a write in progress: kept;
    ``None`` keeps none (the spool opening, before it writes anything: a container's agent is
    pid 1 at every start, so its killed predecessor's leftovers bear its own pid).
    """
    return [
        name
        for name in names
        if name.startswith(".")
        and name.endswith(".tmp")
        and len(name.split(".")) >= 5
        and (pid is None or name.split(".")[-3] != str(pid))
    ]


def _kind_in_name(name: str) -> AlertKind | None:
    # <time>-<seq>-<kind>-<id>.json; files of older edges have no kind: <time>-<seq>-<id>.json
    parts = name.removesuffix(".json").split("-")
    if len(parts) != 4:
        return None
    try:
        return AlertKind(parts[2])
    except ValueError:
        return None


class EvidenceSpool:
    """The folder of evidence waiting for the hub's acknowledgement, capped by ``limits``.

    ``put`` may run in one thread while ``pending`` and ``acknowledge`` run in another: every
    deletion tolerates a file already gone.
    """

    def __init__(self, folder: Path, limits: SpoolLimits | None = None) -> None:
        self.folder = folder
        self.limits = limits or SpoolLimits()
        folder.mkdir(parents=True, exist_ok=True)
        self._seq = 0
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        names = [path.name for path in self.folder.glob(".*.tmp")]
        # Opening, nothing of this process is being written yet; and the data folder's lock
        # (``linli.running``) keeps any other agent off the spool.
        for name in stale_temporaries(names, None):
            (self.folder / name).unlink(missing_ok=True)
            logger.warning("evidence spool: deleted %s, half-written by a killed process", name)

    def put(self, image: EvidenceImage) -> list[SpooledPicture]:
        """Store one picture durably; return the pictures dropped to keep the spool in its cap."""
        body = image.model_dump_json().encode()
        # Names sort by time of writing, so the oldest is sent first; the kind in the name
        # lets the cap choose what to drop without reading megabytes of JSON.
        self._seq += 1
        stamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
        name = f"{stamp}-{self._seq:06d}-{image.kind.value}-{image.id}.json"
        try:
            write_durably(self.folder / name, body)
        except OSError as exc:
            raise EvidenceError(f"cannot spool evidence {image.id}: {exc}") from exc
        return self.enforce_cap()

    def enforce_cap(self) -> list[SpooledPicture]:
        """Delete pictures until the spool fits its limits; return the ones deleted."""
        pictures: list[SpooledPicture] = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # acknowledged meanwhile
            pictures.append(SpooledPicture(path.name, _kind_in_name(path.name), size))
        dropped = pictures_to_drop(pictures, self.limits)
        for picture in dropped:
            (self.folder / picture.name).unlink(missing_ok=True)
            logger.warning(
                "evidence spool over its cap (%d files, %d bytes): dropped %s (%s)",
                self.limits.max_files,
                self.limits.max_bytes,
                picture.name,
                picture.kind,
            )
        return dropped

    def pending(self, limit: int) -> list[EvidenceImage]:
        """Return up to ``limit`` spooled pictures, most urgent kind first, then oldest."""
        images: list[EvidenceImage] = []
        names = sending_order([path.name for path in self.folder.glob("*.json")])
        for path in (self.folder / name for name in names[:limit]):
            try:
                images.append(EvidenceImage.model_validate_json(path.read_bytes()))
            except FileNotFoundError:
                continue  # acknowledged or dropped meanwhile
            except (OSError, ValidationError):
                # Kept for a person to inspect, renamed so it never blocks the others.
                logger.exception("spooled evidence %s is unreadable; set aside", path.name)
                path.rename(path.with_suffix(".bad"))
        return images

    def acknowledge(self, ids: list[str]) -> int:
        """Delete the pictures the hub has stored; return how many were still spooled."""
        wanted = set(ids)
        deleted = 0
        for path in self.folder.glob("*.json"):
            if path.stem.rsplit("-", 1)[-1] in wanted:
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted

    def depth(self) -> int:
        """Return how many pictures wait for the hub."""
        return sum(1 for _ in self.folder.glob("*.json"))

    def size(self) -> int:
        """Return the bytes the waiting pictures take on disk."""
        total = 0
        for path in self.folder.glob("*.json"):
            with suppress(FileNotFoundError):
                total += path.stat().st_size
        return total
