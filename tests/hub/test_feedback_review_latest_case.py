"""Reviewer's tests: a button hears only its latest case, through a real Mosquitto.

A button's resident sees one light: what the hub tells it about an older case of the button
(closed or reviewed after the resident pressed again) must not overwrite the stage of the
request the resident is waiting on now.
"""

from datetime import timedelta

import pytest

from devices.kinds import AlertKind, Severity
from devices.messages import FeedbackStage
from hub.cases.changes import CaseChanges
from hub.cases.rules import CaseAction, Resolution
from hub.live.events import EventBus
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.feedback_link import edge_hearing, publisher, received_until
from tests.hub.test_feedback import sos_case

pytestmark = pytest.mark.mosquitto

BUTTON = "b3-1201-sos"


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

    async with edge_hearing(mosquitto, "hub") as (edge_messages, [hub]):
        sender = publisher(store, hub)
        changes = CaseChanges(EventBus(), sender)
        async with running(sender.run()):
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

    async with edge_hearing(mosquitto, "hub") as (edge_messages, [hub]):
        sender = publisher(store, hub)
        changes = CaseChanges(EventBus(), sender)
        async with running(sender.run()):
            changes.case_changed(second)
            heard = await received_until(edge_messages, second.id, FeedbackStage.CASE_OPENED)
            changes.case_changed(store.cases.act(first.id, CaseAction.CLOSE, note="reviewed"))
            changes.case_changed(store.cases.acknowledge(second.id, "patrol going"))
            heard += await received_until(edge_messages, second.id, FeedbackStage.ACKNOWLEDGED)
    assert heard == [
        (second.id, FeedbackStage.CASE_OPENED),
        (second.id, FeedbackStage.ACKNOWLEDGED),
    ]
