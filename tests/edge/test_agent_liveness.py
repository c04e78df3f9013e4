"""Learned check-in deadlines through a real ``EdgeAgent`` on a real Mosquitto.

Eight days of a site are replayed in about a second: the agent's wall clock is a
``WallClock`` the test moves half an hour at a time, running the agent's time-driven
detection after each step, while the devices publish on the broker as they would: a Shelly
Flood (Gen1) waking once a day, a Shelly Plus H&T every 6 hours (the real message of
shared/realdata shelly_mqtt.json, byte for byte), and a smoke detector that speaks once and
never again. The agent is restarted on its own data in the middle.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState
from devices.messages import Alert
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.conftest import realdata_records
from tests.edge.conftest import (
    EDGE_ID,
    Devices,
    SettingsFactory,
    WallClock,
    eventually,
    running_agent,
    running_hub,
)

pytestmark = pytest.mark.mosquitto

T0 = datetime(2026, 4, 17, 12, tzinfo=UTC)
HOUR_S = 3600.0
STEP_S = 1800.0

SITE_TOML = f"""
[site]
name = "Slow Battery Courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "bike-flood"
kind = "water_leak"
location = "Building 1/Basement/Bike room"
shelly_id = "shellyflood-445566"             # a Shelly Flood (Gen1): wakes once a day

[[devices]]
id = "hall-ht"
kind = "heat"
location = "Building 1/Floor 1/Hall"
shelly_id = "shellyplusht-c049ef8bc088"      # the realdata Shelly Plus H&T: every 6 h here

[[devices]]
id = "b3-smoke"
kind = "smoke"
location = "Building 3/Floor 12/Unit 1201"
"""

FLOOD_WAKE_UP = [
    # What a Shelly Flood publishes when it wakes (shared/realdata shelly_mqtt.json's Gen1
    # topic schema, from the ioBroker.shelly device maps).
    ("shellies/shellyflood-445566/sensor/flood", "false"),
    ("shellies/shellyflood-445566/sensor/temperature", "18.25"),
    ("shellies/shellyflood-445566/sensor/battery", "92"),
]

FLOOD_WAKES_H = [0, 24, 48, 72, 96, 120, 144, 168]  # then it dies
HT_WAKES_H = list(range(0, 193, 6))
RESTART_H = 80.0
END_H = 196.0


@pytest.fixture
def slow_site(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML)
    return make_settings


def hours(alert: Alert) -> float:
    return (alert.ts - T0).total_seconds() / HOUR_S


async def test_slow_battery_devices_raise_no_false_offline_and_a_dead_one_is_still_reported(
    mosquitto: MosquittoProcess,
    slow_site: SettingsFactory,
    realdata: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="edge.device_detection")
    ht_status = realdata_records(realdata, "shelly_mqtt.json")[0]
    clock = WallClock(T0)
    devices = Devices(mosquitto)
    # The agent's own tick never comes in this test's real time: the test runs it.
    settings = slow_site(detection_tick_s=3600.0)

    def agent_heard(agent: EdgeAgent, device_id: str) -> Callable[[], bool]:
        def heard() -> bool:
            state = agent.detection.states.get(device_id)
            return state is not None and state.last_seen == clock.now

        return heard

    async def publish(agent: EdgeAgent, device_id: str, topic: str, payload: str) -> None:
        await devices.publish(topic, payload)
        await eventually(agent_heard(agent, device_id), f"{device_id}'s message on {topic}")

    async def live(agent: EdgeAgent, start_h: float, end_h: float) -> None:
        """Move the clock from ``start_h`` to ``end_h``: the devices wake, the agent ticks."""
        step = start_h
        while step < end_h:
            clock.now = T0 + timedelta(hours=step)
            if step in FLOOD_WAKES_H:
                for topic, payload in FLOOD_WAKE_UP:  # within a second
                    await publish(agent, "bike-flood", topic, payload)
                    clock.advance(0.5)
            if step in HT_WAKES_H:
                await publish(agent, "hall-ht", ht_status["topic"], ht_status["payload_raw"])
            if step == 0:
                await publish(agent, "b3-smoke", "linli/dev/b3-smoke/state", '{"smoke": false}')
            await agent.detect_tick()
            step += STEP_S / HOUR_S

    async def with_agent(run: Callable[[EdgeAgent], Awaitable[None]]) -> None:
        agent = EdgeAgent(settings, clock=clock)
        async with running_agent(agent):
            await run(agent)
            await eventually(lambda: agent.outbox.depth() == 0, "every alert acknowledged")

    async with running_hub(mosquitto) as hub:
        await with_agent(lambda agent: live(agent, 0.0, RESTART_H))
        clock.now = T0 + timedelta(hours=RESTART_H)  # restarted on the same data
        await with_agent(lambda agent: live(agent, RESTART_H, END_H))

    offline = [a for a in hub.alerts if a.kind is AlertKind.DEVICE_OFFLINE]
    raised: dict[str, list[float]] = {"bike-flood": [], "hall-ht": [], "b3-smoke": []}
    for alert in offline:
        if alert.state is AlertState.RAISED:
            raised[alert.device_id].append(round(hours(alert), 2))
    assert raised == {
        # On its kind's default while it was being learned (3 intervals), then not once in
        # the next 4 days, across the restart; silent after its last wake-up, it is
        # reported 26 h later (the cap), on the learned deadline.
        "bike-flood": [6.0, 30.0, 54.0, 168.0 + 26.0],
        # Learned after 3 intervals too; then none in 7 days.
        "hall-ht": [2.0, 8.0, 14.0],
        # Silent from its first message: reported on its 2 h default, learning or not.
        "b3-smoke": [2.0],
    }
    dead = offline[-1]
    assert (dead.device_id, dead.state) == ("bike-flood", AlertState.RAISED)
    assert dead.reason.values["deadline_source"] == "learned"
    assert dead.reason.values["deadline_s"] == 26 * HOUR_S
    smoke = next(a for a in offline if a.device_id == "b3-smoke")
    assert smoke.reason.values["deadline_source"] == "default"
    assert smoke.reason.values["deadline_s"] == 2 * HOUR_S
    # The edge's log says when a device's deadline became a learned one (once each).
    assert [r.getMessage() for r in caplog.records if "check-in deadline" in r.getMessage()] == [
        "device hall-ht: check-in deadline 43200 s, learned (typical interval 21600 s)",
        "device bike-flood: check-in deadline 93600 s, learned (typical interval 86399 s)",
    ]
    # Its status tells the hub each device's deadline as it stands (the restarted agent's
    # too, read back from its data), so an operator sees the slow ones before they are late.
    last = [s for s in hub.statuses if s.state == "online"][-1]

    def in_hours(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / HOUR_S, 1)

    assert {
        device_id: (c.source, in_hours(c.deadline_s), in_hours(c.learned_interval_s))
        for device_id, c in last.checkins.items()
    } == {
        "bike-flood": ("learned", 26.0, 24.0),
        "hall-ht": ("learned", 12.0, 6.0),
        "b3-smoke": ("default", 2.0, None),
    }
