"""Synthetic camera clips, generated at small resolution: the decisive cases of issue 13.

Each clip is a list of BGR frames taken 200 ms apart (the analytics' 5 samples/s), 320×240,
with what it must and must not raise. Real footage is better (see docs/camera.md), but these
reproduce each failure mode on purpose, in milliseconds, and keep the repository small.
"""

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from devices.kinds import AlertKind
from edge.camera.cues import Frame

W, H = 320, 240
FPS = 5.0


@dataclass(frozen=True, slots=True)
class Clip:
    """A generated clip and its expectation."""

    name: str
    make: Callable[[], list[Frame]]
    expected: frozenset[AlertKind]
    """Alerts it must raise; every other watched alert is a false alert."""
    note: str


def textured(seed: int = 1, width: int = W, height: int = H) -> Frame:
    """Return a textured daytime scene: blurred noise, a wall, a window and a kerb."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 190, size=(height // 8, width // 8, 3), dtype=np.uint8)
    frame: Frame = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.integers(-25, 25, size=(height, width, 1))
    frame = np.clip(frame.astype(np.int16) + fine, 0, 255).astype(np.uint8)
    cv2.rectangle(frame, (30, 40), (110, 200), (40, 60, 80), -1)
    cv2.rectangle(frame, (45, 60), (95, 110), (200, 190, 170), 2)
    cv2.circle(frame, (230, 90), 40, (180, 170, 160), -1)
    cv2.line(frame, (0, 210), (width, 210), (20, 20, 20), 3)
    return frame


def night(seed: int = 2) -> Frame:
    """Return a dark street scene."""
    frame: Frame = (textured(seed).astype(np.float32) * 0.25).astype(np.uint8)
    return frame


def noisy(frame: Frame, rng: np.random.Generator, sigma: float = 2.0) -> Frame:
    """Return ``frame`` with a camera sensor's noise."""
    grain = rng.normal(0.0, sigma, frame.shape)
    result: Frame = np.clip(frame.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    return result


Painter = Callable[[Frame, int, np.random.Generator], None]
"""Draws frame ``i`` of a clip onto a copy of its background, drawing on the clip's generator."""


def painted(base: Frame, n: int, rng: np.random.Generator, paint: Painter) -> list[Frame]:
    """Return ``n`` frames: each a copy of ``base`` painted by ``paint`` then given sensor noise."""
    frames = []
    for i in range(n):
        frame = base.copy()
        paint(frame, i, rng)
        frames.append(noisy(frame, rng))
    return frames


def draw_flame(
    frame: Frame, cx: float, base: float, height: float, rng: np.random.Generator
) -> None:
    """Draw a flame: ragged tongues, a near-white core, yellow-orange-red outward."""
    layers = (
        (1.0, (20, 60, 230)),
        (0.75, (30, 150, 255)),
        (0.5, (120, 225, 255)),
        (0.28, (215, 250, 255)),
    )
    width = 0.45 * height
    tongues = [
        (cx + rng.uniform(-0.5, 0.5) * width, height * rng.uniform(0.55, 1.0)) for _ in range(4)
    ]
    flame = frame.copy()
    covered = np.zeros(frame.shape[:2], np.uint8)
    for scale, colour in layers:
        points = []
        steps = 10
        for i in range(steps + 1):
            x = cx - width * scale + 2 * width * scale * i / steps
            points.append((x, base))
        for tx, th in tongues:
            points.append((cx + (tx - cx) * scale + rng.uniform(-3, 3), base - th * scale))
        hull = cv2.convexHull(np.array(points, np.float32)).astype(np.int32)
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [hull], 255)
        for tx, th in tongues:
            tip = (int(cx + (tx - cx) * scale), int(base - th * scale * rng.uniform(1.0, 1.25)))
            cv2.line(mask, (int(cx), int(base)), tip, 255, max(2, int(width * scale * 0.4)))
        flame[mask > 0] = colour
        covered |= mask
    # Soft edges on the flame only: the scene around it stays as sharp as it was.
    soft = cv2.GaussianBlur(flame, (3, 3), 0)
    edge = cv2.dilate(covered, np.ones((3, 3), np.uint8)) > 0
    frame[edge] = soft[edge]


def fire_static(n: int = 60) -> list[Frame]:
    """A fire starting small on the floor of a static scene and growing."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        if i >= 10:
            draw_flame(
                frame, 170 + rng.uniform(-3, 3), 205, 25 + 0.8 * (i - 10) + rng.uniform(-6, 6), rng
            )

    return painted(textured(1), n, np.random.default_rng(11), paint)


def fire_handheld(n: int = 110, fire_until: int = 70) -> list[Frame]:
    """A handheld camera (shaking, drifting) filming a growing fire; the fire goes out."""
    rng = np.random.default_rng(12)
    world = textured(3, W + 80, H + 60)
    frames = []
    x, y = 40.0, 30.0
    for i in range(n):
        x = float(np.clip(x + rng.normal(0, 4), 5, 75))
        y = float(np.clip(y + rng.normal(0, 3), 5, 55))
        scene = world.copy()
        if 5 <= i < fire_until:
            draw_flame(
                scene, 200 + rng.uniform(-3, 3), 230, 30 + 0.6 * (i - 5) + rng.uniform(-7, 7), rng
            )
        frames.append(noisy(scene[int(y) : int(y) + H, int(x) : int(x) + W].copy(), rng))
    return frames


def _neon(frame: Frame, parts: list[bool]) -> None:
    words = ("B", "A", "R")
    for k, (word, lit) in enumerate(zip(words, parts, strict=True)):
        if not lit:
            continue
        layer = np.zeros_like(frame)
        cv2.putText(
            layer, word, (60 + 60 * k, 110), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (40, 150, 255), 5
        )
        glow = cv2.GaussianBlur(layer, (0, 0), 4)
        frame[:] = cv2.add(frame, glow)
        frame[layer.max(axis=2) > 0] = (150, 220, 255)


def neon_blink(n: int = 80) -> list[Frame]:
    """A night scene with an orange neon sign blinking on 0.6 s, off 0.4 s."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        on = i % 5 < 3
        _neon(frame, [on, on, on])

    return painted(night(), n, np.random.default_rng(13), paint)


def neon_chase(n: int = 80) -> list[Frame]:
    """A neon sign whose letters light one after another (B, BA, BAR, dark, ...)."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        phase = i % 4
        _neon(frame, [phase >= 1, phase >= 2, phase >= 3])

    return painted(night(), n, np.random.default_rng(14), paint)


def headlights(n: int = 80) -> list[Frame]:
    """Cars at night: headlights sweeping past, then a car braking and stopping (red lights)."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        x = -60 + 9 * (i % 45)
        for dx in (0, 45):
            cv2.circle(frame, (x + dx, 170), 16, (90, 200, 255), -1)
            cv2.circle(frame, (x + dx, 170), 8, (240, 250, 255), -1)
        stop = min(i, 50)
        cx = 330 - 4 * stop
        for dx in (0, 60):
            cv2.rectangle(frame, (cx + dx, 120), (cx + dx + 18, 128), (30, 40, 255), -1)
        frame[:] = cv2.GaussianBlur(frame, (5, 5), 0)

    return painted(night(4), n, np.random.default_rng(15), paint)


def truck(n: int = 70) -> list[Frame]:
    """A lorry crossing a static scene and filling most of the frame for seconds."""
    body = textured(9, 420, 200)
    body = (body.astype(np.float32) * 0.4 + 40).astype(np.uint8)

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        left = -440 + 14 * (i - 15)
        if i >= 15:
            x0, x1 = max(0, left), min(W, left + 420)
            if x1 > x0:
                frame[30:230, x0:x1] = body[:, x0 - left : x1 - left]

    return painted(textured(5), n, np.random.default_rng(16), paint)


def crowd(n: int = 70) -> list[Frame]:
    """A crowd of thirty walkers crossing a plaza in every direction."""
    rng = np.random.default_rng(17)
    walkers = [
        (rng.uniform(0, W), rng.uniform(40, H - 50), rng.normal(0, 6), rng.normal(0, 2),
         tuple(int(c) for c in rng.integers(20, 230, 3)))
        for _ in range(30)
    ]  # fmt: skip

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        for x, y, vx, vy, colour in walkers:
            px, py = int((x + vx * i) % W), int(y + vy * i) % H
            cv2.rectangle(frame, (px, py), (px + 14, py + 40), colour, -1)
            cv2.circle(frame, (px + 7, py - 6), 6, (60, 80, 120), -1)

    return painted(textured(6), n, rng, paint)


def exposure(n: int = 60) -> list[Frame]:
    """Auto-exposure hunting on a static scene: +60 % over 4 s, back over 4 s."""
    rng = np.random.default_rng(18)
    base = textured(7).astype(np.float32)
    frames = []
    for i in range(n):
        gain = (
            1.0 + 0.6 * min(1.0, max(0.0, (i - 10) / 20)) - 0.6 * min(1.0, max(0.0, (i - 40) / 20))
        )
        frames.append(noisy(np.clip(base * gain, 0, 255).astype(np.uint8), rng))
    return frames


def pan(n: int = 60) -> list[Frame]:
    """A camera knocked aside: the view slides 40 px over 1 s, then stays there."""
    rng = np.random.default_rng(19)
    world = textured(8, W + 60, H)
    frames = []
    for i in range(n):
        x = int(min(40, max(0, (i - 20) * 8)))
        frames.append(noisy(world[:, x : x + W].copy(), rng))
    return frames


def water(n: int = 70) -> list[Frame]:
    """Shimmering water (grey-blue ripples, glints) filling the lower half of a static scene."""
    ys, xs = np.mgrid[0:120, 0:W].astype(np.float32)

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        phase = rng.uniform(0, 2 * np.pi, 3)
        ripple = (
            np.sin(xs / 5 + ys / 9 + phase[0] + i) + np.sin(xs / 11 - ys / 4 + phase[1])
            + 0.5 * np.sin(xs / 3 + phase[2] + 2 * i)
        )  # fmt: skip
        value = 170 + 10 * ripple + 40 * (ripple > 2.0)
        water_bgr = np.stack([value + 10, value + 5, value], axis=2)
        frame[120:] = np.clip(water_bgr, 0, 255).astype(np.uint8)

    return painted(textured(10), n, np.random.default_rng(20), paint)


def _plume(
    frame: Frame, puffs: list[tuple[float, float, float]], grey: float, alpha: float
) -> None:
    mask = np.zeros(frame.shape[:2], np.float32)
    for x, y, r in puffs:
        cv2.circle(mask, (int(x), int(y)), int(r), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 5)[..., None] * alpha
    frame[:] = (frame.astype(np.float32) * (1 - mask) + grey * mask).astype(np.uint8)


def smoke(n: int = 80, grey: float = 205.0, seed: int = 21) -> list[Frame]:
    """Grey smoke rising from a source at the bottom, puffs spreading as they climb."""
    puffs: list[list[float]] = []

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        if i >= 10:
            puffs.append([160 + rng.normal(0, 4), 215.0, 8.0])
        for p in puffs:
            p[0] += rng.normal(0, 1.5)
            p[1] -= 5.0 + rng.normal(0, 1)
            p[2] += 0.9
        puffs[:] = [p for p in puffs if p[1] > -20]
        _plume(frame, [(p[0], p[1], p[2]) for p in puffs], grey, 0.6)

    base = cv2.GaussianBlur(textured(11), (0, 0), 1.2)
    return painted(base, n, np.random.default_rng(seed), paint)


def dark_smoke(n: int = 80) -> list[Frame]:
    """Dark grey smoke rising (a black plume against a light scene)."""
    return smoke(n, grey=55.0, seed=22)


def sunset(n: int = 60) -> list[Frame]:
    """An orange sky with a low sun, slowly brightening: steady, smooth, not fire."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        glow = 1.0 + 0.005 * i
        for row in range(130):
            t = row / 130
            colour = np.array([40 + 40 * t, 120 + 60 * t, 255], np.float32) * glow
            frame[row] = np.clip(colour, 0, 255).astype(np.uint8)
        cv2.circle(frame, (220, 110), 18, (220, 250, 255), -1)

    return painted(textured(12), n, np.random.default_rng(23), paint)


def reflections(n: int = 70) -> list[Frame]:
    """Orange street lights reflected on dark rippling water: shimmering, in place."""

    def paint(frame: Frame, i: int, rng: np.random.Generator) -> None:
        for cx in (90, 230):
            cv2.circle(frame, (cx, 40), 6, (200, 240, 255), -1)
            for row in range(130, 235, 6):
                half = int(rng.uniform(2, 12))
                x = cx + int(rng.normal(0, 3))
                cv2.line(frame, (x - half, row), (x + half, row), (40, 160, 255), 3)

    return painted(night(5), n, np.random.default_rng(24), paint)


def infrared(frame: Frame, rng: np.random.Generator, grain: float = 4.0) -> Frame:
    """Return ``frame`` as a CCTV camera's night picture: the IR-cut filter out, grey, lit by
    its infrared LEDs (bright middle, dark corners), at high gain (grain)."""
    height, width = frame.shape[:2]
    bgr = frame.astype(np.float32)
    # Red reflects infrared best; gamma and gain as the camera's night profile sets them.
    grey = 0.1 * bgr[:, :, 0] + 0.3 * bgr[:, :, 1] + 0.6 * bgr[:, :, 2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    corner = ((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (height / 2)) ** 2
    grey = 255 * (grey / 255) ** 0.8 * 0.55 * (1.15 - 0.35 * corner)
    grey += rng.normal(0.0, grain, grey.shape)
    result: Frame = cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return result


def day_night(n: int = 350, dusk: int = 50, dawn: int = 320, blur: float = 0.0) -> list[Frame]:
    """A room at dusk switching to its grainy infrared night picture, and back at dawn.

    The night lasts over a minute, so the tamper reference is retaken at night; ``blur``
    defocuses the night picture (a lens sprayed or turned after dark).
    """
    rng = np.random.default_rng(25)
    # An ordinary room is smoother than ``textured``'s pixel grain (a real room's sharpness).
    base = cv2.GaussianBlur(textured(13), (0, 0), 1.0)
    frames = []
    for i in range(n):
        if dusk <= i < dawn:
            frame = infrared(base, rng)
            frames.append(cv2.GaussianBlur(frame, (0, 0), blur) if blur else frame)
        else:
            frames.append(noisy(base, rng))
    return frames


FIRE = AlertKind.CAMERA_FIRE
SMOKE = AlertKind.CAMERA_SMOKE
TAMPER = AlertKind.CAMERA_TAMPER

CLIPS: tuple[Clip, ...] = (
    Clip("fire_static", fire_static, frozenset({FIRE}), "growing flame, static camera"),
    Clip("fire_handheld", fire_handheld, frozenset({FIRE, TAMPER}), "shaking camera, fire"),
    Clip("smoke_light", smoke, frozenset({SMOKE}), "light grey plume rising"),
    Clip("smoke_dark", dark_smoke, frozenset({SMOKE}), "dark grey plume rising"),
    Clip("pan", pan, frozenset({TAMPER}), "camera knocked 40 px aside"),
    Clip("neon_blink", neon_blink, frozenset(), "orange neon, 0.6 s on / 0.4 s off"),
    Clip("neon_chase", neon_chase, frozenset(), "neon letters lighting in turn"),
    Clip("headlights", headlights, frozenset(), "headlights sweeping, brake lights"),
    Clip("truck", truck, frozenset(), "lorry filling 2/3 of the frame"),
    Clip("crowd", crowd, frozenset(), "thirty walkers crossing"),
    Clip("exposure", exposure, frozenset(), "auto-exposure +60 % and back"),
    Clip("water", water, frozenset(), "shimmering water, lower half"),
    Clip("sunset", sunset, frozenset(), "orange sky, low sun"),
    Clip("reflections", reflections, frozenset(), "orange lights on rippling water"),
    Clip("day_night", day_night, frozenset(), "dusk to grainy infrared, dawn 54 s later"),
)
