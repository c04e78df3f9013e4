"""A native device's number that is not finite is no measurement, through a real edge agent and
real Mosquitto: a smoke detector whose chamber reading overflowed (``1e999``, which a JSON
parser reads as infinity) while it alarms still raises the smoke alert, and an infinite CO
level never becomes a CO alarm (the dose model once counted it as the highest level)."""

import logging
from collections.abc import Iterator

import pytest

from devices.adapters import decode
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import StateUpdate
from edge.agent import EdgeAgent
from edge.detection import AlertDecision
from linli.brokers import MosquittoProcess
from tests.edge.conftest import SettingsFactory, eventually, running_edge, telemetry_of
from tests.edge.detection_series import feed, ticked

SMOKE_STATE = "linli/dev/b3-smoke/state"
CO_STATE = "linli/dev/b3-co/state"
NOT_FINITE = ["1e999", "-1e999", "1e400", "Infinity", "-Infinity", "NaN"]


@pytest.mark.mosquitto
async def test_a_smoke_alarm_beside_an_overflowed_reading_is_a_smoke_alert_at_the_edge(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(CO_STATE, '{"co_ppm": 1e999, "battery_pct": 80}')
        await devices.publish_cli(CO_STATE, '{"co_ppm": Infinity}')  # no reading left: refused
        await devices.publish_cli(SMOKE_STATE, '{"smoke": true, "smoke_density_db_per_m": 1e999}')
        await eventually(lambda: len(hub.alerts) == 1, "the smoke alert at the hub")
        point = await telemetry_of(hub, "b3-co")

    [alert] = hub.alerts
    assert (alert.kind, alert.state, alert.device_id) == (
        AlertKind.SMOKE,
        AlertState.RAISED,
        "b3-smoke",
    )
    assert alert.reason.rule == "smoke=true"
    assert point.readings.present() == {"battery_pct": 80.0}
    assert agent.counters["rejected.wrong_type"] == 1
    assert agent.counters.get("alerts_created") == 1


def _co_updates(number: str) -> Iterator[StateUpdate]:
    """What a CO detector's native messages with ``number`` as its level decode to."""
    for payload in (
        f'{{"co_ppm": {number}, "battery_pct": 80}}',
        f'{{"co_ppm": {number}, "co_alarm": false, "temperature_c": 21}}',
    ):
        decoded = decode(CO_STATE, payload.encode())
        assert decoded is not None
        [update] = decoded.observations
        assert isinstance(update, StateUpdate)
        yield update


@pytest.mark.mosquitto
async def test_a_reading_taken_out_is_counted_and_logged_with_its_device_and_topic(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    agent = EdgeAgent(make_settings())
    with caplog.at_level(logging.WARNING, logger="edge.ingest"):
        async with running_edge(mosquitto, agent) as (hub, devices):
            await devices.publish_cli(
                SMOKE_STATE, '{"smoke": true, "smoke_density_db_per_m": 1e999}'
            )
            # Zigbee2MQTT: a leak sensor whose battery reading failed.
            await devices.publish_cli(
                "zigbee2mqtt/bike leak", '{"water_leak": true, "battery": NaN}'
            )
            await eventually(lambda: len(hub.alerts) == 2, "the smoke and leak alerts at the hub")
    assert agent.counters["readings_dropped.not_finite"] == 2
    assert agent.counters.get("rejected.wrong_type") is None
    warnings = [r.getMessage() for r in caplog.records if "without" in r.getMessage()]
    assert any(
        "b3-smoke" in line and SMOKE_STATE in line and "smoke_density_db_per_m" in line
        for line in warnings
    ), warnings
    assert any("bike leak" in line and "zigbee2mqtt/bike leak" in line for line in warnings)


@pytest.mark.parametrize("number", NOT_FINITE)
def test_an_infinite_co_level_never_becomes_a_co_alarm(number: str) -> None:
    # A reading a minute for four hours, the dose model ticking between them: UL 2034 alarms
    # at 400 ppm within minutes, so a level counted as any number past its floor would alarm.
    updates = list(_co_updates(number))
    assert all(update.readings.co_ppm is None for update in updates)
    assert _co_alarms(updates) == []
    # The same series at 400 ppm does alarm: the harness sees a CO alarm where there is one.
    assert _co_alarms(list(_co_updates("400"))) != []


def _co_alarms(updates: list[StateUpdate]) -> list[AlertDecision]:
    timed = [(minute * 60.0, updates[minute % len(updates)]) for minute in range(240)]
    state, alerts = feed(DeviceKind.CO, timed)
    for minute in range(240, 480, 5):
        state, more = ticked(DeviceKind.CO, state, minute * 60.0)
        alerts.extend(more)
    return [a for a in alerts if a.kind is AlertKind.CO and a.state is AlertState.RAISED]


@pytest.mark.mosquitto
async def test_a_press_and_an_alarm_beside_what_cannot_be_read_reach_the_hub(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        # A button whose clock says nothing readable, a detector reporting its battery at 101 %.
        await devices.publish_cli("linli/dev/b3-sos/event", '{"event": "press", "ts": "n/a"}')
        await devices.publish_cli(SMOKE_STATE, '{"smoke": true, "battery_pct": 101}')
        await eventually(lambda: len(hub.alerts) == 2, "the SOS and the smoke alert at the hub")
    assert {(a.kind, a.device_id) for a in hub.alerts} == {
        (AlertKind.SOS, "b3-sos"),
        (AlertKind.SMOKE, "b3-smoke"),
    }
    assert agent.counters["readings_dropped.unreadable_time"] == 1
    assert agent.counters["readings_dropped.out_of_range"] == 1
    assert agent.counters.get("rejected.wrong_type") is None
