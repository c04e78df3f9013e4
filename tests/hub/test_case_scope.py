"""Who sees and moves which case: site scopes, a responder's own cases, the live stream."""

from collections.abc import Mapping

import httpx
import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind, Severity
from hub.live.events import AlertReceived, CaseChanged, EventsDropped, SilenceChanged
from hub.live.routes import visible_to
from hub.silences.rules import SilenceScope
from hub.silences.views import SilenceView
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_status
from tests.hub.http import bearer_client
from tests.hub.test_events import alert_view, case_view

PASSWORD = "a long enough password"
LANYUAN_SMOKE = {"id": "b3-smoke", "kind": "smoke", "location": "Building 3/Floor 2/Unit 201"}
MEIYUAN_SMOKE = {"id": "b9-smoke", "kind": "smoke", "location": "Building 9/Floor 1/Unit 101"}


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Two sites, each with a grid and a responder, and one smoke case in each."""
    for site, building, worker in (
        ("lanyuan", "Building 3", "wang"),
        ("meiyuan", "Building 9", "zhao"),
    ):
        await put(client, f"/api/v1/sites/{site}", {"id": site, "name": site.title()})
        grid = {"id": f"g-{site}", "site_id": site, "name": building, "places": [building]}
        await put(client, f"/api/v1/grids/g-{site}", grid)
        responder = {"id": worker, "site_id": site, "name": worker, "role": "grid_worker"}
        await put(client, f"/api/v1/responders/{worker}", responder)
    for device in (LANYUAN_SMOKE, MEIYUAN_SMOKE):
        assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    return client


async def put(client: httpx.AsyncClient, url: str, body: Mapping[str, object]) -> None:
    response = await client.put(url, json=body)
    assert response.status_code == 200, response.text


def open_case(app: FastAPI, device_id: str) -> int:
    store: HubStore = app.state.store
    alert = make_alert(device_id=device_id, kind=AlertKind.SMOKE, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], T0).cases_opened
    return case.id


async def signed_in(
    admin: httpx.AsyncClient, app: FastAPI, username: str, role: str, sites: list[str]
) -> httpx.AsyncClient:
    """Create an account and return a client holding its session token."""
    user = {"username": username, "password": PASSWORD, "role": role, "sites": sites}
    assert (await admin.post("/api/v1/users", json=user)).status_code == 201
    login = await admin.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    return bearer_client(app, login.json()["token"])


async def test_a_scoped_operator_sees_and_moves_only_its_sites_cases(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    ours, theirs = open_case(app, MEIYUAN_SMOKE["id"]), open_case(app, LANYUAN_SMOKE["id"])
    cases = (await admin.get("/api/v1/cases")).json()["items"]
    assert {c["id"]: c["site_id"] for c in cases} == {ours: "meiyuan", theirs: "lanyuan"}
    async with await signed_in(admin, app, "op-mei", "operator", ["meiyuan"]) as operator:
        listed = (await operator.get("/api/v1/cases")).json()["items"]
        assert [c["id"] for c in listed] == [ours]
        assert (await operator.get(f"/api/v1/cases/{ours}")).status_code == 200
        assert (await operator.get(f"/api/v1/cases/{theirs}")).status_code == 404
        refused = await operator.post(f"/api/v1/cases/{theirs}/acknowledge")
        assert refused.status_code == 404
        assert (await operator.post(f"/api/v1/cases/{ours}/acknowledge")).status_code == 200
    untouched = (await admin.get(f"/api/v1/cases/{theirs}")).json()
    assert untouched["acknowledged_at"] is None


SPELLINGS = ("{id}.0", "+{id}", "%20{id}", "0{id}", "{id}%20")
"""Other ways of writing case ``{id}`` that the routes' lenient integer conversion would take."""


async def test_another_spelling_of_a_case_id_is_no_way_round_the_site_scope(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """Found by an outside review: the scope check read the path as text and knew only plain
    digits, while the routes took ``1.0``, ``+1`` or `` 1`` for case 1; an operator of one
    site read and resolved another site's case through them. Now an id has one spelling."""
    theirs = open_case(app, LANYUAN_SMOKE["id"])
    async with await signed_in(admin, app, "op-mei", "operator", ["meiyuan"]) as operator:
        for spelling in SPELLINGS:
            case = spelling.format(id=theirs)
            for method, url in (
                ("GET", f"/api/v1/cases/{case}"),
                ("GET", f"/api/v1/cases/{case}/evidence"),
                ("GET", f"/api/v1/console/cases/{case}/readings"),
                ("POST", f"/api/v1/cases/{case}/acknowledge"),
                ("POST", f"/api/v1/cases/{case}/dispatch"),
                ("POST", f"/api/v1/cases/{case}/close"),
            ):
                response = await operator.request(method, url, json={})
                assert response.status_code == 404, (method, url, response.text)
            resolve = {"resolution": "false_alarm", "note": "not ours to say"}
            refused = await operator.post(f"/api/v1/cases/{case}/resolve", json=resolve)
            assert refused.status_code == 404, (case, refused.text)
    untouched = (await admin.get(f"/api/v1/cases/{theirs}")).json()
    assert untouched["status"] == "dispatched"
    assert untouched["acknowledged_at"] is None
    for spelling in SPELLINGS:  # one spelling for everyone, the admin too
        odd = await admin.get(f"/api/v1/cases/{spelling.format(id=theirs)}")
        assert odd.status_code == 404, spelling


async def test_a_responder_of_another_site_cannot_take_a_case(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    case_id = open_case(app, LANYUAN_SMOKE["id"])
    dispatched = (await admin.get(f"/api/v1/cases/{case_id}")).json()
    assert [m["responder"] for m in dispatched["team"]] == ["wang"]  # the hub dispatched it
    again = await admin.post(f"/api/v1/cases/{case_id}/dispatch", json={"assignee": "wang"})
    assert again.status_code == 409
    assert "wang is already on it" in again.json()["detail"]
    async with await signed_in(admin, app, "zhao", "responder", ["meiyuan"]) as zhao:
        assert (await zhao.post(f"/api/v1/cases/{case_id}/accept")).status_code == 404
        assert (await zhao.get(f"/api/v1/cases/{case_id}")).status_code == 404
    status = (await admin.get(f"/api/v1/cases/{case_id}")).json()["status"]
    assert status == "dispatched"


async def test_a_responder_takes_only_a_case_assigned_to_them(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    case_id = open_case(app, LANYUAN_SMOKE["id"])
    assert (await admin.get(f"/api/v1/cases/{case_id}")).json()["assignee"] == "wang"
    async with await signed_in(admin, app, "li", "responder", ["lanyuan"]) as li:
        refused = await li.post(f"/api/v1/cases/{case_id}/accept")
        assert refused.status_code == 403
        assert "not assigned to li" in refused.json()["detail"]
        assert (await li.post(f"/api/v1/cases/{case_id}/acknowledge")).status_code == 403
    async with await signed_in(admin, app, "wang", "responder", ["lanyuan"]) as wang:
        accepted = await wang.post(f"/api/v1/cases/{case_id}/accept")
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
    events = (await admin.get(f"/api/v1/cases/{case_id}")).json()["events"]
    assert [e["actor"] for e in events if e["action"] == "accepted"] == ["wang"]


def test_the_live_stream_shows_a_scoped_caller_only_its_sites_cases_and_alerts() -> None:
    mine = CaseChanged(type="case_opened", case=case_view(1).model_copy(update={"site_id": "a"}))
    other = CaseChanged(type="case_opened", case=case_view(2).model_copy(update={"site_id": "b"}))
    unsited = CaseChanged(type="case_opened", case=case_view(3))
    alert = AlertReceived(alert=alert_view(1))
    dropped = EventsDropped(count=3)
    for event in (mine, other, unsited, alert, dropped):
        assert visible_to(event, None)
    assert visible_to(mine, frozenset({"a"}))
    assert not visible_to(other, frozenset({"a"}))
    assert not visible_to(unsited, frozenset({"a"}))
    assert not visible_to(alert, frozenset({"a"}))  # its device is not one of a's
    assert visible_to(alert, frozenset({"a"}), frozenset({alert.alert.device_id}))
    assert visible_to(dropped, frozenset({"a"}))


async def test_a_scoped_operator_sees_only_its_sites_devices_alerts_and_edges(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    open_case(app, MEIYUAN_SMOKE["id"])
    open_case(app, LANYUAN_SMOKE["id"])
    all_devices = (await admin.get("/api/v1/devices")).json()["items"]
    assert {d["id"] for d in all_devices} == {MEIYUAN_SMOKE["id"], LANYUAN_SMOKE["id"]}
    async with await signed_in(admin, app, "op-mei", "operator", ["meiyuan"]) as operator:
        devices = (await operator.get("/api/v1/devices")).json()["items"]
        assert [d["id"] for d in devices] == [MEIYUAN_SMOKE["id"]]
        assert (await operator.get(f"/api/v1/devices/{MEIYUAN_SMOKE['id']}")).status_code == 200
        hidden = await operator.get(f"/api/v1/devices/{LANYUAN_SMOKE['id']}")
        assert hidden.status_code == 404
        alerts = (await operator.get("/api/v1/alerts")).json()["items"]
        assert {a["device_id"] for a in alerts} == {MEIYUAN_SMOKE["id"]}
        asked = await operator.get("/api/v1/alerts", params={"device_id": LANYUAN_SMOKE["id"]})
        assert asked.json()["items"] == []
    assert len((await admin.get("/api/v1/alerts")).json()["items"]) == 2


async def test_a_scoped_caller_sees_only_the_edges_of_its_sites(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    store: HubStore = app.state.store
    await put(
        admin,
        "/api/v1/sites/meiyuan",
        {"id": "meiyuan", "name": "Meiyuan", "edge_ids": ["edge-mei"]},
    )
    for edge_id in ("edge-mei", "edge-lan"):
        store.fleet.record_edge_status(make_status(edge_id), T0)
    async with await signed_in(admin, app, "op-mei", "operator", ["meiyuan"]) as operator:
        edges = (await operator.get("/api/v1/edges")).json()["items"]
        assert [e["id"] for e in edges] == ["edge-mei"]
    assert len((await admin.get("/api/v1/edges")).json()["items"]) == 2


def test_the_live_stream_shows_a_scoped_caller_only_its_sites_silences() -> None:
    """As ``GET /silences`` lists them: a silence of another site, or of none, and its reason,
    are not a scoped caller's to read (every caller's stream had carried every site's)."""

    def silence(site_id: str | None) -> SilenceChanged:
        view = SilenceView(
            id=1,
            scope=SilenceScope.PLACE,
            target="Building 3",
            kinds=[],
            starts_at=T0,
            ends_at=T0,
            reason="drill",
            created_by="op",
            created_at=T0,
            ended_by=None,
            ended_at=None,
            site_id=site_id,
        )
        return SilenceChanged(silence=view)

    mine, other, unsited = silence("a"), silence("b"), silence(None)
    for event in (mine, other, unsited):
        assert visible_to(event, None)
    assert visible_to(mine, frozenset({"a"}))
    assert not visible_to(other, frozenset({"a"}))
    assert not visible_to(unsited, frozenset({"a"}))
