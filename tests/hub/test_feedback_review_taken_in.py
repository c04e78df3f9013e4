"""Reviewer's tests: a press taken into a fire case that came back — the button follows the
fire case, not an older call of its own (a real hub store; the edge's side on a real Mosquitto).

A button's cases are not numbered in the order its presses went into them: a fire case that
reopens keeps its (lower) id and takes in the press that opened a newer SOS case. What the
button is told — live, and again when the hub reconnects — must be the case its latest press
is in now.
"""

import asyncio
from datetime import timedelta

import pytest

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import FeedbackStage
from hub.cases.rules import Resolution
from hub.cases.views import CaseView
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.feedback_link import DEADLINE, edge_hearing, publisher

pytestmark = pytest.mark.mosquitto

BUTTON = "b3-1201-sos"
SMOKE = "b3-1201-smoke"


def alarm(store: HubStore, clock: FakeClock, device_id: str, kind: AlertKind) -> None:
    severity = Severity.CRITICAL if kind is AlertKind.SOS else Severity.HIGH
    alert = make_alert(device_id=device_id, kind=kind, severity=severity, ts=clock())
    store.intake.ingest_alerts([alert], clock())


def fire_back_with_the_press_in_it(store: HubStore, clock: FakeClock) -> CaseView:
    """Fire (resolved), an SOS call of its own (resolved), a new press, the fire back: return
    the reopened fire case, which took the new press in."""
    store.fleet.register_device(make_device(SMOKE))
    store.fleet.register_device(make_device(BUTTON, kind=DeviceKind.SOS_BUTTON))
    alarm(store, clock, SMOKE, AlertKind.SMOKE)
    [fire] = store.cases.list_cases()
    store.cases.resolve(fire.id, "burnt toast", resolution=Resolution.FALSE_ALARM)
    clock.advance(60)
    alarm(store, clock, BUTTON, AlertKind.SOS)
    [own_call] = [c for c in store.cases.list_cases() if c.id != fire.id]
    store.cases.resolve(own_call.id, "fell, helped up", resolution=Resolution.REAL)
    clock.advance(120)
    alarm(store, clock, BUTTON, AlertKind.SOS)  # the resident presses again...
    clock.advance(20)
    alarm(store, clock, SMOKE, AlertKind.SMOKE)  # ...and the smoke is back
    fire_now = store.cases.get_case(fire.id)
    assert fire_now.status == "open", fire_now.status
    assert BUTTON in fire_now.device_ids, "the fire case took the press in"
    assert own_call.id > fire.id
    return store.cases.acknowledge(fire.id, "fire team going")


async def test_a_reconnect_tells_the_button_of_the_fire_case_its_press_went_into(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    fire = fire_back_with_the_press_in_it(store, clock)
    async with edge_hearing(mosquitto, "hub") as (heard, [hub]):
        sender = publisher(store, hub)
        async with running(sender.run()):
            # The hub (re)connects: each button hears its latest case's stage again.
            assert await sender.resend_current(clock() + timedelta(seconds=5)) == 1
            async with asyncio.timeout(DEADLINE):
                told = await heard.get()
    assert (told.device_id, told.case_id, told.stage) == (
        BUTTON,
        fire.id,
        FeedbackStage.ACKNOWLEDGED,
    )


async def test_the_fire_case_acknowledged_tells_the_button_someone_is_coming(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    fire = fire_back_with_the_press_in_it(store, clock)
    async with edge_hearing(mosquitto, "hub") as (heard, [hub]):
        sender = publisher(store, hub)
        async with running(sender.run()):
            sender.notify(fire)  # as the acknowledge route does
            async with asyncio.timeout(DEADLINE):
                told = await heard.get()
    assert (told.device_id, told.case_id, told.stage) == (
        BUTTON,
        fire.id,
        FeedbackStage.ACKNOWLEDGED,
    )
