"""Group commit at the edge: device messages that arrive together share one outbox transaction.

Component tests drive ``DeviceIngest.on_device_messages`` on a real SQLite outbox with the
messages as the broker hands them over; the last test runs the agent against a real
Mosquitto, with the outbox refusing every write, to show that no message of a group is
acknowledged before the group's transaction commits.
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from edge.detection import DeviceState
from edge.outbox import FILE_NAME, OutboxError
from edge.settings import EdgeSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    SITE_TOML,
    SettingsFactory,
    eventually,
    no_jitter,
    running_agent,
    running_hub,
)

pytestmark = pytest.mark.mosquitto

GAS_DEVICES = ("boiler-gas-1", "boiler-gas-2")
T0 = datetime(2026, 12, 2, 3, tzinfo=UTC)


@pytest.fixture
def gas_site(site_file: Path) -> Path:
    """The test site with two gas detectors added."""
    extra = "".join(
        f'\n[[devices]]\nid = "{d}"\nkind = "gas"\nlocation = "Basement/Boiler room"\n'
        for d in GAS_DEVICES
    )
    site_file.write_text(SITE_TOML + extra)
    return site_file


def gas_topic(device_id: str) -> str:
    return f"linli/dev/{device_id}/state"


def gas_reading(i: int) -> str:
    """Reading ``i`` of a detector: its own gas flag on when even, off when odd. (The flag
    clears at once; a measured level only after every reading was clean for 5 min.)"""
    ts = (T0 + timedelta(seconds=i)).isoformat()
    return json.dumps({"gas": i % 2 == 0, "ts": ts})


def transitions(per_device: int) -> list[tuple[str, str]]:
    """Readings of both detectors interleaved, each an alert transition of its device."""
    return [
        (gas_topic(device), gas_reading(i)) for i in range(per_device) for device in GAS_DEVICES
    ]


def as_received(messages: list[tuple[str, str]]) -> list[aiomqtt.Message]:
    """The messages as the broker hands them to the ingest (QoS 1, numbered)."""
    return [
        aiomqtt.Message(topic, payload.encode(), 1, False, mid, None)
        for mid, (topic, payload) in enumerate(messages, start=1)
    ]


def stored_alerts(settings: EdgeSettings) -> list[tuple[str, str]]:
    """Return (device, state) of every stored alert, in insertion order."""
    with closing(sqlite3.connect(settings.data_dir / FILE_NAME)) as db:
        rows = db.execute("SELECT body FROM alerts ORDER BY seq").fetchall()
    return [(json.loads(b)["device_id"], json.loads(b)["state"]) for (b,) in rows]


def expected(per_device: int) -> list[tuple[str, str]]:
    states = [AlertState.RAISED if i % 2 == 0 else AlertState.CLEARED for i in range(per_device)]
    return [(device, str(state)) for state in states for device in GAS_DEVICES]


def refuse_writes(settings: EdgeSettings) -> None:
    with closing(sqlite3.connect(settings.data_dir / FILE_NAME)) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON alerts "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )


def accept_writes(settings: EdgeSettings) -> None:
    with closing(sqlite3.connect(settings.data_dir / FILE_NAME)) as db:
        db.execute("DROP TRIGGER refuse")


@pytest.fixture
def agent(gas_site: Path, make_settings: SettingsFactory) -> Iterator[EdgeAgent]:
    """An agent of the gas site, not started: the test drives its ingest by hand."""
    agent = EdgeAgent(make_settings())
    yield agent
    agent.outbox.close()


async def test_messages_that_arrive_together_are_one_transaction_in_order(
    agent: EdgeAgent,
) -> None:
    await agent.ingest.on_device_messages(as_received(transitions(10)))
    assert agent.counters["outbox_groups"] == 1
    assert agent.counters["messages_received"] == 20
    assert agent.counters["alerts_created"] == 20
    # Several messages of one device in one group chain like one at a time: every
    # reading is a transition, and each device's alerts keep their order.
    assert stored_alerts(agent.settings) == expected(10)
    assert all(agent.detection.states[d] != DeviceState() for d in GAS_DEVICES)


async def test_a_group_whose_commit_fails_changes_nothing_and_succeeds_when_delivered_again(
    agent: EdgeAgent,
) -> None:
    messages = as_received(transitions(5))
    refuse_writes(agent.settings)
    with pytest.raises(OutboxError):
        await agent.ingest.on_device_messages(messages)
    # Nothing of the group counts: no state advanced (the redelivery must raise the
    # same alerts again), nothing announced, stored or queued for telemetry.
    assert agent.detection.states == {}
    assert "alerts_created" not in agent.counters
    assert agent.outbox.depth() == 0
    assert len(agent.uplink._telemetry) == 0

    accept_writes(agent.settings)
    await agent.ingest.on_device_messages(messages)
    assert stored_alerts(agent.settings) == expected(5)
    assert agent.counters["outbox_groups"] == 1


async def test_an_sos_in_a_group_goes_to_the_hub_ahead_of_the_gas_alerts_before_it(
    agent: EdgeAgent,
) -> None:
    sos = ("zigbee2mqtt/b3 1201 sos", json.dumps({"action": "emergency"}))
    await agent.ingest.on_device_messages(as_received([*transitions(3), sos]))
    due = agent.outbox.due(now=0.0, limit=100)
    assert due[0].kind is AlertKind.SOS
    assert [(a.device_id, str(a.state)) for a in due[1:]] == expected(3)
    # Shown on the button only once the group is stored and acknowledged (see _read).
    assert [stage for _, stage in agent.ingest._pending_feedback] == ["received"]


async def test_no_message_of_a_group_is_acknowledged_before_its_commit(
    mosquitto: MosquittoProcess, gas_site: Path, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    async with running_hub(mosquitto) as hub:
        # Once, for the persistent session that keeps what the devices send meanwhile.
        async with running_agent(EdgeAgent(settings)):
            pass
        readings = transitions(30)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            for topic, payload in readings:
                await client.publish(topic, payload, qos=1)
        refuse_writes(settings)
        agent = EdgeAgent(settings, rng=no_jitter)
        async with running_agent(agent):
            # The backlog arrives and its commits fail; had any message been acknowledged
            # anyway, the broker would not deliver it again and its alert would be lost.
            await eventually(lambda: agent.counters.get("outbox_errors", 0) >= 2, "redeliveries")
            assert hub.alerts == []
            accept_writes(settings)
            await eventually(lambda: len(hub.alerts) >= len(readings), "every alert at the hub")
            await eventually(lambda: agent.outbox.depth() == 0, "the acks")
        got = [(a.device_id, str(a.state)) for a in hub.alerts]
        assert len({a.id for a in hub.alerts}) == len(hub.alerts) == len(readings)
        for device in GAS_DEVICES:
            assert [s for d, s in got if d == device] == [s for d, s in expected(30) if d == device]
