"""Residents' photos: re-encoded on the hub, kept on disk by SHA-256.

A photo from a phone is never stored as it came: ``reencode`` decodes it with Pillow (JPEG,
PNG or WebP only), refuses an oversized upload, a non-image and a decompression bomb (too
many pixels, checked before the pixels are decoded) with a message a resident can read,
turns it upright by its EXIF orientation, and writes a fresh JPEG with no metadata at all —
no EXIF, so no GPS position, no camera serial, and no comment (Pillow would carry a JPEG's
or PNG's ``comment`` into the new file) — plus a small thumbnail. Only the orientation tag
is read from the EXIF: ``ImageOps.exif_transpose`` writes the whole EXIF back, and fails on
one a camera or editing app wrote with a field of the wrong type, which Pillow reads fine.

``PhotoFiles`` keeps the bytes as evidence pictures are kept: ``<folder>/<sha[:2]>/<sha>.jpg``,
written to a temporary file, synced and renamed, so the same bytes are stored once.

A request's photos are written before its transaction (the disk work stays out of it) but
only under temporary names (``PhotoFiles.staged``), renamed into place once the transaction
committed and deleted if it did not: a failed request, or a gateway message sent again,
leaves no file behind. Deleting a photo's own file on failure instead would not do: the
files are shared by hash, and another request with the same photo may have committed it
meanwhile.

Re-encoding is bounded: a 5 KB PNG of 7000 × 7000 pixels passes every limit above and takes
about a second and 300 MB to decode, so a few uploads at once (a household page posting many
requests, a gateway several) would take GBs, and on the event loop's default pool (6 threads
on 2 cores) every route's database work would wait behind them. ``reencode_photo`` runs
``reencode`` on ``PHOTO_THREADS`` threads of its own (as ``hub.persistence.threads`` does for
the alarm path): at most that many photos are decoded at once in the process, the others wait
their turn without holding a shared thread. ``reencoding`` tells how many are being decoded
now and the most at once. A large JPEG is decoded at reduced size (``Image.draft``: a power
of two the DCT gives for free, never below ``MAX_SIDE``), since only that much is kept.
"""

import asyncio
import contextvars
import functools
import hashlib
import io
import os
import threading
import uuid
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import Base

from devices.durable import write_durably

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""A phone's full-size photo is 2–6 MB; anything larger is refused before decoding."""

MAX_PIXELS = 50_000_000
"""50 megapixels: above any phone camera, far below what would exhaust the hub's memory."""

MAX_SIDE = 2048
"""The stored photo's longest side: enough to see a crack or a meter reading."""

THUMB_SIDE = 320

JPEG_QUALITY = 85

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})
"""MPO is what some phones call a JPEG with a depth map; the first frame is kept."""

PHOTO_THREADS = 2
"""Photos decoded at once in the process: one per core of the small box a hub runs on."""

_pool = ThreadPoolExecutor(max_workers=PHOTO_THREADS, thread_name_prefix="linli-photo")
_count_lock = threading.Lock()
_now = 0
_most = 0


_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""How to turn a picture upright, by its EXIF orientation (as ``ImageOps.exif_transpose``)."""


class PhotoRejectedError(ValueError):
    """A photo the hub will not keep; the message says why, for the resident."""


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """A re-encoded photo and its thumbnail, both JPEG without metadata."""

    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        """Return the photo's SHA-256 (hex): its name on disk."""
        return hashlib.sha256(self.jpeg).hexdigest()

    @property
    def thumbnail_sha256(self) -> str:
        """Return the thumbnail's SHA-256 (hex)."""
        return hashlib.sha256(self.thumbnail).hexdigest()


def _upright(image: Image.Image) -> Image.Image:
    """Return ``image`` turned as its EXIF orientation says (the EXIF itself is dropped)."""
    orientation = image.getexif().get(Base.Orientation)
    turn = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return image if turn is None else image.transpose(turn)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif=, no icc_profile=, and an empty info: Pillow writes the source's "comment" (a
    # JPEG COM segment, a PNG text chunk) into the new file unless told otherwise. The new
    # file carries nothing but the pixels.
    image.info = {}
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def reencode(data: bytes) -> ProcessedPhoto:
    """Return the photo re-encoded without metadata, or raise PhotoRejectedError saying why."""
    if not data:
        raise PhotoRejectedError("the photo is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        # Not its size: the routes read one byte past the limit and no more, so a 14 MB
        # photo arrives here as 10 MB and one byte ("too large (10 MB): at most 10 MB").
        raise PhotoRejectedError(
            f"the photo is too large: more than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, "
            "the most the hub takes"
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, above its own pixel limit: ours is checked below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise PhotoRejectedError(
                    f"this is a {image.format} file: send a JPEG, PNG or WebP photo"
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoRejectedError(
                    f"the picture has too many pixels ({width}×{height}): at most "
                    f"{MAX_PIXELS // 1_000_000} megapixels"
                )
            # A JPEG decodes at 1/2, 1/4 or 1/8 of its size for free; never below what is kept.
            image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
            image.load()
            upright = _upright(image)
    except PhotoRejectedError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejectedError("the picture has too many pixels to be a photo") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejectedError("this file is not a photo the hub can read") from exc
    rgb = upright.convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    thumb = rgb.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return ProcessedPhoto(
        jpeg=_jpeg(rgb), thumbnail=_jpeg(thumb), width=rgb.width, height=rgb.height
    )


def _counted(data: bytes) -> ProcessedPhoto:
    global _now, _most
    with _count_lock:
        _now += 1
        _most = max(_most, _now)
    try:
        return reencode(data)
    finally:
        with _count_lock:
            _now -= 1


async def reencode_photo(data: bytes) -> ProcessedPhoto:
    """Run ``reencode(data)`` on the photos' own threads (at most ``PHOTO_THREADS`` at once),
    with the caller's context, as ``asyncio.to_thread`` would on the shared pool."""
    call = functools.partial(contextvars.copy_context().run, _counted, data)
    return await asyncio.get_running_loop().run_in_executor(_pool, call)


def reencoding() -> dict[str, int]:
    """Return how many photos are being re-encoded now and the most at once so far."""
    with _count_lock:
        return {"photos_reencoding": _now, "photos_reencoding_most": _most}


class PhotoFiles:
    """Photo bytes under ``folder``, one file per SHA-256."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder

    @property
    def folder(self) -> Path:
        """Return the folder, or raise PhotoRejectedError if this hub keeps no photos."""
        if self._folder is None:
            raise PhotoRejectedError("this hub keeps no photos")
        return self._folder

    def path_of(self, sha256: str) -> Path:
        """Return where the photo with this hash is kept."""
        return self.folder / sha256[:2] / f"{sha256}.jpg"

    def write(self, data: bytes) -> str:
        """Keep ``data`` (once, however often written) and return its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_of(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(path, data)
        return sha

    def read(self, sha256: str) -> bytes:
        """Return a kept photo's bytes (FileNotFoundError if there is none)."""
        return self.path_of(sha256).read_bytes()

    @contextmanager
    def staged(self, blobs: Iterable[bytes]) -> Iterator["StagedPhotos"]:
        """Write ``blobs`` under temporary names, synced; the caller calls ``keep()`` once
        what names them has committed, and whatever it has not kept is deleted on leaving."""
        staged = StagedPhotos()
        try:
            for data in blobs:
                sha = hashlib.sha256(data).hexdigest()
                path = self.path_of(sha)
                # A name of its own: two requests with the same photo never share a temporary.
                temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.staged")
                path.parent.mkdir(parents=True, exist_ok=True)
                staged.files.append((temporary, path))
                with temporary.open("wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
            yield staged
        finally:
            staged.discard()


@dataclass
class StagedPhotos:
    """Photo files written under temporary names, not in place yet."""

    files: list[tuple[Path, Path]] = field(default_factory=list)
    """(temporary, final) paths."""

    def keep(self) -> None:
        """Rename every file into place (the same bytes if one is there already)."""
        while self.files:
            temporary, path = self.files.pop()
            temporary.replace(path)

    def discard(self) -> None:
        """Delete every file not kept."""
        while self.files:
            temporary, _ = self.files.pop()
            temporary.unlink(missing_ok=True)
