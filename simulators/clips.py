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
    noise = rng.integers(60, 190, size=(30, 40, 3), dtype=np.uint8)
    base = cv2.resize(noise, CLIP_SIZE, interpolation=cv2.INTER_CUBIC)
    partial = path.with_suffix(".partial.avi")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter.fourcc(*"MJPG"), fps, CLIP_SIZE)
    try:
        for i in range(int(seconds * fps)):
            t = i / fps
            frame = base.copy()
            if fire_from_s <= t < fire_from_s + fire_for_s:
                _flames(frame, t - fire_from_s, rng)
            writer.write(frame)
    finally:
        writer.release()
    partial.replace(path)  # a clip cut short by Ctrl-C is never mistaken for a whole one
    return path


def _flames(frame: np.ndarray, burning_s: float, rng: np.random.Generator) -> None:
    height = 40 + int(3 * burning_s) + int(rng.integers(0, 30))
    for _ in range(6):
        cx = 160 + int(rng.integers(-15, 15))
        w = int(rng.integers(8, 20))
        pts = np.array([[cx - w, 200], [cx + w, 200], [cx, 200 - height]], np.int32)
        cv2.fillPoly(frame, [pts], (40, int(rng.integers(140, 230)), 255))
