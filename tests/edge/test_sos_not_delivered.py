"""What a resident's button shows when her SOS cannot reach the hub (real Mosquitto brokers,
a real agent, the agent's monotonic clock moved by the test).

Before ``edge.sos_watch`` the button showed ``received`` at the press and then nothing, for
ever, with the hub's broker down or the hub not acknowledging: the resident believed help was
coming. Now a press the hub has not acknowledged ``sos_not_delivered_after_s`` after it was
stored shows ``not_delivered``, again every minute while the button still shows it (at most
ten more times); the press is still delivered when the hub is back, and the button then shows
``received`` again and the hub's stages as usual.
"""

import asyncio
import json

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.messages import CaseFeedback, FeedbackStage
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from edge.feedback import feedback_command
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    EDGE_ID,
    FakeHub,
    ManualClock,
    SettingsFactory,
    eventually,
    no_jitter,
    running_edge,
)
from tests.edge.test_feedback_review_local_outage import squawks_heard

pytestmark = pytest.mark.mosquitto

SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"
PRESS = '{"action":"emergency"}'


def squawk(stage: FeedbackStage) -> object:
    """The command the site's Zigbee SOS button (conftest's site file) gets for ``stage``."""
    button = Device(
        id="b3-sos", kind=DeviceKind.SOS_BUTTON, location="Unit 1201", zigbee_name="b3 1201 sos"
    )
    command = feedback_command(button, stage)
    assert command is not None
    return json.loads(command.payload)


RECEIVED = squawk(FeedbackStage.RECEIVED)
NOT_DELIVERED = squawk(FeedbackStage.NOT_DELIVERED)
CASE_OPENED = squawk(FeedbackStage.CASE_OPENED)


async def looked_again(agent: EdgeAgent, clock: ManualClock) -> None:
    """Wait until the SOS watch has looked at the buttons at the clock's now."""
    await eventually(lambda: agent.sos_watch.checked_at >= clock.now, "the SOS watch to look")


async def case_opened(hub: FakeHub, case_id: int = 7) -> None:
    feedback = CaseFeedback(device_id="b3-sos", case_id=case_id, stage=FeedbackStage.CASE_OPENED)
    await hub.publish(edge_topic(EDGE_ID, EdgeChannel.FEEDBACK), feedback.model_dump_json())


async def test_hub_unreachable_at_the_press_shows_not_delivered_then_the_hub_stages_when_back(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    settings = make_settings(hub_mqtt_port=hub_broker.port, sos_not_delivered_after_s=30)
    agent = EdgeAgent(settings, monotonic=clock, rng=no_jitter)
    async with (
        running_edge(mosquitto, agent, hub_broker=hub_broker) as (hub, devices),
        squawks_heard(mosquitto) as squawks,
    ):
        await asyncio.to_thread(hub_broker.stop)
        await eventually(lambda: not agent.uplink_ready, "the agent to lose the hub's broker")
        await devices.publish(SOS_TOPIC, PRESS)
        await eventually(lambda: squawks == [RECEIVED], "received on the button")

        clock.advance(29)
        await looked_again(agent, clock)
        assert squawks == [RECEIVED]  # not yet

        clock.advance(1)
        await eventually(lambda: len(squawks) == 2, "not_delivered on the button")
        assert squawks == [RECEIVED, NOT_DELIVERED]
        # Counted once the button's publish is acknowledged: a moment after it is heard.
        await eventually(lambda: agent.counters["sos_not_delivered"] == 1, "counted")
        clock.advance(59)
        await looked_again(agent, clock)
        assert squawks == [RECEIVED, NOT_DELIVERED]  # not at every look
        clock.advance(1)  # a minute on, the button still shows it: shown again
        await eventually(lambda: len(squawks) == 3, "not_delivered again")
        assert squawks == [RECEIVED, NOT_DELIVERED, NOT_DELIVERED]
        await eventually(lambda: agent.counters["sos_not_delivered_repeated"] == 1, "counted")
        assert agent.counters["sos_not_delivered"] == 1  # one press

        # Two minutes after the press the hub's broker is back: the press is delivered.
        clock.advance(30)
        await asyncio.to_thread(hub_broker.start)
        await eventually(
            lambda: [a.kind for a in hub.alerts] == [AlertKind.SOS],
            "the SOS at the hub",
            deadline_s=40,
        )
        await eventually(lambda: len(squawks) == 4, "received again on the button")
        assert squawks[3] == RECEIVED
        assert agent.counters["sos_delivered_late"] == 1
        await case_opened(hub)
        await eventually(lambda: len(squawks) == 5, "the hub's stage on the button")
        assert squawks == [RECEIVED, NOT_DELIVERED, NOT_DELIVERED, RECEIVED, CASE_OPENED]
        clock.advance(600)  # delivered: nothing more of not_delivered
        await looked_again(agent, clock)
        assert len(squawks) == 5


async def test_hub_silent_after_the_press_shows_not_delivered_until_its_stage_comes(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The link goes down right after the press went out (the hub dead behind its broker):
    the hub's late stage replaces not_delivered, and an ack after it does not undo it."""
    clock = ManualClock()
    settings = make_settings(hub_mqtt_port=hub_broker.port, sos_not_delivered_after_s=30)
    agent = EdgeAgent(settings, monotonic=clock, rng=no_jitter)
    async with (
        running_edge(mosquitto, agent, hub_broker=hub_broker, auto_ack=False) as (hub, devices),
        squawks_heard(mosquitto) as squawks,
    ):
        await devices.publish(SOS_TOPIC, PRESS)
        await eventually(lambda: bool(hub.alerts), "the SOS on the wire")
        await eventually(lambda: squawks == [RECEIVED], "received on the button")
        clock.advance(30)
        await eventually(lambda: len(squawks) == 2, "not_delivered on the button")
        assert squawks[1] == NOT_DELIVERED

        await case_opened(hub)  # the hub's stage first, its ack after
        await eventually(lambda: len(squawks) == 3, "the hub's stage on the button")
        # The hub's stage shows: not_delivered is not shown again, though no ack has come.
        clock.advance(60)
        await looked_again(agent, clock)
        assert squawks == [RECEIVED, NOT_DELIVERED, CASE_OPENED]
        await hub.ack([hub.alerts[0].id])
        await eventually(lambda: agent.counters["sos_delivered_late"] == 1, "the late ack")
        clock.advance(0.5)
        await looked_again(agent, clock)
        assert squawks == [RECEIVED, NOT_DELIVERED, CASE_OPENED]
        assert agent.counters["sos_not_delivered_repeated"] == 0


async def test_a_press_the_hub_acknowledges_in_time_never_shows_not_delivered(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    agent = EdgeAgent(make_settings(sos_not_delivered_after_s=30), monotonic=clock)
    async with (
        running_edge(mosquitto, agent) as (hub, devices),
        squawks_heard(mosquitto) as squawks,
    ):
        await devices.publish(SOS_TOPIC, PRESS)
        await eventually(lambda: bool(hub.alerts), "the SOS at the hub")
        await eventually(lambda: agent.counters["alerts_acked"] >= 1, "its ack at the edge")
        await eventually(lambda: squawks == [RECEIVED], "received on the button")
        clock.advance(300)
        await looked_again(agent, clock)
        assert squawks == [RECEIVED]
        assert agent.counters["sos_not_delivered"] == 0


async def test_not_delivered_due_while_the_site_broker_is_down_shows_when_it_is_back(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    settings = make_settings(hub_mqtt_port=hub_broker.port, sos_not_delivered_after_s=30)
    agent = EdgeAgent(settings, monotonic=clock, rng=no_jitter)
    async with running_edge(mosquitto, agent, hub_broker=hub_broker) as (_hub, devices):
        await asyncio.to_thread(hub_broker.stop)
        await eventually(lambda: not agent.uplink_ready, "the agent to lose the hub's broker")
        async with squawks_heard(mosquitto) as squawks:
            await devices.publish(SOS_TOPIC, PRESS)
            await eventually(lambda: squawks == [RECEIVED], "received on the button")
        await asyncio.to_thread(mosquitto.stop)
        await eventually(lambda: not agent.local_ready, "the agent to lose its site broker")
        clock.advance(30)
        await looked_again(agent, clock)
        assert agent.counters["sos_not_delivered"] == 0  # not told yet: no way to tell
        await asyncio.to_thread(mosquitto.start)
        await eventually(lambda: agent.local_ready, "the site broker back", deadline_s=40)
        # Published to the broker (a listener subscribing now could miss it by a hair).
        await eventually(
            lambda: agent.counters["feedback.not_delivered"] == 1, "not_delivered on the button"
        )
        assert agent.counters["sos_not_delivered"] == 1


async def test_a_press_stored_before_an_edge_restart_is_still_told_not_delivered(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The edge restarts (a power blip, an update) within the 30 s, the hub still not
    answering (its broker back, the hub dead behind it): the press waits in the outbox, and its
    button must still hear that it was not delivered."""
    settings = make_settings(hub_mqtt_port=hub_broker.port, sos_not_delivered_after_s=30)
    clock = ManualClock()
    agent = EdgeAgent(settings, monotonic=clock, rng=no_jitter)
    async with (
        running_edge(mosquitto, agent, hub_broker=hub_broker) as (_hub, devices),
        squawks_heard(mosquitto) as squawks,
    ):
        await asyncio.to_thread(hub_broker.stop)
        await eventually(lambda: not agent.uplink_ready, "the agent to lose the hub's broker")
        await devices.publish(SOS_TOPIC, PRESS)
        await eventually(lambda: squawks == [RECEIVED], "received on the button")
        clock.advance(10)
        await looked_again(agent, clock)
    assert squawks == [RECEIVED]

    await asyncio.to_thread(hub_broker.start)
    clock = ManualClock()
    again = EdgeAgent(settings, monotonic=clock, rng=no_jitter)
    async with (
        running_edge(mosquitto, again, hub_broker=hub_broker, auto_ack=False) as (hub, _),
        squawks_heard(mosquitto) as squawks,
    ):
        clock.advance(29)
        await looked_again(again, clock)
        assert squawks == []
        clock.advance(1)
        await eventually(lambda: squawks == [NOT_DELIVERED], "not_delivered after the restart")
        await eventually(lambda: again.counters["sos_not_delivered"] == 1, "counted")
        # Sent (again at each resend), never acknowledged: one press.
        assert {(a.id, a.kind) for a in hub.alerts} == {(hub.alerts[0].id, AlertKind.SOS)}
