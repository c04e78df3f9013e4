"""Simulated patrol phones: OwnTracks apps in HTTP mode walking rounds of a site's map.

``linli demo`` runs one for each security responder of the sample roster, so that its map
shows them moving and a fire is dispatched to the nearer one (docs/positions.md). Each phone
walks a closed round through the site's places at walking pace, starting at a different place,
and posts a fix every ``interval_s`` exactly as an OwnTracks app does: a ``location`` message,
HTTP Basic authentication with the responder's id and an API token of theirs.

``position_on_round`` is pure; ``run_patrols`` does the HTTP and never raises for the hub's
answers (a demo must not stop because a phone was refused): it logs them.
"""

import asyncio
import base64
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

Point = tuple[float, float]
"""Latitude and longitude, degrees."""

WALKING_M_S = 1.4
"""A patrol's pace, metres per second."""
EARTH_RADIUS_M = 6_371_008.8


def metres_between(a: Point, b: Point) -> float:
    """Return the great-circle distance of two points (haversine; the hub's own is
    ``hub.positions.rules.distance_m``, which simulators may not import)."""
    (phi_a, lambda_a), (phi_b, lambda_b) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((phi_b - phi_a) / 2) ** 2
    h += math.cos(phi_a) * math.cos(phi_b) * math.sin((lambda_b - lambda_a) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Phone:
    """A responder's phone: who it reports for, the token it authenticates with, its round."""

    responder_id: str
    token: str
    round: Sequence[Point]


def position_on_round(round_: Sequence[Point], walked_m: float) -> Point:
    """Return where someone is who walked ``walked_m`` metres along the closed round through
    ``round_`` (back to its first point after the last), starting at its first point."""
    if not round_:
        raise ValueError("a round needs at least one point")
    legs = [(a, round_[(i + 1) % len(round_)]) for i, a in enumerate(round_)]
    lengths = [metres_between(a, b) for a, b in legs]
    total = sum(lengths)
    left = walked_m % total if total else 0.0
    for (a, b), length in zip(legs, lengths, strict=True):
        if length > 0 and left <= length:
            share = left / length
            return a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share
        left -= length
    return round_[0]


def location_message(lat: float, lon: float, at: float, tid: str) -> dict[str, Any]:
    """Return an OwnTracks location message as the apps send it."""
    return {"_type": "location", "lat": round(lat, 6), "lon": round(lon, 6), "tst": math.floor(at),
            "acc": 8, "tid": tid, "batt": 80, "conn": "m", "t": "t"}  # fmt: skip


def basic_auth(phone: Phone) -> str:
    """Return the ``Authorization`` header value of a phone."""
    pair = f"{phone.responder_id}:{phone.token}".encode()
    return "Basic " + base64.b64encode(pair).decode()


async def post_fixes(client: httpx.AsyncClient, phones: Sequence[Phone], walked_m: float) -> int:
    """Post each phone's fix at ``walked_m`` metres along its round; return how many the hub
    took. A refusal or a lost connection is logged, not raised."""
    taken = 0
    for phone in phones:
        lat, lon = position_on_round(phone.round, walked_m)
        message = location_message(lat, lon, time.time(), phone.responder_id[:2].upper())
        try:
            response = await client.post(
                "/api/v1/owntracks", json=message, headers={"authorization": basic_auth(phone)}
            )
        except httpx.HTTPError as exc:
            logger.warning(
                "patrol phone %s: the hub cannot be reached: %s", phone.responder_id, exc
            )
            continue
        if response.status_code == 200:
            taken += 1
        else:
            logger.warning(
                "patrol phone %s: the hub answered %d: %s",
                phone.responder_id,
                response.status_code,
                response.text[:200],
            )
    return taken


async def run_patrols(
    hub_url: str,
    phones: Sequence[Phone],
    *,
    interval_s: float = 30.0,
    speed: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Post the phones' fixes every ``interval_s`` (divided by ``speed``) until cancelled."""
    started = clock()
    async with httpx.AsyncClient(base_url=hub_url, timeout=10) as client:
        while True:
            walked = (clock() - started) * speed * WALKING_M_S
            await post_fixes(client, phones, walked)
            await asyncio.sleep(interval_s / speed)


def rounds_of(points: Sequence[Point], count: int) -> list[list[Point]]:
    """Return ``count`` rounds through ``points``, each starting at a different one, every
    other one walked the other way round."""
    rounds: list[list[Point]] = []
    for n in range(count):
        start = (n * len(points)) // max(1, count)
        walk = [*points[start:], *points[:start]]
        rounds.append(walk if n % 2 == 0 or len(walk) < 2 else [walk[0], *reversed(walk[1:])])
    return rounds
