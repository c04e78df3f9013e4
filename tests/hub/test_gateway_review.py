"""Found by an outside review: a gateway message id already used by another household's
message was answered as a repeat of it, with that household's request ids, and the second
resident's request was lost. A message id names one message: another message under it is a
409 the gateway can act on, and only a true repeat is the idempotent duplicate."""

from typing import Any

import httpx
import pytest

from tests.hub.conftest import FakeClock
from tests.hub.test_gateway import (
    client,  # noqa: F401 - the hub with a gateway secret
    deliver,
)

pytestmark = pytest.mark.fake_clock


async def household_token(
    client: httpx.AsyncClient,  # noqa: F811
    name: str,
    location: str,
) -> str:
    created = await client.post("/api/v1/households", json={"name": name, "location": location})
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


async def test_a_message_id_of_another_message_is_a_conflict(
    client: httpx.AsyncClient,  # noqa: F811
    clock: FakeClock,
) -> None:
    wang = await household_token(client, "Wang", "Building 3/Floor 1/Unit 101")
    li = await household_token(client, "Li", "Building 3/Floor 2/Unit 201")
    message: dict[str, Any] = {
        "message_id": "wx-msg-0001",
        "household_token": wang,
        "category": "repair",
        "text": "The tap in the kitchen drips",
    }
    ts = int(clock.now.timestamp())
    first = await deliver(client, message, ts)
    assert first.status_code == 201, first.text
    for other in (
        {**message, "household_token": li, "text": "The lift is stuck"},
        {**message, "household_token": li},
        {**message, "text": "The lift is stuck"},
    ):
        clash = await deliver(client, other, ts + 10)
        assert clash.status_code == 409, clash.text
        assert "wx-msg-0001" in clash.json()["detail"]
        assert "request_id" not in clash.json()
    assert (await client.get(f"/r/{li}/requests")).json()["items"] == []
    again = await deliver(client, message, ts + 30)  # a true repeat is still idempotent
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
    other_id = await deliver(
        client, {**message, "household_token": li, "message_id": "wx-msg-0002"}, ts + 40
    )
    assert other_id.status_code == 201, other_id.text
    assert len((await client.get("/api/v1/requests")).json()["items"]) == 2
