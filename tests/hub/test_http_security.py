"""The hub's HTTP attack surface (issue 14): /metrics closed by default, security headers and
CSP on the console and the resident page, CORS closed unless configured, a body size limit,
signed webhooks."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.cases.notifier import Notifier
from hub.cases.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, verify
from hub.http.security import STRICT_CSP, inline_hash
from hub.requests.phone import render_phone_page
from hub.residents.page import STAGE_TEXT, page_policy
from hub.residents.rules import ResidentStage
from hub.settings import HubSettings
from tests.hub.http import METRICS_TOKEN, api_client, as_prometheus


def _settings(tmp_path: Path, **extra: object) -> HubSettings:
    return HubSettings(data_dir=tmp_path, start_ingest=False, **extra)  # type: ignore[arg-type]


async def test_metrics_are_closed_unless_a_token_is_set(tmp_path: Path) -> None:
    async with api_client(create_app(_settings(tmp_path))) as http:
        # Even an admin's API token does not open what is not configured.
        assert (await http.get("/metrics")).status_code == 404
    settings = _settings(tmp_path / "b", metrics_token=METRICS_TOKEN)
    async with api_client(create_app(settings)) as http:
        assert (await http.get("/metrics")).status_code == 401  # the API token is not it
        del http.headers["authorization"]
        assert (await http.get("/metrics")).status_code == 401
        wrong = {"authorization": "Bearer not-the-token"}
        assert (await http.get("/metrics", headers=wrong)).status_code == 401
        as_prometheus(http)
        response = await http.get("/metrics")
        assert response.status_code == 200
        assert "linli_cases" in response.text


async def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    async with api_client(create_app(_settings(tmp_path))) as http:
        for path in ("/console", "/api/v1/health", "/api/v1/nothing-here", "/console/console.js"):
            response = await http.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["referrer-policy"] == "no-referrer", path
        console = await http.get("/console")
        assert console.status_code == 200
        assert console.headers["content-security-policy"] == STRICT_CSP
        assert "'unsafe-inline'" not in STRICT_CSP
        assert "frame-ancestors 'none'" in STRICT_CSP


def test_the_resident_page_allows_exactly_its_own_inline_code() -> None:
    for stage in ResidentStage:
        page = render_phone_page("Wang <script>alert(1)</script>", stage.value, STAGE_TEXT[stage])
        policy = page_policy(page)
        assert "'unsafe-inline'" not in policy
        style = page.split("<style>")[1].split("</style>")[0]
        # Its two scripts, its words and its code (phone_words.js, phone.js), and no other.
        scripts = [part.split("</script>")[0] for part in page.split("<script>")[1:]]
        assert inline_hash(style) in policy
        assert all(inline_hash(script) in policy for script in scripts)
        assert policy.count("'sha256-") == 1 + len(scripts)
        assert len(scripts) == 2  # the name was escaped, not injected


async def test_cors_is_closed_unless_configured(tmp_path: Path) -> None:
    preflight = {
        "origin": "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
    }
    async with api_client(create_app(_settings(tmp_path))) as http:
        response = await http.options("/api/v1/cases", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        response = await http.get("/api/v1/health", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
    allowed = _settings(tmp_path / "b", cors_origins=["https://console.example"])
    async with api_client(create_app(allowed)) as http:
        response = await http.options("/api/v1/cases", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        ok = {**preflight, "origin": "https://console.example"}
        response = await http.options("/api/v1/cases", headers=ok)
        assert response.headers["access-control-allow-origin"] == "https://console.example"


async def test_a_body_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_request_bytes=4096)
    async with api_client(create_app(settings)) as http:
        big = json.dumps({"name": "x" * 5000})
        response = await http.post("/api/v1/households", content=big)
        assert response.status_code == 413
        assert response.headers["x-content-type-options"] == "nosniff"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        response = await http.post("/api/v1/households", content=chunks())
        assert response.status_code == 413
        # Under the limit the route answers as ever (here: the body is not a household).
        assert (await http.post("/api/v1/households", content=b"{}")).status_code == 422
        assert (await http.get("/api/v1/households")).status_code == 200


def test_webhook_settings_need_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="notify_webhook_secret"):
        _settings(tmp_path, notify_webhook_urls=["https://gateway.example/hook"])


def test_a_receiver_verifies_a_signature_and_refuses_replays() -> None:
    secret = b"k" * 32
    body = b'{"case_id":1}'
    now = 1_767_225_600
    sent = signature(secret, now, body)
    assert verify(secret, str(now), sent, body, now + 10)
    assert not verify(secret, str(now), sent, body + b" ", now)  # tampered
    assert not verify(b"other", str(now), sent, body, now)  # another key
    assert not verify(secret, str(now), sent, body, now + 301)  # replayed later
    assert not verify(secret, str(now + 1), sent, body, now)  # timestamp changed
    assert not verify(secret, "abc", sent, body, now)


async def test_the_notifier_signs_what_it_posts(tmp_path: Path) -> None:
    from hub.cases.notices import ClaimedNotice
    from hub.cases.notify import Channel

    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    secret = b"gateway-secret"
    clock_now = datetime(2026, 1, 1, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
        notifier = Notifier(
            None,  # type: ignore[arg-type]  # _deliver does not touch the store
            clock=lambda: clock_now,
            http=http,
            webhook_secret=secret,
        )
        notice = ClaimedNotice(
            id=1, channel=Channel.WEBHOOK, target="https://gw.test/hook", payload={"a": 1}
        )
        assert await notifier._deliver(notice) is None
    [request] = seen
    stamp = request.headers[TIMESTAMP_HEADER]
    assert int(stamp) == int(clock_now.timestamp())
    assert verify(secret, stamp, request.headers[SIGNATURE_HEADER], request.content, int(stamp))
    assert json.loads(request.content) == {"a": 1}
