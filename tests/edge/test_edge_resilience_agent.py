"""The edge agent on a card that fails it, with real brokers: a full disk, a damaged outbox."""

import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from edge.outbox import FILE_NAME
from linli.brokers import MosquittoProcess
from tests.edge.conftest import Devices, SettingsFactory, eventually, running_agent, running_hub
from tests.edge.test_edge_resilience import fill_the_disk, free_the_disk

pytestmark = pytest.mark.mosquitto

SMOKE_STATE = "linli/dev/b3-smoke/state"
FILLERS_NEVER_SENT = "INSERT INTO in_flight SELECT id, 1e18 FROM alerts WHERE device_id = 'filler'"
"""The rows that fill the disk are no alerts: on the wire for ever, never sent."""


async def test_a_smoke_alarm_reaches_the_hub_when_the_card_is_full(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_hub(mosquitto) as hub, running_agent(agent):
        with agent.outbox._lock:
            fill_the_disk(agent.outbox)
            agent.outbox._db.execute(FILLERS_NEVER_SENT)

        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')

        await eventually(lambda: len(hub.alerts) == 1, "the smoke alarm at the hub")
        assert hub.alerts[0].kind is AlertKind.SMOKE
        await eventually(lambda: agent.outbox.depth() < 2, "the hub's ack to settle it")
        assert agent.counters.get("outbox_errors", 0) == 0  # no reconnect, no redelivery


async def test_the_hub_hears_while_alerts_are_held_in_memory_only(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The edge's status names the stores its disk refused, so that the operator sees which
    card to replace before a power cut loses what they hold."""
    agent = EdgeAgent(make_settings(heartbeat_s=0.2))
    # No acknowledgement: nothing is deleted, so nothing makes room on the full card.
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        await eventually(lambda: len(hub.statuses) > 0, "the edge's first status")
        assert hub.statuses[-1].in_memory == []
        with agent.outbox._lock:
            fill_the_disk(agent.outbox)
            agent.outbox._db.execute(FILLERS_NEVER_SENT)

        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')

        await eventually(lambda: len(hub.alerts) >= 1, "the smoke alarm at the hub")
        await eventually(
            lambda: hub.statuses[-1].in_memory == ["outbox"], "a status naming the outbox"
        )
        with agent.outbox._lock:
            free_the_disk(agent.outbox)
        await hub.ack([hub.alerts[0].id])
        await eventually(lambda: hub.statuses[-1].in_memory == [], "a status with all on disk")


async def test_an_agent_whose_outbox_file_is_damaged_starts_and_alarms(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / FILE_NAME).write_bytes(b"\0" * 4096)  # a power cut mid-write

    agent = EdgeAgent(settings)
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')

        await eventually(lambda: len(hub.alerts) == 1, "the smoke alarm at the hub")
