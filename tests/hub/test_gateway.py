"""The messaging gateway's signed webhook: HMAC, replay window, idempotent by message id."""

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.requests.gateway import GatewaySignatureError, sign, verify
from hub.settings import HubSettings
from tests.hub.conftest import FakeClock
from tests.hub.gateway_hub import SECRET, gateway_hub
from tests.hub.http import api_client
from tests.hub.test_requests_rules import jpeg_with_gps

URL = "/api/v1/gateway/messages"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def test_a_signature_is_checked_and_a_replay_refused() -> None:
    body = b'{"message_id": "m1"}'
    ts = int(NOW.timestamp())
    good = sign(SECRET.encode(), ts, body)
    verify(SECRET.encode(), str(ts), good, body, NOW)
    with pytest.raises(GatewaySignatureError, match="does not match"):
        verify(SECRET.encode(), str(ts), good, body + b" ", NOW)
    with pytest.raises(GatewaySignatureError, match="does not match"):
        verify(b"another secret", str(ts), good, body, NOW)
    with pytest.raises(GatewaySignatureError, match="too far"):
        verify(SECRET.encode(), str(ts), good, body, NOW + timedelta(minutes=6))
    with pytest.raises(GatewaySignatureError, match="X-Linli-Timestamp"):
        verify(SECRET.encode(), None, good, body, NOW)


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_hub(database_url, tmp_path, clock) as client:
        yield client


async def deliver(
    client: httpx.AsyncClient, message: dict[str, Any], ts: int, secret: str = SECRET
) -> httpx.Response:
    body = json.dumps(message).encode()
    headers = {
        "content-type": "application/json",
        "x-linli-timestamp": str(ts),
        "x-linli-signature": sign(secret.encode(), ts, body),
        "authorization": "",  # the gateway has no bearer token: the signature is its credential
    }
    return await client.post(URL, content=body, headers=headers)


async def test_a_wechat_message_becomes_a_request_once(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    created = await client.post(
        "/api/v1/households", json={"name": "Wang", "location": "Building 3/Floor 1/Unit 101"}
    )
    token = created.json()["token"]
    photo = base64.b64encode(jpeg_with_gps()).decode()
    message = {
        "message_id": "wx-msg-0001",
        "household_token": token,
        "category": "hazard",
        "text": "楼道堆满杂物，消防通道堵了",
        "photos": [{"content_base64": photo}],
    }
    ts = int(clock.now.timestamp())
    first = await deliver(client, message, ts)
    assert first.status_code == 201, first.text
    again = await deliver(client, message, ts + 30)  # the gateway retries
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    [request] = (await client.get("/api/v1/requests")).json()["items"]
    assert request["source"] == "gateway"
    assert request["priority"] == "high"
    assert len(request["photos"]) == 1
    mine = (await client.get(f"/r/{token}/requests")).json()["items"]
    assert [r["id"] for r in mine] == [request["id"]]

    forged = await deliver(client, {**message, "message_id": "wx-2"}, ts, secret="guess")
    assert forged.status_code == 401
    replayed = await deliver(client, {**message, "message_id": "wx-3"}, ts - 3600)
    assert replayed.status_code == 401
    unknown = await deliver(
        client, {**message, "message_id": "wx-4", "household_token": "x" * 40}, ts
    )
    assert unknown.status_code == 404
    bad = await deliver(
        client, {**message, "message_id": "wx-5", "photos": [{"content_base64": "%%"}]}, ts
    )
    assert bad.status_code == 422
    assert len((await client.get("/api/v1/requests")).json()["items"]) == 1


async def test_without_a_secret_the_route_is_off(tmp_path: Path, clock: FakeClock) -> None:
    settings = HubSettings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'h.db'}", start_ingest=False
    )
    async with api_client(create_app(settings, clock=clock)) as client:
        response = await deliver(client, {"message_id": "m"}, int(clock.now.timestamp()))
        assert response.status_code == 404
