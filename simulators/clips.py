"""A synthetic camera clip for the demo: a still corridor where flames flicker for a while.

Made here with OpenCV and numpy, so the repository ships no footage and owes no licence. The
edge replays it (``loop``, ``pace``) as a camera would deliver it; its fire detector sees the
flames (flickering, flame-coloured, growing) and not the still, textured corridor.
"""

from pathlib import Path

import cv2
import numpy as np

CLIP_SIZE = (320, 240)
CLIP_FPS = 5.0
CLIP_SECONDS = 240.0
FIRE_FROM_S = 15.0
FIRE_FOR_S = 20.0
"""Flames from 15 s to 35 s of every 4-minute loop: the first camera case comes early."""


def write_corridor_clip(
    path: Path,
    *,
    seconds: float = CLIP_SECONDS,
    fps: float = CLIP_FPS,
    fire_from_s: float = FIRE_FROM_S,
    fire_for_s: float = FIRE_FOR_S,
    seed: int = 11,
) -> Path:
    """Write the clip (Motion JPEG in AVI) to ``path`` unless it is there; return ``path``."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = corridor(rng)
    partial = path.with_suffix(".partial.avi")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter.fourcc(*"MJPG"), fps, CLIP_SIZE)
    try:
        for i in range(int(seconds * fps)):
            t = i / fps
            frame = base.copy()
            if fire_from_s <= t < fire_from_s + fire_for_s:
                # The flames grow by 3 px a second.
                draw_flames(frame, rng, height_px=40 + int(3 * (t - fire_from_s)))
            writer.write(frame)
    finally:
        writer.release()
    partial.replace(path)  # a clip cut short by Ctrl-C is never mistaken for a whole one
    return path


def corridor(rng: np.random.Generator) -> np.ndarray:
    """Return a still, textured corridor of ``CLIP_SIZE`` (blurred noise), in BGR."""
    noise = rng.integers(60, 190, size=(30, 40, 3), dtype=np.uint8)
    return cv2.resize(noise, CLIP_SIZE, interpolation=cv2.INTER_CUBIC)


def draw_flames(
    frame: np.ndarray, rng: np.random.Generator, *, height_px: int, flicker_px: int = 30
) -> None:
    """Paint six yellow-orange flame tongues on ``frame``, standing at its bottom middle.

    Each is a triangle of random width and place, all ``height_px`` plus a random part of
    ``flicker_px`` tall: drawn anew on every frame, they flicker as flames do.
    """
    height = height_px + int(rng.integers(0, flicker_px))
    for _ in range(6):
        cx = 160 + int(rng.integers(-15, 15))
        w = int(rng.integers(8, 20))
        pts = np.array([[cx - w, 200], [cx + w, 200], [cx, 200 - height]], np.int32)
        cv2.fillPoly(frame, [pts], (40, int(rng.integers(140, 230)), 255))
