"""What a scoped operator must not read of other sites through records shared between sites:
a notice sent to households of several communities (their names, read receipts and
family contacts), responders' ratings."""

import httpx
import pytest

from tests.hub.http import ok
from tests.hub.test_scoping_more import (
    admin,  # noqa: F401 - the two-site fixture
    new_household,
)

pytestmark = pytest.mark.fake_clock

API = "/api/v1"


async def test_a_notice_to_several_sites_shows_a_scoped_operator_its_homes_only(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    lan = await new_household(admin, "Li of Lanyuan", "Building 3/Unit 201", "lan-sos")
    mei = await new_household(admin, "Chen of Meiyuan", "Building 9/Unit 101", "mei-sos")
    body = {
        "scope": "households",
        "household_ids": [lan["id"], mei["id"]],
        "title": "Drill",
        "body": "Fire drill on Saturday",
    }
    sent = await ok(await admin.post(f"{API}/notices", json=body), 201)
    await ok(await admin.post(f"/r/{lan['token']}/notices/{sent['id']}/read"))
    assert (sent["recipients"], len(sent["receipts"])) == (2, 2)

    shown = await ok(await operator.get(f"{API}/notices/{sent['id']}"))
    [listed] = (await ok(await operator.get(f"{API}/notices")))["items"]
    for view in (shown, listed):
        assert [r["household_id"] for r in view["receipts"]] == [mei["id"]]
        assert "Li of Lanyuan" not in str(view)
        assert (view["recipients"], view["read"]) == (1, 0)
    everything = await ok(await admin.get(f"{API}/notices/{sent['id']}"))
    assert (everything["recipients"], everything["read"]) == (2, 1)


async def test_responders_ratings_are_scoped(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    homes = (
        await new_household(admin, "Li", "Building 3/Unit 201", "lan-sos"),
        await new_household(admin, "Chen", "Building 9/Unit 101", "mei-sos"),
    )
    for home in homes:
        body = {"household_id": home["id"], "category": "sanitation", "text": "bins"}
        opened = await ok(await admin.post(f"{API}/requests", json=body), 201)
        done = {"resolution": "real", "note": "emptied"}
        await ok(await admin.post(f"{API}/cases/{opened['case_id']}/resolve", json=done))
        rating = {"score": 2, "comment": "late"}
        await ok(
            await admin.post(
                f"/r/{home['token']}/requests/{opened['request']['id']}/rating", json=rating
            )
        )
    every = (await ok(await admin.get(f"{API}/ratings/responders")))["items"]
    assert [s["responder_id"] for s in every] == ["wang", "zhao"]
    ours = (await ok(await operator.get(f"{API}/ratings/responders")))["items"]
    assert [s["responder_id"] for s in ours] == ["zhao"]
    asked = await operator.get(f"{API}/ratings/responders", params={"responder_id": "wang"})
    assert (await ok(asked))["items"] == []


async def test_a_scoped_operator_cannot_move_or_add_devices_of_other_sites(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    """Moving Lanyuan's smoke detector onto Meiyuan's edge would make the hub refuse Lanyuan's
    edge's alarms about it (``rejected.foreign_device``): a fire silenced from another site."""
    steal = {
        "id": "lan-smoke",
        "kind": "smoke",
        "location": "Building 9/Floor 1/Unit 101",
        "edge_id": "edge-mei",
    }
    plant = {
        "id": "mei-new",
        "kind": "smoke",
        "location": "Building 9/Floor 2",
        "edge_id": "edge-lan",
    }
    orphan = {"id": "mei-orphan", "kind": "smoke", "location": "Nowhere/1", "edge_id": None}
    for body in (steal, plant, orphan):
        refused = await operator.post(f"{API}/devices", json=body)
        assert refused.status_code == 403, refused.text
    [smoke] = [
        d for d in (await ok(await admin.get(f"{API}/devices")))["items"] if d["id"] == "lan-smoke"
    ]
    assert (smoke["edge_id"], smoke["location"]) == ("edge-lan", "Building 3/Floor 2/Unit 201")
    ids = {d["id"] for d in (await ok(await admin.get(f"{API}/devices")))["items"]}
    assert not ids & {"mei-new", "mei-orphan"}

    ours = {
        "id": "mei-new",
        "kind": "smoke",
        "location": "Building 9/Floor 2",
        "edge_id": "edge-mei",
    }
    await ok(await operator.post(f"{API}/devices", json=ours), 201)
    moved = {**ours, "location": "Building 9/Floor 3"}
    await ok(await operator.post(f"{API}/devices", json=moved), 200)
    away = {**ours, "edge_id": "edge-lan"}
    assert (await operator.post(f"{API}/devices", json=away)).status_code == 403
    # an admin may still move anything
    await ok(await admin.post(f"{API}/devices", json=away), 200)


async def test_a_scoped_operator_gets_its_newest_notices_whatever_other_sites_sent_since(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    """The limit counts the caller's notices, not everyone's: Lanyuan's later notices must not
    push Meiyuan's out of a Meiyuan operator's first page."""
    lan = await new_household(admin, "Li of Lanyuan", "Building 3/Unit 201", "lan-sos")
    mei = await new_household(admin, "Chen of Meiyuan", "Building 9/Unit 101", "mei-sos")

    async def notice(home: dict[str, object], title: str) -> int:
        body = {"scope": "households", "household_ids": [home["id"]], "title": title, "body": "."}
        sent: dict[str, int] = await ok(await admin.post(f"{API}/notices", json=body), 201)
        return sent["id"]

    ours = [await notice(mei, "Water off"), await notice(mei, "Lift repair")]
    for n in range(3):
        await notice(lan, f"Lanyuan {n}")
    page = await ok(await operator.get(f"{API}/notices", params={"limit": 2}))
    assert [n["id"] for n in page["items"]] == ours[::-1]
    every = await ok(await admin.get(f"{API}/notices", params={"limit": 2}))
    assert len(every["items"]) == 2
    assert not {n["id"] for n in every["items"]} & set(ours)
