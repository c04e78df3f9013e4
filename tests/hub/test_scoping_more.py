"""Site scoping beyond cases and devices: households, silences, the roster, door access and
the audit trail. An operator of Meiyuan faces the records of Lanyuan; an admin sees both."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.access import AccessEventKind, AccessRecord
from devices.kinds import AlertKind, Severity
from hub.access.repository import AccessStore
from hub.auth.rules import ForbiddenError
from hub.auth.scoping import (
    PlacedDevice,
    SiteMap,
    check_device,
    check_household,
    check_roster_change,
    check_silence,
    site_of_household,
    site_of_silence,
)
from hub.residents.rules import token_hash
from hub.roster.rules import Grid, Site
from hub.silences.rules import SilenceScope
from hub.store import HubStore
from tests.hub.factories import T0, make_alert
from tests.hub.http import ok
from tests.hub.sites import put_site

pytestmark = pytest.mark.fake_clock

API = "/api/v1"
LAN_SMOKE = {
    "id": "lan-smoke",
    "kind": "smoke",
    "location": "Building 3/Floor 2/Unit 201",
    "edge_id": "edge-lan",
}
LAN_SOS = {
    "id": "lan-sos",
    "kind": "sos_button",
    "location": "Building 3/Unit 201",
    "edge_id": None,
}
LAN_LEAK = {
    "id": "lan-leak",
    "kind": "water_leak",
    "location": "Building 3/Basement",
    "edge_id": None,
}
"""No edge (on purpose, ``null``: two edges here): of Lanyuan by its place only."""
LAN_IN_MEI = {
    "id": "lan-pump",
    "kind": "water_leak",
    "location": "Building 9/Pump room",
    "edge_id": "edge-lan",
}
"""Served by Lanyuan's edge though it stands in a Meiyuan building."""
MEI_SMOKE = {
    "id": "mei-smoke",
    "kind": "smoke",
    "location": "Building 9/Floor 1/Unit 101",
    "edge_id": "edge-mei",
}
MEI_SOS = {
    "id": "mei-sos",
    "kind": "sos_button",
    "location": "Building 9/Unit 101",
    "edge_id": None,
}
MEI_SOS_2 = {
    "id": "mei-sos-2",
    "kind": "sos_button",
    "location": "Building 9/Unit 102",
    "edge_id": None,
}


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Two sites, each with an edge, a grid, a responder and devices."""
    for site, edge, building, worker in (
        ("lanyuan", "edge-lan", "Building 3", "wang"),
        ("meiyuan", "edge-mei", "Building 9", "zhao"),
    ):
        await put_site(client, site, edge, building)
        responder = {"id": worker, "site_id": site, "name": worker, "role": "grid_worker"}
        await ok(await client.put(f"{API}/responders/{worker}", json=responder))
    for device in (LAN_SMOKE, LAN_SOS, LAN_LEAK, LAN_IN_MEI, MEI_SMOKE, MEI_SOS, MEI_SOS_2):
        await ok(await client.post(f"{API}/devices", json=device), 201)
    return client


# --- households --------------------------------------------------------------------------


async def new_household(
    client: httpx.AsyncClient, name: str, location: str, button: str
) -> dict[str, Any]:
    """Create a household with its SOS button through the API; return what the API answers."""
    body = {"name": name, "location": location, "device_ids": [button]}
    created: dict[str, Any] = await ok(await client.post(f"{API}/households", json=body), 201)
    return created


async def test_households_are_scoped(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    lan = await new_household(admin, "Li", "Building 3/Unit 201", "lan-sos")
    # No grid covers this place: the household is Meiyuan's through its button.
    mei = await new_household(admin, "Chen", "Tower 1/Unit 5", "mei-sos")
    listed = (await operator.get(f"{API}/households")).json()["items"]
    assert [h["id"] for h in listed] == [mei["id"]]
    assert (await operator.post(f"{API}/households/{lan['id']}/token")).status_code == 404
    assert (await operator.post(f"{API}/households/999/token")).status_code == 404
    store: HubStore = app.state.store
    assert store.households.household_by_token(token_hash(lan["token"])).id == lan["id"]
    await ok(await operator.post(f"{API}/households/{mei['id']}/token"))

    for refused in (
        {"name": "X", "location": "Building 3/Unit 202"},
        {"name": "X", "location": "Building 9/Unit 102", "device_ids": ["lan-sos"]},
        {"name": "X", "location": "Building 9/Unit 102", "device_ids": ["no-such-button"]},
        {"name": "X", "location": "Nowhere/Unit 1"},
    ):
        response = await operator.post(f"{API}/households", json=refused)
        assert response.status_code == 403, (refused, response.text)
    created = await new_household(operator, "Zhou", "Building 9/Unit 102", "mei-sos-2")
    listed = (await operator.get(f"{API}/households")).json()["items"]
    assert [h["id"] for h in listed] == [mei["id"], created["id"]]
    everything = (await admin.get(f"{API}/households")).json()["items"]
    assert [h["id"] for h in everything] == [lan["id"], mei["id"], created["id"]]


# --- silences ----------------------------------------------------------------------------


def silence(scope: str, target: str) -> dict[str, Any]:
    ends_at = (T0 + timedelta(days=1)).isoformat()
    return {"scope": scope, "target": target, "ends_at": ends_at, "reason": "drill"}


async def test_silences_are_scoped(admin: httpx.AsyncClient, operator: httpx.AsyncClient) -> None:
    theirs = [
        await ok(await admin.post(f"{API}/silences", json=silence(scope, target)), 201)
        for scope, target in (
            ("device", "lan-smoke"),
            ("place", "Building 3"),
            ("edge", "edge-lan"),
            ("place", "Nowhere"),
        )
    ]
    ours = await ok(await admin.post(f"{API}/silences", json=silence("device", "mei-smoke")), 201)
    listed = (await operator.get(f"{API}/silences")).json()["items"]
    assert [s["id"] for s in listed] == [ours["id"]]
    active = (await operator.get(f"{API}/silences", params={"active": "true"})).json()["items"]
    assert [s["id"] for s in active] == [ours["id"]]
    for other in theirs:
        ended = await operator.post(f"{API}/silences/{other['id']}/end")
        assert ended.status_code == 404, ended.text
    for scope, target in (
        ("device", "lan-smoke"),
        ("device", "no-such-device"),
        ("place", "Building 3/Floor 2"),
        ("edge", "edge-lan"),
        ("edge", "no-such-edge"),
        # Meiyuan's building, but a Lanyuan edge serves a pump in it.
        ("place", "Building 9"),
    ):
        response = await operator.post(f"{API}/silences", json=silence(scope, target))
        assert response.status_code == 403, (scope, target, response.text)
    for scope, target in (("edge", "edge-mei"), ("place", "Building 9/Floor 1")):
        await ok(await operator.post(f"{API}/silences", json=silence(scope, target)), 201)
    await ok(await operator.post(f"{API}/silences/{ours['id']}/end"))
    everything = (await admin.get(f"{API}/silences", params={"active": "true"})).json()["items"]
    assert {s["id"] for s in theirs} <= {s["id"] for s in everything}
    assert ours["id"] not in {s["id"] for s in everything}
    assert len((await admin.get(f"{API}/silences")).json()["items"]) == 7


# --- roster ------------------------------------------------------------------------------


async def test_the_roster_is_scoped(admin: httpx.AsyncClient, operator: httpx.AsyncClient) -> None:
    assert [s["id"] for s in (await operator.get(f"{API}/sites")).json()["items"]] == ["meiyuan"]
    assert [g["id"] for g in (await operator.get(f"{API}/grids")).json()["items"]] == ["g-meiyuan"]
    assert [r["id"] for r in (await operator.get(f"{API}/responders")).json()["items"]] == ["zhao"]
    for path in ("grids", "responders"):
        asked = await operator.get(f"{API}/{path}", params={"site_id": "lanyuan"})
        assert asked.json()["items"] == []

    lan_site = {"id": "lanyuan", "name": "Mine now", "edge_ids": []}
    new_site = {"id": "zhuyuan", "name": "Zhuyuan"}
    lan_grid = {"id": "g-lanyuan", "site_id": "meiyuan", "name": "B3", "places": ["Building 3"]}
    new_grid = {"id": "g-new", "site_id": "lanyuan", "name": "B4", "places": ["Building 4"]}
    moved_grid = {"id": "g-meiyuan", "site_id": "lanyuan", "name": "B9", "places": ["Building 9"]}
    wang = {"id": "wang", "site_id": "meiyuan", "name": "Wang", "role": "grid_worker"}
    new_worker = {"id": "sun", "site_id": "lanyuan", "name": "Sun", "role": "security"}
    moved_zhao = {"id": "zhao", "site_id": "lanyuan", "name": "Zhao", "role": "grid_worker"}
    grab_edge = {"id": "meiyuan", "name": "Meiyuan", "edge_ids": ["edge-mei", "edge-lan"]}
    grab_place = {
        "id": "g-basement",
        "site_id": "meiyuan",
        "name": "Basement",
        "places": ["Building 3/Basement"],
    }
    for path, body, status in (
        ("sites/lanyuan", lan_site, 404),
        ("sites/zhuyuan", new_site, 403),
        ("grids/g-lanyuan", lan_grid, 404),
        ("grids/g-new", new_grid, 403),
        ("grids/g-meiyuan", moved_grid, 403),
        ("responders/wang", wang, 404),
        ("responders/sun", new_worker, 403),
        ("responders/zhao", moved_zhao, 403),
        ("sites/meiyuan", grab_edge, 403),
        ("grids/g-basement", grab_place, 403),
    ):
        response = await operator.put(f"{API}/{path}", json=body)
        assert response.status_code == status, (path, response.text)

    annex = {"id": "g-annex", "site_id": "meiyuan", "name": "Annex", "places": ["Building 9/A"]}
    await ok(await operator.put(f"{API}/grids/g-annex", json=annex))
    zhao = {"id": "zhao", "site_id": "meiyuan", "name": "Zhao", "role": "security"}
    await ok(await operator.put(f"{API}/responders/zhao", json=zhao))
    renamed = {"id": "meiyuan", "name": "Meiyuan East", "edge_ids": ["edge-mei"]}
    await ok(await operator.put(f"{API}/sites/meiyuan", json=renamed))

    sites = (await admin.get(f"{API}/sites")).json()["items"]
    assert {s["id"]: s["edge_ids"] for s in sites} == {
        "lanyuan": ["edge-lan"],
        "meiyuan": ["edge-mei"],
    }
    grids = (await admin.get(f"{API}/grids")).json()["items"]
    assert {g["id"]: g["site_id"] for g in grids} == {
        "g-annex": "meiyuan",
        "g-lanyuan": "lanyuan",
        "g-meiyuan": "meiyuan",
    }
    responders = (await admin.get(f"{API}/responders")).json()["items"]
    assert {r["id"]: r["site_id"] for r in responders} == {"wang": "lanyuan", "zhao": "meiyuan"}


# --- door access -------------------------------------------------------------------------


async def test_door_access_is_scoped(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    access = f"{API}/access"
    made: dict[str, dict[str, Any]] = {}
    schedule = await ok(
        await admin.post(
            f"{access}/schedules",
            json={"name": "day", "windows": [{"days": [1], "start": "07:00", "end": "19:00"}]},
        ),
        201,
    )
    for edge, number in (("edge-lan", "04A1B2C3"), ("edge-mei", "04D4E5F6")):
        await ok(await admin.post(f"{access}/sites", json={"edge_id": edge, "name": edge}), 201)
        door = {"id": f"gate-{edge}", "reader_id": f"reader-{edge}"}
        await ok(await admin.put(f"{access}/sites/{edge}/doors/{door['id']}", json=door), 201)
        group = await ok(
            await admin.post(
                f"{access}/groups",
                json={
                    "edge_id": edge,
                    "name": "all",
                    "door_ids": [door["id"]],
                    "schedule_id": schedule["id"] if edge == "edge-lan" else None,
                },
            ),
            201,
        )
        person = await ok(
            await admin.post(
                f"{access}/people",
                json={"edge_id": edge, "name": "P", "group_ids": [group["id"]]},
            ),
            201,
        )
        credential = await ok(
            await admin.post(
                f"{access}/people/{person['id']}/credentials",
                json={"kind": "card", "value": number},
            ),
            201,
        )
        made[edge] = {"group": group, "person": person, "credential": credential}
    store: AccessStore = app.state.access_store
    store.log.ingest_log(
        [
            AccessRecord(
                id=f"log-{edge}",
                edge_id=edge,
                door_id=f"gate-{edge}",
                kind=AccessEventKind.DENIED,
                ts=T0,
            )
            for edge in ("edge-lan", "edge-mei")
        ],
        T0,
    )
    lan_household = await ok(
        await admin.post(f"{API}/households", json={"name": "Li", "location": "Building 3/U1"}),
        201,
    )

    async def ids(path: str, key: str = "id") -> list[Any]:
        return [item[key] for item in (await operator.get(f"{access}/{path}")).json()["items"]]

    mei, lan = made["edge-mei"], made["edge-lan"]
    assert await ids("sites", "edge_id") == ["edge-mei"]
    assert await ids("doors", "edge_id") == ["edge-mei"]
    assert await ids("doors?edge_id=edge-lan", "edge_id") == []
    assert await ids("groups") == [mei["group"]["id"]]
    assert await ids("people") == [mei["person"]["id"]]
    assert await ids("log") == ["log-edge-mei"]

    lan_person, lan_group = lan["person"]["id"], lan["group"]["id"]
    card = {"kind": "card", "value": "04998877"}
    for method, path, body, status in (
        ("GET", f"people/{lan_person}", None, 404),
        ("PUT", f"people/{lan_person}", {"group_ids": []}, 404),
        ("DELETE", f"people/{lan_person}", None, 404),
        ("POST", f"people/{lan_person}/credentials", card, 404),
        ("POST", f"credentials/{lan['credential']['id']}/revoke", {}, 404),
        ("PUT", "sites/edge-lan", {"name": "mine", "timezone": "UTC"}, 404),
        ("PUT", "sites/edge-lan/doors/gate-2", {"id": "gate-2", "reader_id": "r2"}, 404),
        ("DELETE", "doors/gate-edge-lan", None, 404),
        ("PUT", f"groups/{lan_group}", {"name": "x", "door_ids": []}, 404),
        ("DELETE", f"groups/{lan_group}", None, 404),
        ("POST", "groups", {"edge_id": "edge-lan", "name": "x", "door_ids": []}, 403),
        ("POST", "people", {"edge_id": "edge-lan", "name": "x"}, 403),
        ("POST", "import", {"edge_id": "edge-lan", "people": []}, 403),
        ("POST", "sites", {"edge_id": "edge-other", "name": "x"}, 403),
        (
            "PUT",
            f"schedules/{schedule['id']}",
            {"name": "night", "windows": [{"days": [1], "start": "08:00", "end": "18:00"}]},
            403,
        ),
        ("POST", "people", {"edge_id": "edge-mei", "name": "x", "household_id": 9}, 404),
        (
            "POST",
            "people",
            {"edge_id": "edge-mei", "name": "x", "household_id": lan_household["id"]},
            404,
        ),
        (
            "PUT",
            "sites/edge-mei/doors/gate-edge-lan",
            {"id": "gate-edge-lan", "reader_id": "r3"},
            422,
        ),
    ):
        response = await operator.request(method, f"{access}/{path}", json=body)
        assert response.status_code == status, (method, path, response.text)
    rejected = await operator.post(
        f"{access}/import",
        json={
            "edge_id": "edge-mei",
            "people": [{"name": "x", "household_id": lan_household["id"]}],
        },
    )
    assert rejected.status_code == 422
    assert rejected.json()["errors"] == [
        {"row": 0, "field": "household_id", "error": f"no household {lan_household['id']}"}
    ]
    taken = await operator.put(
        f"{access}/sites/edge-mei/doors/gate-edge-lan",
        json={"id": "gate-edge-lan", "reader_id": "r3"},
    )
    # Refused without naming the site the door is of.
    assert taken.json() == {"detail": "door gate-edge-lan belongs to another site"}

    mei_person = mei["person"]["id"]
    await ok(await operator.get(f"{access}/people/{mei_person}"))
    await ok(await operator.put(f"{access}/people/{mei_person}", json={"group_ids": []}))
    await ok(await operator.post(f"{access}/people/{mei_person}/credentials", json=card), 201)
    await ok(await operator.post(f"{access}/credentials/{mei['credential']['id']}/revoke"))
    await ok(
        await operator.put(f"{access}/sites/edge-mei", json={"name": "Mei", "timezone": "UTC"})
    )

    # Nothing of Lanyuan's was touched; the admin still sees both sites.
    person = await ok(await admin.get(f"{access}/people/{lan_person}"))
    assert person["group_ids"] == [lan_group]
    assert [c["revoked_at"] for c in person["credentials"]] == [None]
    all_sites = (await admin.get(f"{access}/sites")).json()["items"]
    assert [s["edge_id"] for s in all_sites] == ["edge-lan", "edge-mei"]
    assert len((await admin.get(f"{access}/log")).json()["items"]) == 2
    assert len((await admin.get(f"{access}/doors")).json()["items"]) == 2


# --- audit trail -------------------------------------------------------------------------


async def test_the_audit_trail_is_scoped_and_pages_over_hidden_entries(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    store: HubStore = app.state.store
    mei_case, lan_case = (
        store.intake.ingest_alerts(
            [
                make_alert(
                    device_id=device["id"],
                    edge_id=device["edge_id"],
                    kind=AlertKind.SMOKE,
                    severity=Severity.CRITICAL,
                )
            ],
            T0,
        )
        .cases_opened[0]
        .id
        for device in (MEI_SMOKE, LAN_SMOKE)
    )
    for case_id in (lan_case, mei_case):
        await ok(await admin.post(f"{API}/cases/{case_id}/acknowledge"))
    everything = (await admin.get(f"{API}/audit", params={"limit": 10_000})).json()["items"]
    mei_alerts = {a["id"] for a in (await admin.get(f"{API}/alerts")).json()["items"]} & {
        e["alert_id"] for e in everything if e["case_id"] == mei_case
    }

    def of_meiyuan(entry: Mapping[str, Any]) -> bool:
        if entry["case_id"] is not None:
            return bool(entry["case_id"] == mei_case)
        return entry["alert_id"] in mei_alerts

    expected = [e["seq"] for e in everything if of_meiyuan(e)]
    assert expected, "the operator's site has audited records"
    assert len(expected) < len(everything)
    assert any(e["case_id"] is None and e["alert_id"] is None for e in everything)

    seen = (await operator.get(f"{API}/audit", params={"limit": 10_000})).json()["items"]
    assert [e["seq"] for e in seen] == expected
    paged: list[int] = []
    after = 0
    while True:
        page = (await operator.get(f"{API}/audit", params={"after_seq": after, "limit": 1})).json()[
            "items"
        ]
        if not page:
            break
        assert len(page) == 1
        paged.append(page[0]["seq"])
        after = page[0]["seq"]
    assert paged == expected

    verdict = await ok(await operator.get(f"{API}/audit/verify"))
    assert verdict["intact"] is True
    assert verdict["checked"] == everything[-1]["seq"]


# --- the pure rules ----------------------------------------------------------------------

SITES = (
    Site(id="a", name="A", edge_ids=["edge-a"]),
    Site(id="b", name="B", edge_ids=["edge-b"]),
)
GRIDS = (
    Grid(id="ga", site_id="a", name="A", places=["Building 1"]),
    Grid(id="gb", site_id="b", name="B", places=["Building 2"]),
)
DEVICES = (
    PlacedDevice(id="a-smoke", edge_id="edge-a", location="Building 1/Unit 1"),
    PlacedDevice(id="b-sos", edge_id=None, location="Building 2/Unit 1"),
    PlacedDevice(id="loose", edge_id="edge-x", location="Field/1"),
)
MAP = SiteMap(sites=SITES, grids=GRIDS, devices=DEVICES)


def test_a_household_is_of_its_places_site_else_of_its_buttons() -> None:
    device_sites = MAP.device_sites()
    assert device_sites == {"a-smoke": "a", "b-sos": "b", "loose": None}
    assert site_of_household(MAP, "Building 1/Unit 9", ["b-sos"], device_sites) == "a"
    assert site_of_household(MAP, "Tower/1", ["loose", "b-sos"], device_sites) == "b"
    assert site_of_household(MAP, "Tower/1", ["loose"], device_sites) is None
    check_household(MAP, "Building 2/Unit 2", ["b-sos"], frozenset({"b"}))
    check_household(MAP, "Tower/1", ["b-sos"], None)
    with pytest.raises(ForbiddenError):
        check_household(MAP, "Building 1/Unit 2", [], frozenset({"b"}))


def test_a_silence_is_of_its_targets_site() -> None:
    device_sites = MAP.device_sites()
    assert site_of_silence(MAP, SilenceScope.DEVICE, "b-sos", device_sites) == "b"
    assert site_of_silence(MAP, SilenceScope.EDGE, "edge-a", device_sites) == "a"
    assert site_of_silence(MAP, SilenceScope.EDGE, "edge-x", device_sites) is None
    assert site_of_silence(MAP, SilenceScope.PLACE, "Building 2/Unit 1", device_sites) == "b"
    assert site_of_silence(MAP, SilenceScope.PLACE, "Building 2", device_sites) == "b"
    assert site_of_silence(MAP, SilenceScope.PLACE, "Building", device_sites) is None
    check_silence(MAP, SilenceScope.PLACE, "Building 2", frozenset({"b"}))
    with pytest.raises(ForbiddenError):
        check_silence(MAP, SilenceScope.EDGE, "edge-x", frozenset({"a", "b"}))


def test_a_roster_change_may_take_in_unsited_devices_but_not_other_sites() -> None:
    claim_loose = MAP.with_site(Site(id="a", name="A", edge_ids=["edge-a", "edge-x"]))
    check_roster_change(MAP, claim_loose, frozenset({"a"}))
    claim_b = MAP.with_grid(Grid(id="ga2", site_id="a", name="A2", places=["Building 2/Unit 1"]))
    with pytest.raises(ForbiddenError, match="b-sos"):
        check_roster_change(MAP, claim_b, frozenset({"a"}))
    check_roster_change(MAP, claim_b, None)
    give_away = MAP.with_site(Site(id="a", name="A", edge_ids=[]))
    # a-smoke falls back to its grid, still A's: nothing moves.
    check_roster_change(MAP, give_away, frozenset({"a"}))


def test_a_device_registration_must_stay_within_the_callers_sites() -> None:
    site_map = SiteMap(
        sites=(
            Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-lan"]),
            Site(id="meiyuan", name="Meiyuan", edge_ids=["edge-mei"]),
        ),
        grids=(Grid(id="g9", site_id="meiyuan", name="9", places=["Building 9"]),),
    )
    mei = frozenset({"meiyuan"})
    lan_smoke = PlacedDevice("lan-smoke", "edge-lan", "Building 3/Unit 201")
    by_place = PlacedDevice("mei-leak", None, "Building 9/Basement")
    check_device(site_map, None, by_place, mei)
    check_device(site_map, by_place, replace(by_place, edge_id="edge-mei"), mei)
    check_device(site_map, lan_smoke, replace(lan_smoke, edge_id="edge-mei"), None)
    for current, wanted in (
        (lan_smoke, replace(lan_smoke, edge_id="edge-mei")),
        (None, replace(by_place, edge_id="edge-lan")),
        (None, PlacedDevice("stray", None, "Building 3/Unit 1")),
        (None, PlacedDevice("stray", "edge-unlisted", "Nowhere")),
    ):
        with pytest.raises(ForbiddenError):
            check_device(site_map, current, wanted, mei)


# --- retiring devices --------------------------------------------------------------------


async def test_retiring_devices_is_scoped(
    admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    """Meiyuan's operator retires Meiyuan's devices only; another site's is not found to it,
    and the retired ones it lists are its sites'."""
    for hidden in ("lan-smoke", "lan-pump", "no-such-device"):
        response = await operator.delete(f"{API}/devices/{hidden}")
        assert response.status_code == 404, (hidden, response.text)
        assert response.json()["detail"] == f"device {hidden} is not registered"
    await ok(await admin.delete(f"{API}/devices/lan-smoke"))
    retired = await ok(await operator.delete(f"{API}/devices/mei-smoke", params={"reason": "x"}))
    assert (retired["id"], retired["retired_reason"]) == ("mei-smoke", "x")
    assert retired["retired_by"] == "op-mei"

    mine = (await operator.get(f"{API}/devices", params={"retired": "true"})).json()["items"]
    assert [d["id"] for d in mine] == ["mei-smoke"]
    every = (await admin.get(f"{API}/devices", params={"retired": "true"})).json()["items"]
    assert [d["id"] for d in every] == ["lan-smoke", "mei-smoke"]
    in_service = (await operator.get(f"{API}/devices")).json()["items"]
    assert "mei-smoke" not in [d["id"] for d in in_service]
