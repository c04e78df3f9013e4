"""A new native device speaking docs/contract.md sections 1-2 to a real edge agent over a real
Mosquitto: what the documentation promises its maker.

``ts`` is documented as the event time "bounded by the edge's clock: at most 5 s after the
receive time, and replaced by the receive time when more than a day behind". Detection does
bound it; the reading forwarded to the hub as telemetry kept the device's time as sent, so a
clock never set sent its readings as of 1973 and a clock an hour fast had them refused at the
hub (``time_ahead``, docs/telemetry.md).

``ts`` is documented as "RFC 3339 text or epoch milliseconds". RFC 3339 (section 5.6, NOTE)
lets the ``T`` and ``Z`` be lower case; the edge refused such a ``ts`` and, with it, the whole
message: a smoke detector's ``smoke: true`` stamped ``2026-12-07t09:00:00z`` was no alarm.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, AlertState
from devices.topics import device_subscriptions
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    EDGE_ID,
    SettingsFactory,
    WallClock,
    eventually,
    running_edge,
    telemetry_of,
)

SMOKE_STATE = "linli/dev/b3-smoke/state"


@pytest.mark.mosquitto
async def test_a_smoke_alarm_stamped_in_lower_case_rfc_3339_is_a_smoke_alert(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    stamp = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dt%H:%M:%Sz")
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        # The upper-case twin is taken: the harness sees an alarm where there is one.
        await devices.publish_cli(SMOKE_STATE, f'{{"smoke": true, "ts": "{stamp.upper()}"}}')
        await eventually(lambda: len(hub.alerts) == 1, "the upper-case stamp's smoke alert")
        await devices.publish_cli(SMOKE_STATE, '{"smoke": false}')
        await eventually(lambda: len(hub.alerts) == 2, "the smoke cleared")
        await devices.publish_cli(SMOKE_STATE, f'{{"smoke": true, "ts": "{stamp}"}}')
        await eventually(
            lambda: len(hub.alerts) == 3 or agent.counters.get("rejected.wrong_type", 0) > 0,
            "the lower-case stamp's message handled",
        )

    assert agent.counters.get("rejected.wrong_type", 0) == 0
    # Read as its time, not dropped as unreadable (the alarm would stand without it).
    assert agent.counters.get("readings_dropped.unreadable_time", 0) == 0
    assert [(a.kind, a.state) for a in hub.alerts][-1] == (AlertKind.SMOKE, AlertState.RAISED)


REFUSALS = [
    ("unknown_topic", "linli/dev/b3-smoke/announce", b"{}"),
    ("unknown_topic", "linli/dev/_b3/state", b'{"smoke": true}'),
    ("unknown_device", "linli/dev/nobody-registered/state", b'{"smoke": true}'),
    ("oversized", SMOKE_STATE, b'{"smoke": true, "pad": "' + b"x" * 70_000 + b'"}'),
    ("malformed", "linli/dev/b3-smoke/availability", b"Online"),
    ("malformed", SMOKE_STATE, b'{"smoke": true, "vendor": "\xff"}'),
    ("malformed", "zigbee2mqtt/bike leak", b'{"water_leak": "maybe"}'),
    ("malformed_json", SMOKE_STATE, b"\xef\xbb\xbf" + b'{"smoke": true}'),
    ("not_an_object", SMOKE_STATE, b"[]"),
    ("wrong_type", SMOKE_STATE, b'{"smoke": 1}'),
    ("wrong_type", SMOKE_STATE, b'{"smoke": "yes"}'),
    ("wrong_type", "linli/dev/b3-sos/event", b'{"event": "Press"}'),
]


@pytest.mark.mosquitto
async def test_each_refusal_the_contract_lists_is_counted_under_its_reason(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        for _, topic, payload in REFUSALS:
            await devices.publish(topic, payload)
        await eventually(
            lambda: (
                sum(v for k, v in agent.counters.items() if k.startswith("rejected."))
                >= len(REFUSALS)
            ),
            "every refusal counted",
        )
        # The edge goes on: a documented press after them all is an SOS.
        await devices.publish("linli/dev/b3-sos/event", b'{"event": "press"}')
        await eventually(lambda: len(hub.alerts) == 1, "the press after the refusals")

    expected: dict[str, int] = {}
    for reason, _, _ in REFUSALS:
        expected[f"rejected.{reason}"] = expected.get(f"rejected.{reason}", 0) + 1
    counted = {k: v for k, v in agent.counters.items() if k.startswith("rejected.")}
    assert counted == expected
    assert hub.alerts[0].kind is AlertKind.SOS


NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    "stamped",
    [NOW + timedelta(hours=1), datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)],
    ids=["an-hour-fast", "never-set"],
)
async def test_a_reading_forwarded_to_the_hub_carries_its_time_bounded_by_the_edge(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, stamped: datetime
) -> None:
    agent = EdgeAgent(make_settings(), clock=WallClock(NOW))
    millis = int(stamped.timestamp() * 1000)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli("linli/dev/b3-co/state", f'{{"co_ppm": 12, "ts": {millis}}}')
        point = await telemetry_of(hub, "b3-co")

    assert point.readings.co_ppm == 12
    assert NOW <= point.ts <= NOW + timedelta(seconds=5)


HEAT_SITE = """
[site]
name = "Test Courtyard"
edge_id = "edge-test"

[[devices]]
id = "b3-heat"
kind = "heat"
location = "Building 3/Floor 12/Unit 1201/Kitchen"
"""


@pytest.fixture
def heat_site(site_file: Path) -> Path:
    """The site file, holding one heat detector."""
    site_file.write_text(HEAT_SITE)
    return site_file


@pytest.mark.mosquitto
async def test_two_hot_readings_that_arrive_together_are_two_consecutive_readings(
    mosquitto: MosquittoProcess, heat_site: Path, make_settings: SettingsFactory
) -> None:
    # docs/detection.md: heat is ">= 57 °C on 2 consecutive readings". Two readings without
    # `ts` (receive time: docs/contract.md section 2) queued for the edge's persistent session
    # while it restarts arrive together; the edge stamped both with one receive time and took
    # the second for a late copy of the first, so the fire waited for the 60 s standing rule.
    async with aiomqtt.Client(
        mosquitto.host,
        mosquitto.port,
        identifier=f"linli-edge-{EDGE_ID}-local",
        clean_session=False,
    ) as edge:
        await edge.subscribe([(topic, 1) for topic in device_subscriptions()])
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as detector:
        await detector.publish("linli/dev/b3-heat/state", '{"temperature_c": 90}', qos=1)
        await detector.publish("linli/dev/b3-heat/state", '{"temperature_c": 91}', qos=1)

    # The edge's wall clock stands still: the 60 s standing rule cannot raise, only the two
    # readings can.
    agent = EdgeAgent(make_settings(), clock=WallClock(NOW))
    async with running_edge(mosquitto, agent) as (hub, _):
        await eventually(
            lambda: sum(len(batch.points) for batch in hub.telemetry) == 2,
            "both readings committed and forwarded",
        )
        await eventually(
            lambda: len(hub.alerts) == agent.counters.get("alerts_created", 0),
            "what the edge raised at the hub",
        )

    assert [(a.kind, a.state) for a in hub.alerts] == [(AlertKind.HEAT, AlertState.RAISED)]
    [alert] = hub.alerts
    assert alert.reason.rule == "temperature_c>=57 on 2 consecutive readings"
