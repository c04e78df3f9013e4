"""The edge says its rhythm in its status (``EdgeStatus.heartbeat_s``), with real brokers: the
hub judges its silence by it (``hub.fleet.supervision.EdgeRhythm``), so an installer's 300 s
on a metered uplink or 5 s at a critical site is what the hub expects of it."""

import pytest

from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import SettingsFactory, eventually, running_agent, running_hub

pytestmark = pytest.mark.mosquitto


async def test_every_status_says_the_edges_heartbeat(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.25))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        # The status at connect, then heartbeats.
        await eventually(lambda: len(hub.statuses) >= 3, "the edge's statuses")
    online = [s for s in hub.statuses if s.state == "online"]
    assert online
    assert {s.heartbeat_s for s in online} == {0.25}


async def test_the_status_is_said_again_soon_after_each_connection(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """Back within seconds of its last will, an edge's status at connect is refused by the hub
    as late behind the will (``hub.fleet.status_order``); with a slow heartbeat the edge would
    read offline past the hub's grace. It says its status again ``status_again_after_s`` after
    each connection, well before its next heartbeat."""
    agent = EdgeAgent(make_settings(heartbeat_s=300, status_again_after_s=0.3))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await eventually(lambda: len(hub.statuses) >= 2, "the status at connect, then again")
        # Not a third: the heartbeat is 300 s.
        assert [s.state for s in hub.statuses] == ["online", "online"]


async def test_the_heartbeat_keeps_its_rhythm_while_the_status_waits_to_be_said_again(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    # The status said again after a connection comes beside the heartbeats, never instead of
    # them: a first version slept status_again_after_s before its next heartbeat.
    agent = EdgeAgent(make_settings(heartbeat_s=0.25, status_again_after_s=3600))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await eventually(lambda: len(hub.statuses) >= 4, "the status at connect, then beats")
