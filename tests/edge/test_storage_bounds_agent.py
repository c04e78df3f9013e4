"""The edge agent through a long hub outage, with real brokers: its outbox and door log stay
bounded, an SOS still goes out, and the edge status tells the hub how much was shed."""

from functools import partial

import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from edge.outbox_shed import Shedder
from linli.brokers import MosquittoProcess
from tests.edge.conftest import Devices, SettingsFactory, eventually, running_agent, running_hub
from tests.edge.test_edge_resilience import fill_the_disk
from tests.edge.test_edge_resilience_agent import FILLERS_NEVER_SENT
from tests.edge.test_storage_bounds import commit_one_by_one, flapping, granted

pytestmark = pytest.mark.mosquitto

CAP = 50
SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"


async def test_the_hub_is_told_what_a_long_outage_shed_and_still_gets_the_sos(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.2))
    # The bounds of a small card (the settings' own are too large to fill in a test).
    agent.outbox._shedder = Shedder(CAP)
    agent.access.store.max_log_records = CAP
    leak = flapping("bike-leak", AlertKind.WATER_LEAK, 3 * CAP + 1)
    # The hub's broker is there, the hub itself commits nothing: nothing is acknowledged.
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        await agent._db.call(commit_one_by_one, agent.outbox, leak)
        for i in range(0, 3 * CAP, 10):
            await agent.access._db.call(
                agent.access.store.record, [granted(j) for j in range(i, i + 10)]
            )

        await Devices(mosquitto).publish(SOS_TOPIC, '{"action": "emergency"}')

        await eventually(
            lambda: any(a.kind is AlertKind.SOS for a in hub.alerts), "the SOS at the hub"
        )
        assert agent.outbox.depth() <= CAP + 1
        assert agent.access.store.log_depth() == CAP

        def shed_reported() -> bool:
            counters = hub.statuses[-1].counters if hub.statuses else {}
            return (
                counters.get("outbox_shed") == 3 * CAP + 1 - (agent.outbox.depth() - 1)
                and counters.get("access_log_shed") == 2 * CAP
            )

        await eventually(shed_reported, "a status that counts what was shed")


async def test_the_hub_is_told_once_the_card_refused_a_write(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.2))
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        with agent.outbox._lock:
            fill_the_disk(agent.outbox)
            agent.outbox._db.execute(FILLERS_NEVER_SENT)

        for _ in range(3):
            await Devices(mosquitto).publish(SOS_TOPIC, '{"action": "emergency"}')

        await eventually(lambda: len(hub.alerts) >= 3, "the three SOS at the hub")
        await eventually(
            lambda: hub.statuses[-1].counters.get("outbox_write_refused") == 1,
            "a status counting the refusal once",
        )
        assert hub.statuses[-1].in_memory == ["outbox"]


def all_sent(agent: EdgeAgent, n: int) -> bool:
    return agent.counters["access.log_sent"] >= n


async def test_records_shed_while_the_hub_does_not_acknowledge_are_not_remembered_as_sent(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The access link remembers when it sent each record, until the hub acknowledges it; a
    record shed unacknowledged (the hub's broker up, the hub down, a reader stuck for days)
    was remembered for good: the edge's memory grew by every record logged."""
    agent = EdgeAgent(make_settings())
    agent.access.store.max_log_records = 20
    link = agent.access.hub
    async with running_agent(agent):  # nobody on the hub's broker acknowledges
        sent = 0
        for i in range(0, 300, 10):
            await agent.access._db.call(
                agent.access.store.record, [granted(j) for j in range(i, i + 10)]
            )
            link.log_wake.set()
            sent += 10
            await eventually(partial(all_sent, agent, sent), "the records sent")

        assert agent.access.store.log_depth() == 20
        assert len(link._sent) <= 20


def test_the_agent_bounds_its_stores_by_its_settings(make_settings: SettingsFactory) -> None:
    # LINLI_EDGE_OUTBOX_MAX_ALERTS and LINLI_EDGE_ACCESS_LOG_MAX_RECORDS reach the stores.
    agent = EdgeAgent(make_settings(outbox_max_alerts=5000, access_log_max_records=7000))
    try:
        assert agent.outbox._shedder.cap == 5000
        assert agent.access.store.max_log_records == 7000
    finally:
        agent.outbox.close()
