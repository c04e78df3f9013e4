"""Notices (通知): whom they go to (pure), and a notice read by some households (in-process)."""

import httpx
import pytest

from hub.errors import InvalidInputError
from hub.notices.rules import Home, NoticeScope, audience
from tests.hub.conftest import FakeClock
from tests.hub.residents import household, send_notice

pytestmark = pytest.mark.fake_clock

HOMES = [
    Home(1, "Building 2/Floor 3/Unit 301", "lanyuan"),
    Home(2, "Building 2/Floor 5/Unit 502", "lanyuan"),
    Home(3, "Building 3/Floor 12/Unit 1201", "lanyuan"),
    Home(4, "Building 2/Floor 1/Unit 101", "other-site"),
]


def test_a_notice_goes_to_a_site_a_building_or_households() -> None:
    assert audience(HOMES, NoticeScope.SITE, site_id="lanyuan") == [1, 2, 3]
    assert audience(HOMES, NoticeScope.BUILDING, building="Building 2") == [1, 2, 4]
    both = audience(HOMES, NoticeScope.BUILDING, building="Building 2", site_id="lanyuan")
    assert both == [1, 2]
    assert audience(HOMES, NoticeScope.HOUSEHOLDS, household_ids=[3, 1]) == [1, 3]
    with pytest.raises(InvalidInputError, match="site_id"):
        audience(HOMES, NoticeScope.SITE)
    with pytest.raises(InvalidInputError, match="no such households: 9"):
        audience(HOMES, NoticeScope.HOUSEHOLDS, household_ids=[9])
    with pytest.raises(InvalidInputError, match="no household"):
        audience(HOMES, NoticeScope.BUILDING, building="Building 9")


async def test_a_water_shutoff_is_read_by_some_households(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    wang = await household(client, "Wang", "Building 2/Floor 3/Unit 301")
    li = await household(client, "Li", "Building 2/Floor 5/Unit 502")
    zhao = await household(client, "Zhao", "Building 3/Floor 12/Unit 1201")
    notice = await send_notice(
        client,
        "water_shutoff",
        "停水通知 Water shut-off",
        "Tomorrow 9:00-12:00, pipe works in building 2.",
        scope="building",
        building="Building 2",
    )
    assert (notice["recipients"], notice["read"]) == (2, 0)

    [shown] = (await client.get(f"/r/{wang['token']}/notices")).json()["items"]
    assert shown["read_at"] is None
    assert shown["category"] == "water_shutoff"
    assert (await client.get(f"/r/{zhao['token']}/notices")).json()["items"] == []
    # Zhao's page cannot read (or mark read) a notice of building 2.
    assert (await client.post(f"/r/{zhao['token']}/notices/{notice['id']}/read")).status_code == 404

    clock.advance(60)
    read = await client.post(f"/r/{wang['token']}/notices/{notice['id']}/read")
    assert read.status_code == 200
    first = read.json()["read_at"]
    clock.advance(60)
    again = await client.post(f"/r/{wang['token']}/notices/{notice['id']}/read")
    assert again.json()["read_at"] == first  # the first read counts

    seen = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
    assert seen["read"] == 1
    assert {r["household_name"]: r["read_at"] is not None for r in seen["receipts"]} == {
        "Wang": True,
        "Li": False,
    }
    assert li["id"] in [r["household_id"] for r in seen["receipts"]]
    listed = (await client.get("/api/v1/notices")).json()["items"]
    assert [n["id"] for n in listed] == [notice["id"]]
    # Sent once, read once: both on the hash-chained trail, which still verifies.
    trail = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    actions = [e["action"] for e in trail]
    assert (actions.count("notice_sent"), actions.count("notice_read")) == (1, 1)
    assert (await client.get("/api/v1/audit/verify")).json()["intact"] is True


async def test_an_evacuation_comes_first_on_the_page(client: httpx.AsyncClient) -> None:
    wang = await household(client, "Wang", "Building 2/Floor 3/Unit 301")
    for category, title in (("evacuation", "Leave now"), ("general", "Meeting")):
        await send_notice(
            client, category, title, "…", scope="households", household_ids=[wang["id"]]
        )
    shown = (await client.get(f"/r/{wang['token']}/notices")).json()["items"]
    assert [(n["title"], n["urgent"]) for n in shown] == [("Leave now", True), ("Meeting", False)]


@pytest.mark.parametrize(
    ("title", "body"),
    [("\u200b\u200b", "Tomorrow 9:00-12:00."), ("停水通知", "\u2066\u200d\u2069 \u3164")],
)
async def test_a_notice_that_shows_nothing_is_refused_and_not_sent(
    client: httpx.AsyncClient, title: str, body: str
) -> None:
    wang = await household(client, "Wang", "Building 2/Floor 3/Unit 301")
    notice = {"scope": "households", "household_ids": [wang["id"]], "title": title, "body": body}
    refused = await client.post("/api/v1/notices", json=notice)
    assert refused.status_code == 422
    assert "shows nothing" in refused.text
    assert (await client.get("/api/v1/notices")).json()["items"] == []
    assert (await client.get(f"/r/{wang['token']}/notices")).json()["items"] == []


async def test_a_notice_keeps_no_bidi_controls(client: httpx.AsyncClient) -> None:
    wang = await household(client, "Wang", "Building 2/Floor 3/Unit 301")
    # An override turns the number round on the phone: the resident would dial it backwards.
    notice = await send_notice(
        client,
        "general",
        "电梯维修 \u202eLift works",
        "Call \u202e1234-5678\u202c for help.",
        scope="households",
        household_ids=[wang["id"]],
    )
    assert (notice["title"], notice["body"]) == ("电梯维修 Lift works", "Call 1234-5678 for help.")
    [shown] = (await client.get(f"/r/{wang['token']}/notices")).json()["items"]
    assert (shown["title"], shown["body"]) == ("电梯维修 Lift works", "Call 1234-5678 for help.")
