"""A resident takes back an SOS sent from the phone page: "I'm OK, it was a mistake".

Before, once sent an SOS could not be taken back from the page at all: a pocket's or a child's
press sent responders running and the operator could not tell a mistake from an emergency. Now
``POST /r/<token>/sos/<case_id>/withdraw`` writes the household's line on the case ("the
resident took the SOS back from the phone page at …: says it was a mistake"), in its history,
its audit trail and on the live stream; the case stays open with its priority and deadlines,
for the operator to call back and resolve. The page's status reads ``withdrawn`` until the case
moves on. Pure rules first, then a hub on SQLite and PostgreSQL.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from hub.cases.rules import CaseEventAction, CaseStatus
from hub.cases.views import CaseView
from hub.errors import IllegalTransitionError
from hub.live.events import CaseChanged, EventBus
from hub.persistence.tables import CaseTimerRow
from hub.residents.rules import token_hash, web_sos_alert
from hub.residents.withdrawal import decide_withdrawal, stands, withdrawal_note
from hub.residents.withdrawals import SosWithdrawals
from hub.store import HubStore
from tests.hub.conftest import FakeClock, app, client, pg_engine
from tests.hub.test_households_api import create_household, press, status_of

__all__ = ["app", "client", "pg_engine"]

pytestmark = pytest.mark.fake_clock

LOCATION = "Building 3/Floor 2/Unit 201"
NOW = datetime(2026, 12, 7, 4, 5, 6, tzinfo=UTC)


def test_the_line_says_who_took_what_back_when_and_that_the_case_stays_open() -> None:
    note = withdrawal_note(NOW, ["sos"])
    assert note.startswith(
        "the resident took the SOS back from the phone page at 2026-12-07 04:05:06 UTC"
    )
    assert "says it was a mistake" in note
    assert "call back" in note
    # An SOS that joined a fire case takes back only the press, and the line says so.
    assert "not its other alerts (smoke)" in withdrawal_note(NOW, ["sos", "smoke"])


def test_a_take_back_stands_until_a_new_alert_or_someone_takes_the_case_on() -> None:
    assert stands([])
    assert stands(["commented", "dispatched", "escalated"])
    for action in ("alert_attached", "acknowledged", "accepted", "reopened", "merged_in"):
        assert not stands(["commented", action])


def test_only_an_active_case_is_taken_back_and_once() -> None:
    assert decide_withdrawal(1, CaseStatus.OPEN, standing=False)
    assert decide_withdrawal(1, CaseStatus.IN_PROGRESS, standing=False)
    assert not decide_withdrawal(1, CaseStatus.OPEN, standing=True)
    for status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        with pytest.raises(IllegalTransitionError, match="nothing to take back"):
            decide_withdrawal(1, status, standing=False)


async def case_of(client: httpx.AsyncClient, case_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()
    return case


def take_backs(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for e in case["events"]
        if (e["note"] or "").startswith("the resident took the SOS back from the phone page")
    ]


def timers(app: FastAPI, case_id: int) -> list[tuple[str, datetime, datetime | None]]:
    store: HubStore = app.state.store
    with store.db.reading() as session:
        rows = session.scalars(
            select(CaseTimerRow).where(CaseTimerRow.case_id == case_id).order_by(CaseTimerRow.id)
        )
        return [(row.kind, row.due_at, row.fired_at) for row in rows]


async def test_a_take_back_tells_the_operator_and_leaves_the_case_open(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    home = await create_household(client)
    token = home["token"]
    pressed = await press(client, token)
    case_id = pressed["case_id"]
    before = await case_of(client, case_id)
    deadlines = timers(app, case_id)
    assert deadlines  # the acknowledgement deadline of a life-safety case
    bus: EventBus = app.state.events

    clock.advance(40)
    with bus.subscribe() as stream:
        response = await client.post(f"/r/{token}/sos/{case_id}/withdraw")
        # On PostgreSQL the bus relays through the database: the event comes a moment later.
        published = [await asyncio.wait_for(stream.get(), timeout=30)]
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["stage"] == "withdrawn"
    assert response.json()["case_id"] == case_id

    after = await case_of(client, case_id)
    [line] = take_backs(after)
    assert line["action"] == CaseEventAction.COMMENTED.value
    assert line["actor"] == f"household-{home['id']}"
    assert line["ts"] == clock.now.isoformat().replace("+00:00", "Z")
    assert (
        "at " + clock.now.strftime("%Y-%m-%d %H:%M:%S UTC") + ": says it was a mistake"
        in (line["note"])
    )
    # Information for the operator, never a silent close: open, same priority and deadlines.
    assert after["status"] == before["status"] == "open"
    assert after["priority"] == before["priority"]
    assert after["resolution"] is None
    assert "resolve" in after["actions"]
    assert timers(app, case_id) == deadlines
    assert after["version"] == before["version"] + 1
    # On the live stream at once, as a change of the case.
    changed = [e for e in published if isinstance(e, CaseChanged)]
    assert [(e.type, e.case.id, e.case.version) for e in changed] == [
        ("case_updated", case_id, after["version"])
    ]
    # In the audit trail, with the words.
    audit = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    assert any(
        entry["case_id"] == case_id
        and entry["actor"] == f"household-{home['id']}"
        and "says it was a mistake" in entry["detail"].get("note", "")
        for entry in audit
    )
    assert (await client.get("/api/v1/audit/verify")).json()["intact"] is True
    assert (await status_of(client, token))["stage"] == "withdrawn"

    # The operator calls back and resolves it as a false alarm: the page says resolved.
    resolved = {"resolution": "false_alarm", "note": "called back: the grandson pressed it"}
    assert (await client.post(f"/api/v1/cases/{case_id}/resolve", json=resolved)).status_code == 200
    assert (await status_of(client, token))["stage"] == "resolved"


async def test_a_second_take_back_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = (await create_household(client))["token"]
    case_id = (await press(client, token))["case_id"]
    first = await client.post(f"/r/{token}/sos/{case_id}/withdraw")
    assert first.status_code == 200, first.text
    once = await case_of(client, case_id)

    clock.advance(5)
    bus: EventBus = app.state.events
    with bus.subscribe() as stream:
        again = await client.post(f"/r/{token}/sos/{case_id}/withdraw")
        published = stream.take_ready(10)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    twice = await case_of(client, case_id)
    assert len(take_backs(twice)) == 1
    assert twice["events"] == once["events"]
    assert twice["version"] == once["version"]
    # Nothing new on the stream (on PostgreSQL the first take-back's own event, relayed
    # through the database, may still be arriving: it is of the version already read).
    newer = [
        e for e in published if isinstance(e, CaseChanged) and e.case.version > once["version"]
    ]
    assert newer == []


async def test_another_households_case_or_none_is_a_bare_404(
    client: httpx.AsyncClient,
) -> None:
    mine = (await create_household(client, "王家"))["token"]
    theirs = (await create_household(client, "李家"))["token"]
    case_id = (await press(client, theirs))["case_id"]

    for path in (
        f"/r/{mine}/sos/{case_id}/withdraw",
        f"/r/{mine}/sos/{case_id + 1000}/withdraw",
        f"/r/not-a-token/sos/{case_id}/withdraw",
    ):
        response = await client.post(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "not found"}
    assert take_backs(await case_of(client, case_id)) == []
    assert (await status_of(client, theirs))["stage"] == "case_opened"
    too_big = await client.post(f"/r/{mine}/sos/99999999999999/withdraw")
    assert too_big.status_code == 422


async def test_a_resolved_case_is_a_409_and_stays_as_it_was(client: httpx.AsyncClient) -> None:
    token = (await create_household(client))["token"]
    case_id = (await press(client, token))["case_id"]
    resolved = {"resolution": "real", "note": "helped her up"}
    assert (await client.post(f"/api/v1/cases/{case_id}/resolve", json=resolved)).status_code == 200
    before = await case_of(client, case_id)

    response = await client.post(f"/r/{token}/sos/{case_id}/withdraw")
    assert response.status_code == 409
    assert "resolved already" in response.json()["detail"]
    assert await case_of(client, case_id) == before
    assert (await status_of(client, token))["stage"] == "resolved"


async def test_a_press_after_a_take_back_is_heard_and_may_be_taken_back_again(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Taken back, then pressed again (a real emergency this time): the press joins the open
    case and the page must not go on saying "you said it was a mistake"."""
    token = (await create_household(client))["token"]
    case_id = (await press(client, token))["case_id"]
    assert (await client.post(f"/r/{token}/sos/{case_id}/withdraw")).json()["stage"] == "withdrawn"

    clock.advance(30)
    again = await press(client, token)
    assert again == {**again, "case_id": case_id, "stage": "case_opened"}
    assert (await status_of(client, token))["stage"] == "case_opened"

    clock.advance(30)
    response = await client.post(f"/r/{token}/sos/{case_id}/withdraw")
    assert response.json()["stage"] == "withdrawn"
    assert len(take_backs(await case_of(client, case_id))) == 2


async def test_someone_taking_the_case_on_after_a_take_back_is_shown(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    # Taken on before the take-back: the take-back is the latest word.
    first = (await create_household(client, "王家"))["token"]
    case_id = (await press(client, first))["case_id"]
    assert (await client.post(f"/api/v1/cases/{case_id}/acknowledge", json={})).status_code == 200
    assert (await status_of(client, first))["stage"] == "acknowledged"
    clock.advance(10)
    assert (await client.post(f"/r/{first}/sos/{case_id}/withdraw")).json()["stage"] == "withdrawn"

    # Taken on after it (the operator decided to send someone): someone is coming, said again.
    second = (await create_household(client, "李家"))["token"]
    case_id = (await press(client, second))["case_id"]
    clock.advance(10)
    assert (await client.post(f"/r/{second}/sos/{case_id}/withdraw")).json()["stage"] == "withdrawn"
    clock.advance(10)
    assert (await client.post(f"/api/v1/cases/{case_id}/acknowledge", json={})).status_code == 200
    assert (await status_of(client, second))["stage"] == "acknowledged"


def test_two_take_backs_at_once_write_one_line(pg_engine: Engine, clock: FakeClock) -> None:
    """Two taps' posts racing on PostgreSQL: the case row's lock makes the second see the
    first's line, and change nothing."""
    store = HubStore(pg_engine, clock=clock)
    home = store.households.create_household("赵奶奶", LOCATION, [], token_hash("t" * 43))
    device = store.households.household_sos_device(home)
    alert = web_sos_alert("a" * 32, device.id, device.location, clock())
    store.intake.ingest_alerts([alert], clock())
    case_id = store.households.household_status(home).case_id
    assert case_id is not None
    withdrawals = SosWithdrawals(store.db, store.cases)
    start = threading.Barrier(2)

    def take_back() -> CaseView | None:
        start.wait()
        return withdrawals.withdraw(home, case_id)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: take_back(), range(2)))
    assert sorted(r is None for r in results) == [False, True]
    lines = [e for e in store.cases.get_case(case_id).events if e.actor == f"household-{home.id}"]
    assert len(lines) == 1
    assert store.households.household_status(home).stage == "withdrawn"
