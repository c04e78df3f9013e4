"""The messaging gateway's route from the outside: headers no gateway would send, from anyone.

The route is open to the internet (its signature is its credential), so whatever an unsigned
caller puts in the two headers must get a 401 and change nothing, never a server error.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.requests.gateway import GatewaySignatureError, sign, verify
from tests.hub.conftest import FakeClock, clock
from tests.hub.gateway_hub import SECRET, gateway_hub

__all__ = ["clock"]

URL = "/api/v1/gateway/messages"
BODY = json.dumps(
    {"message_id": "wx-1", "household_token": "t" * 40, "text": "楼道堆满杂物"}
).encode()


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_hub(database_url, tmp_path, clock) as client:
        yield client


ODD = [
    ("a 400-digit timestamp", b"9" * 400, None),
    ("a negative 400-digit timestamp", b"-" + b"9" * 400, None),
    ("full-width digits", "１７７７８９６０００".encode(), None),
    ("a signature with a Latin-1 letter", None, b"sha256=\xe9"),
    ("a full-width s in the prefix", None, "ｓha256=00".encode()),
]
"""(what, X-Linli-Timestamp, X-Linli-Signature) no gateway sends; None: the right one."""


@pytest.mark.parametrize(("what", "timestamp", "signature"), ODD, ids=[o[0] for o in ODD])
async def test_odd_signature_headers_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    clock: FakeClock,
    what: str,
    timestamp: bytes | None,
    signature: bytes | None,
) -> None:
    now = int(clock.now.timestamp())
    headers: dict[bytes, bytes] = {
        b"content-type": b"application/json",
        b"authorization": b"",
        b"x-linli-timestamp": timestamp or str(now).encode(),
        b"x-linli-signature": signature or sign(SECRET.encode(), now, BODY).encode(),
    }
    response = await client.post(URL, content=BODY, headers=headers)
    assert response.status_code == 401, what
    assert (await client.get("/api/v1/requests")).json()["items"] == []


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("9" * 400, None),
        (None, "sha256=é"),
        (None, "sha256=\ud800"),
    ],
)
def test_verify_refuses_odd_headers_with_its_own_error(
    timestamp: str | None, signature: str | None
) -> None:
    now = FakeClock().now
    sent = str(int(now.timestamp()))
    with pytest.raises(GatewaySignatureError):
        verify(SECRET.encode(), timestamp or sent, signature or "sha256=00", BODY, now)
