"""An alert held for a device the hub does not know yet is held for ITS edge
(``hub.ingest.unknown_devices``): against a real Mosquitto and SQLite, the hub's clock injected.

Before, the account was kept by alert id alone. Alert ids are each edge's own and some are
guessable (a door alarm's is derived from its edge, door and count), so another edge (a
stolen one) that sent an alert under the id first, about a device nobody registered, started
the id's grace early: the real edge's door alarm, held while the status registering its
reader was on its way, was refused for good and acknowledged at its first copy, and its edge
deleted it.
"""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from devices.kinds import AlertKind, Severity
from devices.topics import EdgeChannel, edge_topic
from hub.cases.results import AlertRef, RejectedAlert
from hub.ingest.link import MqttIngest
from hub.ingest.unknown_devices import UnknownDeviceGrace
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device, make_status
from tests.hub.test_ingest_mqtt import acked, edge_client, hub_settings
from tests.polling import until

DOOR_ALARM_ID = "door-gate2-0000000017"  # its edge's door and count: guessable


def _held(edge_id: str, alert_id: str = DOOR_ALARM_ID) -> RejectedAlert:
    return RejectedAlert(AlertRef(alert_id, edge_id, f"{edge_id}-door"), "unknown_device")


def test_another_edges_alert_under_the_same_id_does_not_start_its_grace() -> None:
    grace = UnknownDeviceGrace(120)
    assert grace.judge([_held("thief")], T0) == ([_held("thief")], [])
    later = T0 + timedelta(minutes=3)
    # The real edge's alert under that id is held for a grace of its own.
    assert grace.judge([_held("victim")], later) == ([_held("victim")], [])
    assert grace.judge([_held("thief")], later) == ([], [_held("thief")])
    assert len(grace) == 1
    grace.forget([DOOR_ALARM_ID])
    assert len(grace) == 0


@pytest.mark.mosquitto
async def test_a_stolen_edge_cannot_use_up_the_grace_of_another_edges_door_alarm(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto, tmp_path)
    settings.unknown_device_grace_s = 120
    engine = create_hub_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    store = HubStore(engine)
    clock = FakeClock()
    ingest = MqttIngest(settings, store, EventBus(), clock=clock)

    def door_forced(edge_id: str) -> str:
        return make_alert(
            id=DOOR_ALARM_ID,
            edge_id=edge_id,
            device_id=f"{edge_id}-door",
            kind=AlertKind.DOOR_FORCED,
            severity=Severity.HIGH,
        ).model_dump_json()

    async def judged(count: int) -> None:
        async def reached() -> bool:
            counted = ingest.counters
            return counted["deferred.unknown_device"] + counted["rejected.unknown_device"] >= count

        await until(reached, f"{count} alerts about unknown devices judged")

    try:
        async with (
            running(ingest.run()),
            edge_client(mosquitto, "thief") as thief,
            edge_client(mosquitto, "victim") as victim,
        ):

            async def connected() -> bool:
                return ingest.connected

            await until(connected, "the ingest is connected")
            # The thief sends the victim's next door alarm id ahead, about a reader nobody
            # registered: held.
            await thief.publish(edge_topic("thief", EdgeChannel.ALERT), door_forced("thief"), qos=1)
            await judged(1)

            # Minutes later the gate is forced; the victim's status listing the reader was
            # lost, so the hub does not know it yet: held, not refused.
            clock.advance(180)
            victim_topic = edge_topic("victim", EdgeChannel.ALERT)
            await victim.publish(victim_topic, door_forced("victim"), qos=1)
            await judged(2)
            assert ingest.counters["rejected.unknown_device"] == 0
            assert ingest.counters["deferred.unknown_device"] == 2

            # Its next status registers the reader; its re-send is stored and cased.
            reader = make_device("victim-door", location="Gate 2", edge_id="victim")
            status = make_status("victim", devices=[reader]).model_dump_json()
            await victim.publish(edge_topic("victim", EdgeChannel.STATUS), status, qos=1)

            async def registered() -> bool:
                return "victim-door" in (
                    await asyncio.to_thread(store.fleet.device_edges, {"victim-door"})
                )

            await until(registered, "the victim's status registers its reader")
            await victim.publish(victim_topic, door_forced("victim"), qos=1)
            await acked(victim, DOOR_ALARM_ID, edge_id="victim")
        stored = store.cases.list_alerts()
        assert [(a.edge_id, a.device_id) for a in stored] == [("victim", "victim-door")]
        assert ingest.counters["rejected.unknown_device"] == 0
    finally:
        engine.dispose()
