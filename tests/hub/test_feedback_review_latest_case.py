"""Reviewer's tests: a button hears only its latest case, through a real Mosquitto.

A button's resident sees one light: what the hub tells it about an older case of the button
(closed or reviewed after the resident pressed again) must not overwrite the stage of the
request the resident is waiting on now.
"""

import asyncio
from collections import Counter
from datetime import timedelta

import aiomqtt
import pytest

from devices.kinds import AlertKind, Severity
from devices.messages import CaseFeedback, FeedbackStage
from devices.topics import EdgeChannel, edge_topic
from hub.cases.changes import CaseChanges
from hub.cases.feedback import FeedbackPublisher
from hub.cases.rules import CaseAction, Resolution
from hub.live.events import EventBus
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.test_feedback import sos_case

pytestmark = pytest.mark.mosquitto

SOS_ONLY = frozenset({AlertKind.SOS})
BUTTON = "b3-1201-sos"
DEADLINE = 15.0


async def received_until(
    messages: "asyncio.Queue[CaseFeedback]", case_id: int, stage: FeedbackStage
) -> list[tuple[int, FeedbackStage]]:
    """Return the (case, stage) the edge received, up to and including ``(case_id, stage)``."""
    seen: list[tuple[int, FeedbackStage]] = []
    async with asyncio.timeout(DEADLINE):
        while not seen or seen[-1] != (case_id, stage):
            feedback = await messages.get()
            seen.append((feedback.case_id, feedback.stage))
    return seen


async def test_closing_an_old_case_does_not_tell_the_button_its_new_request_is_over(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    # The resident's first call was handled and resolved; a day later they press again and
    # wait. Only then does an operator close the old case (the weekly review): the button
    # must go on showing the new request's stage, not "resolved" (LED off, buzzer off).
    first = sos_case(store, BUTTON, clock())
    store.cases.acknowledge(first.id, "patrol going")
    store.cases.resolve(first.id, "helped up", resolution=Resolution.REAL)
    clock.advance(24 * 3600)
    second = sos_case(store, BUTTON, clock())
    assert second.id != first.id

    edge_messages: asyncio.Queue[CaseFeedback] = asyncio.Queue()
    counters: Counter[str] = Counter()
    async with (
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="edge-e1") as edge,
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="hub") as hub,
    ):
        await edge.subscribe(edge_topic("e1", EdgeChannel.FEEDBACK), qos=1)

        async def read() -> None:
            async for message in edge.messages:
                assert isinstance(message.payload, bytes)
                await edge_messages.put(CaseFeedback.model_validate_json(message.payload))

        publisher = FeedbackPublisher(store, lambda: hub, counters, kinds=SOS_ONLY)
        changes = CaseChanges(EventBus(), publisher)
        async with running(read()), running(publisher.run()):
            changes.case_changed(second)
            heard = await received_until(edge_messages, second.id, FeedbackStage.CASE_OPENED)
            closed = store.cases.act(first.id, CaseAction.CLOSE, note="reviewed")
            changes.case_changed(closed)  # as the route does for every action but a comment
            acknowledged = store.cases.acknowledge(second.id, "patrol going")
            changes.case_changed(acknowledged)
            heard += await received_until(edge_messages, second.id, FeedbackStage.ACKNOWLEDGED)
    assert heard == [
        (second.id, FeedbackStage.CASE_OPENED),
        (second.id, FeedbackStage.ACKNOWLEDGED),
    ]


async def test_a_new_press_stamped_early_by_a_slow_edge_clock_is_still_the_buttons_latest(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    # The edge lost its network time in a power cut: its clock is two days behind, so the
    # resident's new press is stamped before the old call. It is still the one they wait on.
    first = sos_case(store, BUTTON, clock())
    store.cases.resolve(first.id, "helped up", resolution=Resolution.REAL)
    clock.advance(24 * 3600)
    alert = make_alert(
        device_id=BUTTON,
        kind=AlertKind.SOS,
        severity=Severity.CRITICAL,
        ts=clock() - timedelta(days=2),
    )
    [second] = store.intake.ingest_alerts([alert], clock()).cases_opened

    edge_messages: asyncio.Queue[CaseFeedback] = asyncio.Queue()
    counters: Counter[str] = Counter()
    async with (
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="edge-e1") as edge,
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="hub") as hub,
    ):
        await edge.subscribe(edge_topic("e1", EdgeChannel.FEEDBACK), qos=1)

        async def read() -> None:
            async for message in edge.messages:
                assert isinstance(message.payload, bytes)
                await edge_messages.put(CaseFeedback.model_validate_json(message.payload))

        publisher = FeedbackPublisher(store, lambda: hub, counters, kinds=SOS_ONLY)
        changes = CaseChanges(EventBus(), publisher)
        async with running(read()), running(publisher.run()):
            changes.case_changed(second)
            heard = await received_until(edge_messages, second.id, FeedbackStage.CASE_OPENED)
            changes.case_changed(store.cases.act(first.id, CaseAction.CLOSE, note="reviewed"))
            changes.case_changed(store.cases.acknowledge(second.id, "patrol going"))
            heard += await received_until(edge_messages, second.id, FeedbackStage.ACKNOWLEDGED)
    assert heard == [
        (second.id, FeedbackStage.CASE_OPENED),
        (second.id, FeedbackStage.ACKNOWLEDGED),
    ]
