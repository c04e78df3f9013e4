"""Outside review: can a caller scoped to one site reach another? Every API route, by table.

Two sites: Meiyuan (the callers' own, "A") and Lanyuan ("B"), each with a case, devices, a
silence, a household with care settings and a request, a notice, door access (a door, a
group, a person, a card), a responder with a position, an account and an API token. A
signed-in operator and a signed-in admin, both scoped to Meiyuan, try every ``/api/v1``
route the app has on Lanyuan's records (``tests.hub.scope_table``): reads answer 404 (or
403 for a write reaching out), lists and figures show nothing of Lanyuan. The routes are
read from the app itself, so a new route with no line in ``EXPECTED`` fails the test until
someone decides what it owes.
"""

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.access import AccessEventKind, AccessRecord
from devices.kinds import AlertKind, Severity
from hub.access.repository import AccessStore
from hub.evidence.repository import EvidenceStore
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_status
from tests.hub.http import bearer_client, ok, token_client
from tests.hub.scope_table import (
    API,
    CARE,
    EXPECTED,
    LAN_CAMERA,
    LAN_MOTION,
    PASSWORD,
    PERIOD,
    SILENCE,
    api_operations,
    concrete,
    filled,
    shown,
)
from tests.hub.test_evidence_store import JPEG, image
from tests.hub.test_scoping_more import (
    admin,  # noqa: F401 - the two-site fixture
    new_household,
)

pytestmark = pytest.mark.fake_clock


async def signed_in(app: FastAPI, http: httpx.AsyncClient, username: str, role: str) -> str:
    """Create an account of Meiyuan and return a session token of it."""
    user = {"username": username, "password": PASSWORD, "role": role, "sites": ["meiyuan"]}
    await ok(await http.post(f"{API}/users", json=user), 201)
    login = {"username": username, "password": PASSWORD}
    token: str = (await ok(await http.post(f"{API}/auth/login", json=login)))["token"]
    return token


def open_case(app: FastAPI, device_id: str) -> int:
    """Open a smoke case on ``device_id``; return its id."""
    store: HubStore = app.state.store
    alert = make_alert(device_id=device_id, kind=AlertKind.SMOKE, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], T0).cases_opened
    return case.id


async def lanyuan_records(app: FastAPI, http: httpx.AsyncClient) -> dict[str, str]:
    """Put Lanyuan's records (and a case of Meiyuan's); return their ids by name."""
    await ok(await http.post(f"{API}/devices", json=LAN_CAMERA), 201)
    ids: dict[str, str] = {"case": str(open_case(app, "lan-smoke"))}
    ids["mei_case"] = str(open_case(app, "mei-smoke"))
    await ok(await http.post(f"{API}/devices", json=LAN_MOTION), 201)
    [alert] = (await ok(await http.get(f"{API}/alerts", params={"device_id": "lan-smoke"})))[
        "items"
    ]
    ids["alert"] = str(alert["id"])
    store: HubStore = app.state.store
    seen = make_alert(device_id="lan-cam", edge_id="edge-lan", kind=AlertKind.CAMERA_FIRE)
    await asyncio.to_thread(store.intake.ingest_alerts, [seen], T0)
    ids["camera_alert"] = seen.id
    picture = image(alert=seen.id).model_copy(
        update={"device_id": "lan-cam", "edge_id": "edge-lan"}
    )
    evidence: EvidenceStore = app.state.evidence_store
    await asyncio.to_thread(evidence.store, picture, JPEG, T0)
    [listed] = (await ok(await http.get(f"{API}/alerts/{seen.id}/evidence")))["items"]
    ids["evidence"] = listed["id"]
    ids["silence"] = str((await ok(await http.post(f"{API}/silences", json=SILENCE), 201))["id"])
    home = await new_household(http, "Li of Lanyuan", "Building 3/Unit 201", "lan-sos")
    ids["household"] = str(home["id"])
    await ok(await http.put(f"{API}/households/{home['id']}/care", json=CARE))
    body = {"household_id": home["id"], "category": "repair", "text": "Lanyuan pipe"}
    ids["request"] = str(
        (await ok(await http.post(f"{API}/requests", json=body), 201))["request"]["id"]
    )
    notice = {"scope": "site", "site_id": "lanyuan", "title": "Lanyuan drill", "body": "."}
    ids["notice"] = str((await ok(await http.post(f"{API}/notices", json=notice), 201))["id"])
    access = f"{API}/access"
    window = {"days": [1], "start": "07:00", "end": "19:00"}
    schedule = {"name": "Lanyuan day", "windows": [window]}
    ids["schedule"] = str(
        (await ok(await http.post(f"{access}/schedules", json=schedule), 201))["id"]
    )
    await ok(
        await http.post(f"{access}/sites", json={"edge_id": "edge-lan", "name": "Lanyuan"}), 201
    )
    door = {"id": "gate-edge-lan", "reader_id": "reader-lan"}
    await ok(await http.put(f"{access}/sites/edge-lan/doors/gate-edge-lan", json=door), 201)
    group = {
        "edge_id": "edge-lan",
        "name": "Lanyuan all",
        "door_ids": ["gate-edge-lan"],
        "schedule_id": int(ids["schedule"]),
    }
    ids["group"] = str((await ok(await http.post(f"{access}/groups", json=group), 201))["id"])
    person = {"edge_id": "edge-lan", "name": "Lanyuan person", "group_ids": [int(ids["group"])]}
    ids["person"] = str((await ok(await http.post(f"{access}/people", json=person), 201))["id"])
    card = {"kind": "card", "value": "04A1B2C3"}
    credential = await ok(
        await http.post(f"{access}/people/{ids['person']}/credentials", json=card), 201
    )
    ids["credential"] = str(credential["id"])
    mei_home = await new_household(http, "Chen", "Building 9/Unit 101", "mei-sos")
    ids["mei_household"] = str(mei_home["id"])
    await ok(await http.post(f"{access}/sites", json={"edge_id": "edge-mei", "name": "M"}), 201)
    door = {"id": "gate-edge-mei", "reader_id": "reader-mei"}
    await ok(await http.put(f"{access}/sites/edge-mei/doors/gate-edge-mei", json=door), 201)
    group = {"edge_id": "edge-mei", "name": "M all", "door_ids": ["gate-edge-mei"]}
    ids["mei_group"] = str((await ok(await http.post(f"{access}/groups", json=group), 201))["id"])
    person = {"edge_id": "edge-mei", "name": "M person", "group_ids": [int(ids["mei_group"])]}
    ids["mei_person"] = str((await ok(await http.post(f"{access}/people", json=person), 201))["id"])
    root = {"username": "root", "password": PASSWORD, "role": "admin"}
    ids["root"] = str((await ok(await http.post(f"{API}/users", json=root), 201))["id"])
    root_token = {"name": "root-script", "role": "admin"}
    ids["root_token"] = str(
        (await ok(await http.post(f"{API}/tokens", json=root_token), 201))["record"]["id"]
    )
    user = {"username": "lan-op", "password": PASSWORD, "role": "operator", "sites": ["lanyuan"]}
    ids["user"] = str((await ok(await http.post(f"{API}/users", json=user), 201))["id"])
    token = {"name": "lanyuan-script", "role": "operator", "sites": ["lanyuan"]}
    ids["token"] = str(
        (await ok(await http.post(f"{API}/tokens", json=token), 201))["record"]["id"]
    )
    store.fleet.record_edge_status(make_status("edge-lan"), T0)
    log = AccessRecord(
        id="log-edge-lan",
        edge_id="edge-lan",
        door_id="gate-edge-lan",
        kind=AccessEventKind.DENIED,
        ts=T0,
    )
    access_store: AccessStore = app.state.access_store
    access_store.log.ingest_log([log], T0)
    request_case = (await ok(await http.get(f"{API}/requests/{ids['request']}")))["case_id"]
    done = {"resolution": "real", "note": "fixed"}
    await ok(await http.post(f"{API}/cases/{request_case}/resolve", json=done))
    rating = {"score": 2, "comment": "late"}
    await ok(await http.post(f"/r/{home['token']}/requests/{ids['request']}/rating", json=rating))
    async with token_client(app, name="wang") as wang:  # an unscoped phone token of wang's
        fix = {"_type": "location", "lat": 31.2, "lon": 121.4, "tst": int(T0.timestamp())}
        await ok(await wang.post(f"{API}/owntracks", content=json.dumps(fix)))
    return ids


async def snapshot(http: httpx.AsyncClient) -> dict[str, Any]:
    """Return what the unscoped admin reads of everything, to see that nothing changed."""
    seen: dict[str, Any] = {}
    for url in (
        "/devices",
        "/cases",
        "/silences",
        "/households",
        "/requests",
        "/sites",
        "/grids",
        "/responders",
        "/users",
        "/tokens",
        "/access/sites",
        "/access/doors",
        "/access/groups",
        "/access/people",
        "/access/schedules",
        "/care",
        "/notices",
    ):
        seen[url] = (await ok(await http.get(API + url)))["items"]
    return seen


async def test_every_api_route_has_a_scope_expectation(app: FastAPI) -> None:
    served = api_operations(app)
    assert len(served) > 90
    missing = sorted(served - set(EXPECTED))
    assert not missing, f"routes with no line in EXPECTED: {missing}"
    assert not sorted(set(EXPECTED) - served), "lines for routes the app no longer serves"


async def test_a_scoped_operator_and_admin_reach_nothing_of_another_site(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    ids = await lanyuan_records(app, admin)
    operator_token = await signed_in(app, admin, "op-mei", "operator")
    admin_token = await signed_in(app, admin, "adm-mei", "admin")
    users = {
        u["username"]: str(u["id"]) for u in (await ok(await admin.get(f"{API}/users")))["items"]
    }
    ids |= {"self": users["adm-mei"], "operator": users["op-mei"]}
    before = await snapshot(admin)
    failures: list[str] = []
    probes = [p for line in EXPECTED.values() if isinstance(line, list) for p in line]
    for who, token in (("operator", operator_token), ("admin", admin_token)):
        async with bearer_client(app, token) as caller:
            for probe in probes:
                want = probe.operator if who == "operator" else probe.admin
                url = API + concrete(probe.url, ids)
                params = {k: concrete(v, ids) for k, v in probe.params.items()}
                if probe.form is not None:
                    response = await caller.request(probe.method, url, data=dict(probe.form))
                else:
                    response = await caller.request(
                        probe.method, url, params=params or None, json=filled(probe.body, ids)
                    )
                line = f"{who} {probe.method} {url} {params or ''}"
                asked = "" if want < 300 else f"{url} {params} {probe.body} {probe.form}"
                if response.status_code != want:
                    failures.append(
                        f"{line}: {response.status_code} (want {want}) {response.text[:200]}"
                    )
                elif leaked := shown(response.text, asked):
                    failures.append(f"{line}: shows {leaked}: {response.text[:300]}")
    assert not failures, "\n".join(failures)
    reads = [p for p in probes if p.method == "GET" and p.operator == 200]
    blind = []
    for probe in reads:
        query = {k: concrete(v, ids) for k, v in probe.params.items()} or None
        answer = await admin.get(API + concrete(probe.url, ids), params=query)
        if not shown(answer.text, ""):
            blind.append((probe.url, dict(probe.params)))
    # Every list shows Lanyuan to an unscoped admin, so its absence above means something;
    # these answer with figures only (checked below) or of the caller itself.
    assert sorted(blind) == sorted(
        [
            ("/statistics", {"by": "category", **PERIOD}),
            ("/auth/me", {}),
            ("/access/status", {}),
        ]
    )
    async with bearer_client(app, operator_token) as operator:
        figures = await ok(await operator.get(f"{API}/statistics", params=PERIOD))
    everything = await ok(await admin.get(f"{API}/statistics", params=PERIOD))
    assert (figures["total"]["opened"], everything["total"]["opened"]) == (1, 3)
    after = await snapshot(admin)
    changed = [url for url in before if before[url] != after[url]]
    assert not changed, changed


async def test_a_responder_acts_only_on_the_cases_it_is_on(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    theirs, ours = open_case(app, "lan-smoke"), open_case(app, "mei-smoke")
    home = await new_household(admin, "Chen", "Building 9/Unit 101", "mei-sos")
    body = {"household_id": home["id"], "category": "repair", "text": "tap"}
    opened = await ok(await admin.post(f"{API}/requests", json=body), 201)
    li = {"id": "li", "site_id": "meiyuan", "name": "li", "role": "grid_worker"}
    await ok(await admin.put(f"{API}/responders/li", json=li))
    team = (await ok(await admin.get(f"{API}/cases/{ours}")))["team"]
    for case in (ours, opened["case_id"]):
        on = (await ok(await admin.get(f"{API}/cases/{case}")))["team"]
        assert [m["responder"] for m in on] == ["zhao"]
    moves = {
        "accept": {},
        "decline": {},
        "start": {},
        "hand_over": {"assignee": "li"},
        "comment": {"note": "on my way"},
    }
    zhao = bearer_client(app, await signed_in(app, admin, "zhao", "responder"))
    li_session = bearer_client(app, await signed_in(app, admin, "li", "responder"))
    async with zhao, li_session:
        for action, move in moves.items():
            # another site's case is not there for zhao; li is not on Meiyuan's case
            answer = await zhao.post(f"{API}/cases/{theirs}/{action}", json=move)
            assert answer.status_code == 404, (action, answer.text)
            for case in (ours, opened["case_id"]):
                answer = await li_session.post(f"{API}/cases/{case}/{action}", json=move)
                assert answer.status_code == 403, (action, case, answer.text)
        update = await li_session.post(
            f"{API}/requests/{opened['request']['id']}/updates", data={"note": "done"}
        )
        assert update.status_code == 403, update.text
        assert (await ok(await li_session.get(f"{API}/positions")))["items"] == []
    after = await ok(await admin.get(f"{API}/cases/{ours}"))
    assert (after["team"], after["status"]) == (team, "dispatched")


async def test_a_token_of_a_since_demoted_scoped_admin_stops(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    session = bearer_client(app, await signed_in(app, admin, "adm-mei", "admin"))
    async with session:
        body = {"name": "mei-script", "role": "admin", "sites": ["meiyuan"]}
        issued = await ok(await session.post(f"{API}/tokens", json=body), 201)
    script = bearer_client(app, issued["token"])
    async with script:
        body = {"name": "mei-script-2", "role": "operator", "sites": ["meiyuan"]}
        minted = await ok(await script.post(f"{API}/tokens", json=body), 201)
        assert (await script.get(f"{API}/cases")).status_code == 200
        user_id = issued["record"]["user_id"]
        await ok(await admin.patch(f"{API}/users/{user_id}", json={"role": "operator"}))
        assert (await script.get(f"{API}/cases")).status_code == 401
        assert (await script.post(f"{API}/tokens", json=body)).status_code == 401
    async with bearer_client(app, minted["token"]) as second:
        assert (await second.get(f"{API}/cases")).status_code == 401


async def test_a_group_naming_another_sites_door_opens_nothing_there(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    """A group's doors are not checked against its site (an unknown door id is taken too, so
    the answer tells nothing); what counts is that no card of Meiyuan's gets into Lanyuan's
    allow-list, nor a rule for Lanyuan's gate into Meiyuan's."""
    await lanyuan_records(app, admin)
    store: AccessStore = app.state.access_store
    before = store.allow_lists.updates_since("edge-lan", 0)
    operator = bearer_client(app, await signed_in(app, admin, "op-mei", "operator"))
    async with operator:
        body = {"edge_id": "edge-mei", "name": "sneak", "door_ids": ["gate-edge-lan"]}
        group = await ok(await operator.post(f"{API}/access/groups", json=body), 201)
        person = {"edge_id": "edge-mei", "name": "Sneak", "group_ids": [group["id"]]}
        made = await ok(await operator.post(f"{API}/access/people", json=person), 201)
        card = {"kind": "card", "value": "0BADC0DE"}
        url = f"{API}/access/people/{made['id']}/credentials"
        await ok(await operator.post(url, json=card), 201)
    assert store.allow_lists.updates_since("edge-lan", 0) == before
    ours = store.allow_lists.updates_since("edge-mei", 0)
    assert ours is not None
    assert "gate-edge-lan" not in ours.model_dump_json()


async def test_no_account_is_named_like_the_bootstrap_token(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    """The audit trail records the bootstrap token (an admin of every site) as the actor
    ``bootstrap`` with no ``token_id``, as it records an account's session: a community's
    admin made an operator account named ``bootstrap``, and what it did read as done by the
    hub's own bootstrap token (found by this review)."""
    session = bearer_client(app, await signed_in(app, admin, "adm-mei", "admin"))
    async with session:
        for name in ("bootstrap", "Bootstrap"):
            user = {"username": name, "password": PASSWORD, "role": "operator"}
            refused = await session.post(f"{API}/users", json={**user, "sites": ["meiyuan"]})
            assert refused.status_code == 422, refused.text
            refused = await admin.post(f"{API}/users", json=user)
            assert refused.status_code == 422, refused.text
    names = {u["username"] for u in (await ok(await admin.get(f"{API}/users")))["items"]}
    assert names == {"adm-mei"}
