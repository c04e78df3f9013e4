"""A request's text must show something, and show it as it was written.

Text made only of zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF) passed every
length check of the page, the gateway and the operator's form and opened a request that looks
blank; bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069) made a text read otherwise in
the operator console than it was written. Nothing visible is refused (422, with a message a
resident can read); bidi controls are dropped from what is stored; Chinese, emoji and newlines
stay as they were.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.requests.gateway import sign
from tests.hub.conftest import FakeClock, clock
from tests.hub.gateway_hub import SECRET, gateway_hub
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, staff

__all__ = ["clock"]


BLANK = {
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff",
    "zero-width and spaces": "\u200b \n\u200b\u3000",
    "bidi controls only": "\u202e\u2066\u2069\u202c",
}

REVERSED = "3号楼\u202e修来请 水漏\u202c\u2067 谢谢\u2069"
"""Shown as "3号楼 漏水 请来修" in the console, written otherwise."""

ORDINARY = "3号楼厨房漏水 💧\n家里有老人👨\u200d👩\u200d👧，请尽快来修\n谢谢"


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A hub with a staffed site that takes a gateway's messages."""
    async with gateway_hub(database_url, tmp_path, clock) as client:
        await staff(client)
        yield client


async def by_page(
    client: httpx.AsyncClient, text: str, home: Any, clock: FakeClock
) -> httpx.Response:
    data = {"category": "repair", "text": text}
    return await client.post(f"/r/{home['token']}/requests", data=data)


async def by_gateway(
    client: httpx.AsyncClient, text: str, home: Any, clock: FakeClock
) -> httpx.Response:
    message = {"message_id": f"wx-{len(text)}", "household_token": home["token"], "text": text}
    body = json.dumps(message).encode()
    now = int(clock.now.timestamp())
    headers = {
        "content-type": "application/json",
        "x-linli-timestamp": str(now),
        "x-linli-signature": sign(SECRET.encode(), now, body),
    }
    return await client.post("/api/v1/gateway/messages", content=body, headers=headers)


async def by_operator(
    client: httpx.AsyncClient, text: str, home: Any, clock: FakeClock
) -> httpx.Response:
    body = {"household_id": home["id"], "category": "repair", "text": text}
    return await client.post("/api/v1/requests", json=body)


SENDERS = {"page": by_page, "gateway": by_gateway, "operator": by_operator}


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("text", BLANK.values(), ids=BLANK)
async def test_a_text_with_nothing_visible_is_refused_and_opens_nothing(
    client: httpx.AsyncClient, clock: FakeClock, sender: str, text: str
) -> None:
    home = await household(client, "Wang family", LOCATION)
    response = await SENDERS[sender](client, text, home, clock)
    assert response.status_code == 422, response.text
    assert "请简单描述问题" in response.json()["detail"]
    assert (await client.get("/api/v1/requests")).json()["items"] == []


@pytest.mark.parametrize("sender", SENDERS)
async def test_bidi_controls_are_not_kept_in_a_requests_text(
    client: httpx.AsyncClient, clock: FakeClock, sender: str
) -> None:
    home = await household(client, "Wang family", LOCATION)
    response = await SENDERS[sender](client, REVERSED, home, clock)
    assert response.status_code in (200, 201), response.text
    [kept] = (await client.get("/api/v1/requests")).json()["items"]
    assert kept["text"] == "3号楼修来请 水漏 谢谢"


@pytest.mark.parametrize("sender", SENDERS)
async def test_chinese_emoji_and_newlines_are_kept_as_written(
    client: httpx.AsyncClient, clock: FakeClock, sender: str
) -> None:
    home = await household(client, "Wang family", LOCATION)
    response = await SENDERS[sender](client, ORDINARY, home, clock)
    assert response.status_code in (200, 201), response.text
    [kept] = (await client.get("/api/v1/requests")).json()["items"]
    assert kept["text"] == ORDINARY
    [mine] = (await client.get(f"/r/{home['token']}/requests")).json()["items"]
    assert mine["text"] == ORDINARY
