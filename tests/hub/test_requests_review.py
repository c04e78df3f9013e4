"""Found by an outside review of residents' requests, each as a resident, a responder or a
gateway would meet it:

* the page's send retried after its answer was lost (a lift, a weak signal) opened a second
  request for the one problem: the page now names each report, and the same name again is
  the same request;
* a gateway's retry of a message whose preferred visit window had begun to pass since was
  refused (422), telling the resident a request the hub holds was never taken;
* a responder could plan a visit in the past (a wrong day, a local time sent as UTC): the
  household was shown "visit planned" for a visit that was never coming;
* the stage watch looked at the first 500 open requests only: with more open than that, a
  newer request's stages never reached the gateway.
"""

from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from hub.requests.stages import StageMessage
from hub.store import HubStore
from tests.hub.conftest import FakeClock, hub_app
from tests.hub.gateway_hub import SECRET as GATEWAY_SECRET
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_gateway import deliver
from tests.hub.test_requests_api import LOCATION, report, responder_client, staff
from tests.hub.webhook_gateway import Gateway
from tests.residents.messaging import gateway_app, signed_gateway
from tests.residents.test_request_stages import tell

pytestmark = pytest.mark.fake_clock


@pytest.fixture
def wechat() -> Iterator[Gateway]:
    """The residents' messaging gateway."""
    yield from signed_gateway()


async def test_a_report_sent_twice_from_the_page_is_one_request(
    app: FastAPI, clock: FakeClock
) -> None:
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        li = await household(client, "Li family", "Building 3/Floor 2/Unit 201")
        fields = {"submission_id": "0f3c9a4be1d24c51"}
        first = await report(client, wang["token"], [], **fields)
        assert first.status_code == 201, first.text
        clock.advance(20)  # the answer was lost; the resident taps "send" again
        again = await report(client, wang["token"], [], **fields)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        mine = (await client.get(f"/r/{wang['token']}/requests")).json()["items"]
        assert [r["id"] for r in mine] == [first.json()["id"]]
        cases = (await client.get("/api/v1/cases")).json()["items"]
        assert len(cases) == 1
        # Another household's report under the same id is its own request, never Wang's.
        theirs = await report(client, li["token"], [], **fields)
        assert theirs.status_code == 201, theirs.text
        assert theirs.json()["id"] != first.json()["id"]
        # A report without an id (an older page) is taken as before.
        assert (await report(client, wang["token"], [])).status_code == 201
        bad = await report(client, wang["token"], [], submission_id="x")
        assert bad.status_code == 422


async def test_a_report_resent_from_the_page_after_an_edit_is_still_one_request(
    app: FastAPI, clock: FakeClock
) -> None:
    """The send failed on the phone (the answer lost), the resident added a word and sent again:
    the same report under the same id with other words was refused 409 with a gateway's
    message ("send each message with an id of its own"), though the hub held the report. The
    page's id is the household's own: it is the same request, as first received."""
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        fields = {"submission_id": "5b1d0c2e9a7f4e33"}
        first = await report(client, wang["token"], [], **fields)
        assert first.status_code == 201, first.text
        clock.advance(30)
        edited = await report(
            client, wang["token"], [], text="Water drips through the ceiling, kitchen", **fields
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["id"] == first.json()["id"]
        assert edited.json()["text"] == "Water drips through the ceiling"
        assert len((await client.get("/api/v1/cases")).json()["items"]) == 1


async def test_a_gateway_retry_is_the_same_request_after_its_window_began_to_pass(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    app = hub_app(database_url, tmp_path, clock, gateway_secret=SecretStr(GATEWAY_SECRET))
    async with api_client(app) as client:
        wang = await household(client, "Wang", "Building 3/Floor 1/Unit 101")
        message: dict[str, Any] = {
            "message_id": "wx-msg-0001",
            "household_token": wang["token"],
            "category": "repair",
            "text": "The tap drips",
            "preferred_from": (clock.now - timedelta(hours=1)).isoformat(),
            "preferred_until": (clock.now + timedelta(minutes=1)).isoformat(),
        }
        first = await deliver(client, message, int(clock.now.timestamp()))
        assert first.status_code == 201, first.text
        clock.advance(120)  # the answer was lost; the gateway retries once the window is over
        again = await deliver(client, message, int(clock.now.timestamp()))
        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "duplicate": True}
        # A new message with that window is refused as before.
        late = await deliver(
            client, {**message, "message_id": "wx-msg-0002"}, int(clock.now.timestamp())
        )
        assert late.status_code == 422


async def test_a_visit_is_planned_ahead_in_any_zone(app: FastAPI, clock: FakeClock) -> None:
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        created = (await report(client, wang["token"], [])).json()
        url = f"/api/v1/requests/{created['id']}/updates"
        async with await responder_client(app, "plumber-1") as plumber:
            yesterday = clock.now - timedelta(days=1)
            past = await plumber.post(url, data={"visit_at": yesterday.isoformat()})
            assert past.status_code == 422, past.text
            assert "past" in past.json()["detail"]
            far = clock.now + timedelta(days=60)
            assert (await plumber.post(url, data={"visit_at": far.isoformat()})).status_code == 422
            seen = (await client.get(f"/r/{wang['token']}/requests/{created['id']}")).json()
            assert (seen["stage"], seen["visit_at"]) == ("assigned", None)
            # Tomorrow 09:00 in Shanghai is one instant, whichever zone it is written in.
            shanghai = timezone(timedelta(hours=8))
            tomorrow = (clock.now + timedelta(days=1)).astimezone(shanghai)
            planned = await plumber.post(url, data={"visit_at": tomorrow.isoformat()})
            assert planned.status_code == 201, planned.text
            seen = (await client.get(f"/r/{wang['token']}/requests/{created['id']}")).json()
            assert seen["stage"] == "visit_planned"
            assert seen["visit_at"] is not None
            assert seen["visit_at"].endswith("Z") or seen["visit_at"].endswith("+00:00")


async def test_every_open_request_is_looked_at_however_many_are_open(
    database_url: str, tmp_path: Path, clock: FakeClock, wechat: Gateway
) -> None:
    app = gateway_app(database_url, tmp_path, clock, wechat.url)
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        ids = [(await report(client, wang["token"], [])).json()["id"] for _ in range(3)]
        store: HubStore = app.state.store
        assert store.request_stages.tell_changes(limit=2) == 3  # each told "assigned"
        async with await responder_client(app, "plumber-1") as plumber:
            visit = (clock.now + timedelta(hours=3)).isoformat()
            planned = await plumber.post(
                f"/api/v1/requests/{ids[-1]}/updates", data={"visit_at": visit}
            )
            assert planned.status_code == 201, planned.text
        # The two older open requests, unchanged, fill a batch: the newest is told all the same.
        assert store.request_stages.tell_changes(limit=2) == 1
        assert store.request_stages.tell_changes(limit=2) == 0


async def test_a_reopened_request_waits_for_a_new_visit(
    database_url: str, tmp_path: Path, clock: FakeClock, wechat: Gateway
) -> None:
    """The household phoned: "still dripping"; an operator reopened the case. The page and the
    gateway said "visit planned" for the visit of the attempt that did not fix it."""
    app = gateway_app(database_url, tmp_path, clock, wechat.url)
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        created = (await report(client, wang["token"], [])).json()
        seen = (await client.get(f"/api/v1/requests/{created['id']}")).json()
        case_url = f"/api/v1/cases/{seen['case_id']}"
        store: HubStore = app.state.store
        async with await responder_client(app, "plumber-1") as plumber:
            visit = (clock.now + timedelta(hours=3)).isoformat()
            planned = await plumber.post(
                f"/api/v1/requests/{created['id']}/updates", data={"visit_at": visit}
            )
            assert planned.status_code == 201, planned.text
        resolved = await client.post(
            f"{case_url}/resolve", json={"resolution": "real", "note": "ok"}
        )
        assert resolved.status_code == 200, resolved.text
        assert store.request_stages.tell_changes() == 1  # done
        clock.advance(24 * 3600)
        reopened = await client.post(f"{case_url}/reopen", json={"note": "still dripping"})
        assert reopened.status_code == 200, reopened.text
        mine = (await client.get(f"/r/{wang['token']}/requests/{created['id']}")).json()
        assert (mine["stage"], mine["visit_at"]) == ("assigned", None)
        theirs = (await client.get(f"/api/v1/requests/{created['id']}")).json()
        assert (theirs["stage"], theirs["visit_at"]) == ("assigned", None)
        async with httpx.AsyncClient() as http:
            assert await tell(app, clock, http) == 1
        # The "done" queued above and this one went out in one round, side by side: in
        # either order.
        told = [StageMessage.model_validate(body) for body in wechat.bodies]
        assert ("done", "assigned") in [(t.previous_stage, t.stage) for t in told]
        # A visit planned for the second attempt counts again.
        async with await responder_client(app, "plumber-1") as plumber:
            visit = (clock.now + timedelta(hours=2)).isoformat()
            again = await plumber.post(
                f"/api/v1/requests/{created['id']}/updates", data={"visit_at": visit}
            )
            assert again.status_code == 201, again.text
        mine = (await client.get(f"/r/{wang['token']}/requests/{created['id']}")).json()
        assert mine["stage"] == "visit_planned"


async def test_once_rated_the_household_is_not_promised_a_not_fixed(
    app: FastAPI, clock: FakeClock
) -> None:
    """A household that rated the work "fixed" was still shown ``not_fixed_until`` a week
    ahead; saying "not fixed" the next morning was then refused as rated already."""
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        created = (await report(client, wang["token"], [])).json()
        case_id = (await client.get(f"/api/v1/requests/{created['id']}")).json()["case_id"]
        resolved = await client.post(
            f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "ok"}
        )
        assert resolved.status_code == 200, resolved.text
        url = f"/r/{wang['token']}/requests/{created['id']}"
        before = (await client.get(url)).json()
        assert before["can_rate"]
        assert before["not_fixed_until"] is not None
        rated = await client.post(f"{url}/rating", json={"score": 5})
        assert rated.status_code == 200, rated.text
        assert (rated.json()["can_rate"], rated.json()["not_fixed_until"]) == (False, None)
        clock.advance(12 * 3600)
        again = await client.post(f"{url}/rating", json={"score": 1, "fixed": False})
        assert again.status_code == 409
