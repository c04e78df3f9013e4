"""The edge agent on a card that fails it, with real brokers: a full disk, a damaged outbox."""

import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from edge.outbox import FILE_NAME
from linli.brokers import MosquittoProcess
from tests.edge.conftest import Devices, SettingsFactory, eventually, running_agent, running_hub
from tests.edge.test_edge_resilience import fill_the_disk

pytestmark = pytest.mark.mosquitto

SMOKE_STATE = "linli/dev/b3-smoke/state"


async def test_a_smoke_alarm_reaches_the_hub_when_the_card_is_full(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_hub(mosquitto) as hub, running_agent(agent):
        with agent.outbox._lock:
            fill_the_disk(agent.outbox)
            # The rows that fill it are no alerts: on the wire for ever, never sent.
            agent.outbox._db.execute(
                "INSERT INTO in_flight SELECT id, 1e18 FROM alerts WHERE device_id = 'filler'"
            )

        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')

        await eventually(lambda: len(hub.alerts) == 1, "the smoke alarm at the hub")
        assert hub.alerts[0].kind is AlertKind.SMOKE
        await eventually(lambda: agent.outbox.depth() < 2, "the hub's ack to settle it")
        assert agent.counters.get("outbox_errors", 0) == 0  # no reconnect, no redelivery


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
