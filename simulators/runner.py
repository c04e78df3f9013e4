"""Publish a scenario to an MQTT broker, at simulated speed.

The only part of the simulators with a clock and a network connection: it takes the pure
stream of steps from ``simulators.scenarios`` and publishes each one with aiomqtt at QoS 1
when its simulated time comes, ``speed`` simulated seconds per real second.
"""

import asyncio
import logging
import math
import random
from datetime import UTC, datetime

import aiomqtt

from devices.mqtt_link import LOW_LATENCY
from devices.site import SiteFile
from simulators.scenarios import get_scenario

logger = logging.getLogger(__name__)


async def run_scenario(
    name: str,
    site: SiteFile,
    *,
    host: str,
    port: int,
    speed: float = 1.0,
    rng_seed: int | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    epoch: datetime | None = None,
    client_id: str | None = None,
) -> None:
    """Publish scenario ``name`` for ``site`` to ``host:port`` until it ends or is stopped.

    ``speed`` is simulated seconds per real second (60: a simulated minute each second;
    ``math.inf``: no waiting at all). ``duration_s`` stops after that many SIMULATED seconds
    (so a run publishes the same steps at any speed); ``stop`` ends the run when set. The run
    also ends when the scenario does. ``epoch`` is the wall-clock instant simulated time 0
    stands for in the payloads' timestamps (default: now); ``rng_seed`` makes the run
    repeatable.

    Raise ``UnknownScenarioError`` for an unknown name, ``ValueError`` for a speed that is
    not positive, and ``aiomqtt.MqttError`` if the broker cannot be reached or goes away.
    """
    scenario = get_scenario(name)
    if not speed > 0:
        raise ValueError(f"speed must be positive, not {speed}")
    rng = random.Random(rng_seed)
    steps = scenario.steps(site, rng, epoch=epoch or datetime.now(UTC))
    stop = stop or asyncio.Event()
    published = 0
    logger.info("simulating %s at %s for %s:%s (speed %g)", name, site.site.name, host, port, speed)
    async with aiomqtt.Client(
        host, port, identifier=client_id, socket_options=LOW_LATENCY
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for step in steps:
            if duration_s is not None and step.at > duration_s:
                break
            # Aim at the step's own instant rather than sleeping the gap after the previous
            # publish, so publish latency does not add up over a long run.
            delay = 0.0 if math.isinf(speed) else started + step.at / speed - loop.time()
            if await _stopped(stop, delay):
                break
            await client.publish(step.topic, step.payload, qos=1, retain=step.retain)
            published += 1
    logger.info("simulation %s ended after %d messages", name, published)


async def _stopped(stop: asyncio.Event, delay: float) -> bool:
    """Wait ``delay`` seconds or until ``stop`` is set; return whether it was set."""
    if delay <= 0:
        return stop.is_set()
    try:
        async with asyncio.timeout(delay):
            await stop.wait()
    except TimeoutError:
        return False
    return True
