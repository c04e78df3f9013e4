"""The messaging gateway tells the resident back: each new stage of a household's request goes
to the gateway once, signed, retried, in order, on a real hub (SQLite and PostgreSQL); with no
gateway nothing is queued."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.cases.notifier import Notifier
from hub.requests.stages import StageMessage
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, responder_client, staff
from tests.hub.webhook_gateway import Gateway
from tests.residents.messaging import SECRET, gateway_app, signed_gateway


@pytest.fixture
def wechat() -> Iterator[Gateway]:
    """The residents' messaging gateway: down for its first call."""
    yield from signed_gateway(failures=1)


async def tell(app: FastAPI, clock: FakeClock, http: httpx.AsyncClient) -> int:
    """Run one round of the stage watch and deliver what it queued (retrying once)."""
    store: HubStore = app.state.store
    told = store.request_stages.tell_changes()
    notifier = Notifier(store, clock=clock, http=http, webhook_secret=SECRET)
    for _ in range(3):
        await notifier.deliver_due()
        clock.advance(5)
    return told


async def test_each_stage_reaches_the_gateway_once(
    database_url: str, tmp_path: Path, clock: FakeClock, wechat: Gateway
) -> None:
    app = gateway_app(database_url, tmp_path, clock, wechat.url)
    async with api_client(app) as client, httpx.AsyncClient() as http:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        reported = await client.post(
            f"/r/{wang['token']}/requests", data={"category": "repair", "text": "Ceiling drips"}
        )
        request_id = reported.json()["id"]
        case_id = (await client.get(f"/api/v1/requests/{request_id}")).json()["case_id"]
        case_url = f"/api/v1/cases/{case_id}"
        assert await tell(app, clock, http) == 1  # assigned (dispatched at once)
        assert await tell(app, clock, http) == 0  # nothing new: nothing sent
        async with await responder_client(app, "plumber-1") as plumber:
            assert (await plumber.post(f"{case_url}/accept", json={})).status_code == 200
            assert await tell(app, clock, http) == 0  # accepted: still "assigned"
            visit = (clock.now + timedelta(hours=3)).isoformat()
            planned = await plumber.post(
                f"/api/v1/requests/{request_id}/updates", data={"note": "3 pm", "visit_at": visit}
            )
            assert planned.status_code == 201, planned.text
            assert await tell(app, clock, http) == 1
            assert (await plumber.post(f"{case_url}/start", json={})).status_code == 200
            assert await tell(app, clock, http) == 1
        resolved = await client.post(
            f"{case_url}/resolve", json={"resolution": "real", "note": "ok"}
        )
        assert resolved.status_code == 200
        assert await tell(app, clock, http) == 1
        assert await tell(app, clock, http) == 0
        seen = (await client.get(f"/r/{wang['token']}/requests/{request_id}")).json()
    messages = [StageMessage.model_validate(b) for b in wechat.bodies]
    assert [(m.previous_stage, m.stage) for m in messages] == [
        (None, "assigned"),
        ("assigned", "visit_planned"),
        ("visit_planned", "in_progress"),
        ("in_progress", "done"),
    ]
    assert seen["stage"] == "done"
    assert {m.request_id for m in messages} == {request_id}
    assert {m.household_id for m in messages} == {wang["id"]}
    assert wechat.bad_signatures == 0


async def test_without_a_gateway_nothing_is_queued(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    app = gateway_app(database_url, tmp_path, clock, None)
    async with api_client(app) as client:
        await staff(client)
        wang: Any = await household(client, "Wang family", LOCATION)
        await client.post(f"/r/{wang['token']}/requests", data={"category": "other", "text": "x"})
        store: HubStore = app.state.store
        assert store.request_stages.tell_changes() == 0
        assert store.notices.notification_counts() == {"pending": 0, "delivered": 0, "failed": 0}
