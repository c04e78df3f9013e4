"""A Raspberry Pi's wall clock stepped by NTP, through a real ``EdgeAgent`` on a real Mosquitto.

Found by a field review (2026-12-07): a Pi has no real-time clock and boots at the time it
shut down (fake-hwclock); NTP then steps the wall clock days forward, or back when a wrong
time was saved. Check-in deadlines are judged on the wall clock, so a step forward made every
device look silent at once (a flood of ``device_offline``), and a step back held every
deadline back by the whole step (a dead detector unreported for days). The agent's wall
clock is a ``WallClock`` and its monotonic clock a ``ManualClock``, both moved by the test; the
test runs the time-driven detection itself.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    EDGE_ID,
    Devices,
    FakeHub,
    ManualClock,
    SettingsFactory,
    WallClock,
    eventually,
    running_edge,
)

pytestmark = pytest.mark.mosquitto

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)  # fake-hwclock's saved time
DAY_S = 86400.0
HOUR_S = 3600.0

SITE_TOML = f"""
[site]
name = "Courtyard on a Pi"
edge_id = "{EDGE_ID}"

[[devices]]
id = "talking-smoke"
kind = "smoke"
location = "Building 1/Floor 1/Hall"

[[devices]]
id = "silent-smoke"
kind = "smoke"
location = "Building 1/Floor 2/Hall"
"""

GAS_DETECTOR = """
[[devices]]
id = "kitchen-gas"
kind = "gas"
location = "Building 1/Floor 1/Kitchen"
"""


@pytest.fixture
def pi_site(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML)
    return make_settings


@pytest.fixture
def gas_site(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML + GAS_DETECTOR)
    return make_settings


def offline_raised(hub: FakeHub) -> dict[str, datetime]:
    return {
        a.device_id: a.ts
        for a in hub.alerts
        if a.kind is AlertKind.DEVICE_OFFLINE and a.state is AlertState.RAISED
    }


def heard_at(agent: EdgeAgent, at: datetime) -> Callable[[], bool]:
    return lambda: agent.detection.states["talking-smoke"].last_seen == at


async def keep_talking(
    agent: EdgeAgent, wall: WallClock, steady: ManualClock, devices: Devices, hours: int
) -> None:
    """Live ``hours`` hours: the talking detector reports every hour, the other never."""
    for _ in range(hours):
        wall.advance(HOUR_S)
        steady.advance(HOUR_S)
        await devices.publish("linli/dev/talking-smoke/state", '{"smoke": false}')
        await eventually(heard_at(agent, wall.now), "the talking detector heard")
        await agent.detect_tick()


async def both_detectors_heard(agent: EdgeAgent, devices: Devices) -> float:
    """Have the talking and the silent detector each report once; return the silent one's
    check-in deadline in seconds."""
    for device_id in ("talking-smoke", "silent-smoke"):
        await devices.publish(f"linli/dev/{device_id}/state", '{"smoke": false}')
    await eventually(lambda: len(agent.detection.states) >= 2, "both detectors heard")
    await agent.detect_tick()
    return agent.detection.checkins()["silent-smoke"].deadline_s


async def test_a_step_forward_of_three_days_raises_no_offline_and_a_dead_device_is_still_reported(
    mosquitto: MosquittoProcess, pi_site: SettingsFactory
) -> None:
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(pi_site(detection_tick_s=3600.0), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (hub, devices):
        deadline_s = await both_detectors_heard(agent, devices)

        wall.advance(3 * DAY_S + 10.0)  # NTP steps the clock; ten seconds really passed
        steady.advance(10.0)
        stepped = wall.now
        await agent.detect_tick()
        await keep_talking(agent, wall, steady, devices, int(deadline_s // HOUR_S) + 2)
        await eventually(lambda: "silent-smoke" in offline_raised(hub), "the dead one reported")
    raised = offline_raised(hub)
    assert set(raised) == {"silent-smoke"}
    assert raised["silent-smoke"] == stepped + timedelta(seconds=deadline_s)
    assert agent.counters["clock_steps"] == 1


async def test_a_step_back_of_two_days_does_not_hold_a_dead_device_back_or_accuse_a_live_one(
    mosquitto: MosquittoProcess, pi_site: SettingsFactory
) -> None:
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(pi_site(detection_tick_s=3600.0), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (hub, devices):
        deadline_s = await both_detectors_heard(agent, devices)

        wall.advance(-2 * DAY_S)  # a wrong saved time, corrected back by NTP
        steady.advance(10.0)
        stepped = wall.now
        await agent.detect_tick()

        await keep_talking(agent, wall, steady, devices, int(deadline_s // HOUR_S) + 2)
        await eventually(lambda: "silent-smoke" in offline_raised(hub), "the dead one reported")
    raised = offline_raised(hub)
    assert set(raised) == {"silent-smoke"}
    assert raised["silent-smoke"] == stepped + timedelta(seconds=deadline_s)
    assert agent.counters["clock_steps"] == 1


def co_raised(hub: FakeHub) -> list[datetime]:
    return [a.ts for a in hub.alerts if a.kind is AlertKind.CO and a.state is AlertState.RAISED]


def co_alarming(agent: EdgeAgent) -> bool:
    return AlertKind.CO in agent.detection.states["b3-co"].raised


@pytest.mark.parametrize("step_s", [-2 * HOUR_S, 3 * DAY_S])
async def test_a_co_reading_standing_between_reports_alarms_on_time_across_a_step(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, step_s: float
) -> None:
    """A CO detector reporting on change says 150 ppm once; the dose of the reading standing
    since is judged on the edge's clock. Stepped back two hours, the alarm waited two hours
    more; stepped forward, the dose counted the step (up to the hold) at once."""
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(make_settings(detection_tick_s=3600.0), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await agent.detect_tick()
        await devices.publish("linli/dev/b3-co/state", '{"co_ppm": 150}')
        await eventually(lambda: "b3-co" in agent.detection.states, "the CO reading heard")
        minute = 60.0
        wall.advance(minute)
        steady.advance(minute)
        await agent.detect_tick()
        wall.advance(step_s)
        steady.advance(1.0)
        await agent.detect_tick()
        assert not co_alarming(agent)  # the step itself is no exposure
        for _ in range(120):  # two hours, a minute at a time
            wall.advance(minute)
            steady.advance(minute)
            await agent.detect_tick()
            if co_alarming(agent):
                break
        await eventually(lambda: co_raised(hub) != [], "the CO alarm")
    # A steady 150 ppm alarms within 10 to 50 minutes (UL 2034 and EN 50291 alike).
    assert steady.now - 1000.0 - 1.0 <= 50 * minute


async def test_a_gas_alarm_is_not_cleared_by_a_step_forward(
    mosquitto: MosquittoProcess, gas_site: SettingsFactory
) -> None:
    """Gas below the clear level clears once the detector has said nothing more for the hold
    (5 min), on the edge's clock: a step forward cleared it at once, minutes early."""
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(gas_site(detection_tick_s=3600.0), clock=wall, monotonic=steady)

    def gas_level() -> str:
        return agent.detection.states["kitchen-gas"].gas

    async with running_edge(mosquitto, agent):
        await agent.detect_tick()
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.publish("linli/dev/kitchen-gas/state", '{"gas_lel_pct": 25}', qos=1)
            await eventually(lambda: "kitchen-gas" in agent.detection.states, "gas heard")
            wall.advance(30.0)
            steady.advance(30.0)
            await client.publish("linli/dev/kitchen-gas/state", '{"gas_lel_pct": 5}', qos=1)
            await eventually(
                lambda: agent.detection.states["kitchen-gas"].gas_clean_since is not None,
                "the clean reading heard",
            )
        assert gas_level() == "alarm"
        wall.advance(3 * DAY_S)
        steady.advance(10.0)
        await agent.detect_tick()
        assert gas_level() == "alarm"  # ten seconds after its clean reading
        wall.advance(300.0)
        steady.advance(300.0)
        await agent.detect_tick()
        assert gas_level() == "clear"


async def test_a_co_reading_that_came_just_after_a_step_is_not_moved_by_it(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """A reading received after the step and before the next tick is on the new timeline
    already: moved with the step as well, its dose waited three days."""
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(make_settings(detection_tick_s=3600.0), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await agent.detect_tick()
        wall.advance(3 * DAY_S)
        steady.advance(1.0)
        await devices.publish("linli/dev/b3-co/state", '{"co_ppm": 150}')
        await eventually(lambda: "b3-co" in agent.detection.states, "the CO reading heard")
        for _ in range(120):
            wall.advance(60.0)
            steady.advance(60.0)
            await agent.detect_tick()
            if co_alarming(agent):
                break
        await eventually(lambda: co_raised(hub) != [], "the CO alarm")
    assert steady.now - 1000.0 - 1.0 <= 50 * 60.0
