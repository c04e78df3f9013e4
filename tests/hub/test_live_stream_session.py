"""The live stream ends with the session that opened it, and beats when asked to.

A hub served by uvicorn over real HTTP (SQLite, no MQTT), on a clock the test moves; the
keepalive interval is short so that a session check comes round within the test.
"""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.auth.rules import SESSION_LIFETIME
from hub.live.events import AlertReceived, CaseChanged, EventBus, HubEvent
from tests.hub.conftest import FakeClock
from tests.hub.test_events import alert_view, case_view
from tests.residents.test_phone_page_browser import Hub

PASSWORD = "a long enough password"
KEEPALIVE_S = 0.2
WITHIN_S = 10.0


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(
        tmp_path,
        clock=FakeClock(datetime.now(UTC).replace(microsecond=0)),
        sse_keepalive_seconds=KEEPALIVE_S,
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def signed_in(hub: Hub, username: str) -> tuple[int, str]:
    """Create an operator and sign in: return the account's id and the session token."""
    account = {"username": username, "password": PASSWORD, "role": "operator"}
    user_id: int = hub.call("POST", "/api/v1/users", json=account)["id"]
    login = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["token"]
    return user_id, token


def stream_ends_after(hub: Hub, token: str, end_it: Any) -> bool:
    """Open the stream as ``token``, call ``end_it`` once it is open, and return whether the
    hub ended the stream within ``WITHIN_S`` (keepalives keep coming otherwise)."""
    headers = {"authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{hub.url}/api/v1/stream", headers=headers, timeout=5) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        end_it()
        deadline = time.monotonic() + WITHIN_S
        return all(time.monotonic() <= deadline for _line in lines)


def test_a_disabled_operators_stream_ends(hub: Hub) -> None:
    user_id, token = signed_in(hub, "op.left")
    assert stream_ends_after(
        hub,
        token,
        lambda: hub.call("POST", f"/api/v1/users/{user_id}/disabled", json={"disabled": True}),
    )
    again = httpx.get(f"{hub.url}/api/v1/stream", headers={"authorization": f"Bearer {token}"})
    assert again.status_code == 401


@pytest.mark.parametrize("body", [{"role": "responder"}, {"sites": ["lanyuan"]}])
def test_a_stream_ends_when_its_account_is_changed(hub: Hub, body: dict[str, Any]) -> None:
    """A stream opened for every site must not go on showing them to an operator moved to
    one site or made a responder (``PATCH /users/<id>``): the client reconnects, scoped anew."""
    user_id, token = signed_in(hub, "op.moved")
    assert stream_ends_after(
        hub, token, lambda: hub.call("PATCH", f"/api/v1/users/{user_id}", json=body)
    )
    again = httpx.get(
        f"{hub.url}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert {name: again[name] for name in body} == body


def test_a_signed_out_sessions_stream_ends(hub: Hub) -> None:
    _, token = signed_in(hub, "op.out")

    def sign_out() -> None:
        response = httpx.post(
            f"{hub.url}/api/v1/auth/logout", headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 204

    assert stream_ends_after(hub, token, sign_out)


def test_an_expired_sessions_stream_ends(hub: Hub) -> None:
    _, token = signed_in(hub, "op.late")
    assert hub.clock is not None
    clock = hub.clock
    assert stream_ends_after(
        hub, token, lambda: clock.advance(SESSION_LIFETIME.total_seconds() + 1)
    )


def test_a_valid_sessions_stream_goes_on(hub: Hub) -> None:
    _, token = signed_in(hub, "op.stays")
    assert not stream_ends_after(hub, token, lambda: None)


def test_a_stream_beats_when_asked(hub: Hub) -> None:
    _, token = signed_in(hub, "op.beats")
    headers = {"authorization": f"Bearer {token}"}
    url = f"{hub.url}/api/v1/stream?heartbeat_s=1"
    with httpx.stream("GET", url, headers=headers, timeout=5) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        # One at once (the page knows its stream flows), then at least every second.
        assert [next(lines) for _ in range(3)] == [
            "",
            "event: heartbeat",
            'data: {"type":"heartbeat"}',
        ]
        started = time.monotonic()
        beats = 0
        for line in lines:
            beats += line == "event: heartbeat"
            if beats == 2:
                break
        assert time.monotonic() - started < 2 * 1.0 + 1.5
    assert (
        httpx.get(f"{hub.url}/api/v1/stream?heartbeat_s=0.01", headers=headers).status_code == 422
    )


def test_a_scoped_stream_keeps_beating_through_another_sites_storm(hub: Hub) -> None:
    """A stream that hears many events and may show none of them still says it is alive (a
    proxy would cut it, a page would take it for dead)."""
    hub.staff_site("g-b3", "B3", ["Building 3"])
    account = {"username": "op.lan", "password": PASSWORD, "role": "operator"}
    hub.call("POST", "/api/v1/users", json=account | {"sites": ["lanyuan"]})
    login = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": "op.lan", "password": PASSWORD}
    )
    headers = {"authorization": f"Bearer {login.json()['token']}"}
    bus: EventBus = hub.app.state.events
    loop = hub.server.servers[0].get_loop()
    theirs = CaseChanged(
        type="case_updated", case=case_view().model_copy(update={"site_id": "meiyuan"})
    )
    storming = threading.Event()

    def storm() -> None:
        while not storming.wait(0.02):
            loop.call_soon_threadsafe(bus.publish, theirs)

    with httpx.stream("GET", f"{hub.url}/api/v1/stream", headers=headers, timeout=5) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        storm_thread = threading.Thread(target=storm)
        storm_thread.start()
        try:
            started = time.monotonic()
            keepalives = 0
            for line in lines:
                assert "meiyuan" not in line
                keepalives += line == ": keepalive"
                if keepalives == 3 or time.monotonic() - started > 5:
                    break
        finally:
            storming.set()
            storm_thread.join()
    assert keepalives == 3
    assert time.monotonic() - started < 5 * KEEPALIVE_S + 2


def test_a_scoped_stream_shows_the_alert_of_a_device_registered_a_moment_ago(hub: Hub) -> None:
    """Another site's alert had the stream look up its devices just before: a device of its
    own site registered since is looked up at once, not a second later (its alert hidden)."""
    hub.staff_site("g-b3", "B3", ["Building 3"])
    account = {"username": "op.new", "password": PASSWORD, "role": "operator"}
    hub.call("POST", "/api/v1/users", json=account | {"sites": ["lanyuan"]})
    credentials = {"username": "op.new", "password": PASSWORD}
    login = httpx.post(f"{hub.url}/api/v1/auth/login", json=credentials)
    headers = {"authorization": f"Bearer {login.json()['token']}"}
    bus: EventBus = hub.app.state.events
    loop = hub.server.servers[0].get_loop()

    def alert_of(device_id: str, n: int) -> AlertReceived:
        return AlertReceived(alert=alert_view(n).model_copy(update={"device_id": device_id}))

    ours = CaseChanged(
        type="case_updated", case=case_view(7).model_copy(update={"site_id": "lanyuan"})
    )
    with httpx.stream("GET", f"{hub.url}/api/v1/stream", headers=headers, timeout=5) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        loop.call_soon_threadsafe(bus.publish, alert_of("b9-smoke", 1))  # not ours: looked up
        time.sleep(0.2)
        device = {
            "id": "b3-new-sos",
            "kind": "sos_button",
            "location": "Building 3/Floor 1/Unit 101",
        }
        hub.call("POST", "/api/v1/devices", json=device)
        events: list[HubEvent] = [alert_of("b3-new-sos", 2), ours]
        loop.call_soon_threadsafe(bus.publish_all, events)
        data = []
        for line in lines:
            if line.startswith("data: "):
                data.append(line)
                if '"case_updated"' in line:
                    break
    assert len(data) == 2
    assert '"b3-new-sos"' in data[0]
