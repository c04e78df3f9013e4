"""Simulated patrol phones (``simulators.patrols``): where a walk round the map is, and their
OwnTracks fixes taken by a hub served by uvicorn."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.auth.repository import AuthStore
from hub.auth.rules import Role
from simulators.patrols import (
    Phone,
    metres_between,
    position_on_round,
    post_fixes,
    rounds_of,
)
from tests.residents.test_phone_page_browser import Hub

METRE = 1 / 111_195  # a metre of latitude, in degrees
SQUARE = [(39.9, 116.4), (39.9 + 100 * METRE, 116.4), (39.9 + 100 * METRE, 116.4 + 130 * METRE),
          (39.9, 116.4 + 130 * METRE)]  # fmt: skip


def test_a_walk_round_the_map_is_along_its_legs_and_starts_again() -> None:
    round_length = sum(
        metres_between(a, b) for a, b in zip(SQUARE, [*SQUARE[1:], SQUARE[0]], strict=True)
    )
    assert position_on_round(SQUARE, 0) == SQUARE[0]
    lat, lon = position_on_round(SQUARE, 50)
    assert lat == pytest.approx(39.9 + 50 * METRE)
    assert lon == pytest.approx(116.4)
    assert metres_between(SQUARE[0], (lat, lon)) == pytest.approx(50, abs=0.1)
    again = position_on_round(SQUARE, round_length + 50)
    assert again == pytest.approx((lat, lon))
    assert position_on_round([(1.0, 2.0)], 500) == (1.0, 2.0)  # one place: standing there
    with pytest.raises(ValueError, match="at least one"):
        position_on_round([], 1)


def test_rounds_start_apart_and_go_both_ways() -> None:
    first, second = rounds_of(SQUARE, 2)
    assert first == SQUARE
    assert second[0] == SQUARE[2]
    assert second == [SQUARE[2], SQUARE[1], SQUARE[0], SQUARE[3]]  # the other way round


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(tmp_path)
    running.start()
    try:
        running.put_community("lanyuan", "Jiaodaokou", "Lanyuan")
        for patrol in ("li", "chen"):
            body = {"id": patrol, "site_id": "lanyuan", "name": patrol, "role": "security"}
            running.call("PUT", f"/api/v1/responders/{patrol}", json=body)
        yield running
    finally:
        running.stop()


async def test_the_phones_fixes_are_taken_and_a_refused_one_is_logged(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    auth: AuthStore = hub.app.state.auth_store
    phones = []
    for patrol, round_ in zip(("li", "chen"), rounds_of(SQUARE, 2), strict=True):
        token = f"lnl_test.phone.{patrol}"
        auth.ensure_api_token(token, patrol, Role.RESPONDER)
        phones.append(Phone(patrol, token, round_))
    wrong = Phone("li", "lnl_not-a-token", SQUARE)
    async with httpx.AsyncClient(base_url=hub.url, timeout=10) as client:
        assert await post_fixes(client, [*phones, wrong], walked_m=75) == 2
    where = {p["responder_id"]: p for p in hub.call("GET", "/api/v1/positions")["items"]}
    assert set(where) == {"li", "chen"}
    assert (where["li"]["lat"], where["li"]["lon"]) == pytest.approx(
        position_on_round(phones[0].round, 75), abs=1e-6
    )
    assert "patrol phone li: the hub answered 401" in caplog.text
