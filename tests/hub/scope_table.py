"""The table of the site-scope review (``tests/hub/test_scope_table_review.py``): what a caller
scoped to Meiyuan must get from every ``/api/v1`` route when it names Lanyuan's records.

Each line of ``EXPECTED`` is a route (method, path below ``/api/v1``) and the probes it owes,
or a ``Skip`` saying why it has none. Placeholders (``{case}``, ``{household}``…) are the ids
of Lanyuan's records, filled in by ``concrete`` and ``filled``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.hub.factories import T0

API = "/api/v1"
PASSWORD = "a long enough password"
LAN_CAMERA = {
    "id": "lan-cam",
    "kind": "camera",
    "location": "Building 3/Gate",
    "edge_id": "edge-lan",
}

LAN_MOTION = {
    "id": "lan-motion",
    "kind": "motion",
    "location": "Building 3/Unit 201",
    "edge_id": "edge-lan",
}
LANYUAN_MARKERS = tuple(
    re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)
    for word in (
        "lanyuan",
        "edge-lan",
        "lan-smoke",
        "lan-sos",
        "lan-leak",
        "lan-pump",
        "lan-cam",
        "lan-motion",
        "building 3",
        "wang",
        "lan-op",
        "lanyuan-script",
        "gate-edge-lan",
        "g-lanyuan",
        "log-edge-lan",
    )
)
"""What only Lanyuan's records hold: none may show in an answer to a Meiyuan caller, unless
the caller named it in the request (a refusal may echo what was asked)."""


def shown(answer: str, asked: str) -> list[str]:
    """Return the markers of Lanyuan ``answer`` shows that ``asked`` did not name."""
    return [
        m.pattern for m in LANYUAN_MARKERS if m.search(answer) is not None and not m.search(asked)
    ]


@dataclass(frozen=True)
class Probe:
    """One request on Lanyuan's records and what each scoped caller must get."""

    method: str
    url: str
    operator: int
    admin: int
    body: Any = None
    form: Mapping[str, str] | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """A route this table does not probe, and why (public, or tested elsewhere)."""

    why: str


def read(url: str, **params: str) -> Probe:
    """A read both callers may make (200), whose answer must hold nothing of Lanyuan."""
    return Probe("GET", url, 200, 200, params=params)


def refused(method: str, url: str, status: int, body: Any = None) -> Probe:
    """A request on Lanyuan's records both callers are refused with ``status``."""
    return Probe(method, url, status, status, body=body)


def administer(method: str, url: str, status: int, body: Any = None) -> Probe:
    """An admin-only request: an operator 403, the scoped admin ``status``."""
    return Probe(method, url, 403, status, body=body)


SILENCE = {
    "scope": "device",
    "target": "lan-smoke",
    "reason": "drill",
    "ends_at": (T0 + timedelta(days=1)).isoformat(),
}
CARE = {
    "consent": {"by": "daughter"},
    "contacts": [
        {
            "name": "Lanyuan daughter",
            "relation": "daughter",
            "target": "https://lanyuan.example/hook",
        }
    ],
}
DOOR = {"id": "gate-edge-lan", "reader_id": "reader-x"}
PERSON = {"edge_id": "edge-lan", "name": "Intruder", "group_ids": []}
IMPORT = {"edge_id": "edge-lan", "people": []}
WINDOW = "start=2026-01-01T00:00:00Z&end=2026-12-31T00:00:00Z"
PERIOD = {
    "start": (T0 - timedelta(days=1)).isoformat(),
    "end": (T0 + timedelta(days=1)).isoformat(),
}

EXPECTED: dict[tuple[str, str], list[Probe] | Skip] = {
    # fleet
    ("GET", "/devices"): [read("/devices"), read("/devices", edge_id="edge-lan")],
    ("POST", "/devices"): [
        refused("POST", "/devices", 403, {**LAN_CAMERA, "location": "Building 9/Gate"}),
        refused("POST", "/devices", 403, {**LAN_CAMERA, "id": "new-cam"}),
    ],
    ("GET", "/devices/{device_id}"): [refused("GET", "/devices/lan-smoke", 404)],
    ("DELETE", "/devices/{device_id}"): [refused("DELETE", "/devices/lan-smoke", 404)],
    ("GET", "/edges"): [read("/edges")],
    # cases and alerts
    ("GET", "/alerts"): [read("/alerts"), read("/alerts", device_id="lan-smoke")],
    ("GET", "/cases"): [read("/cases")],
    ("GET", "/cases/{case_id}"): [refused("GET", "/cases/{case}", 404)],
    **{
        ("POST", f"/cases/{{case_id}}/{action}"): [
            refused("POST", f"/cases/{{case}}/{action}", 404, body)
        ]
        for action, body in (
            ("acknowledge", {}),
            ("dispatch", {"assignee": "zhao"}),
            ("hand_over", {"assignee": "zhao"}),
            ("accept", {}),
            ("decline", {}),
            ("start", {}),
            ("close", {}),
            ("reopen", {}),
            ("comment", {"text": "hello"}),
            ("resolve", {"resolution": "false_alarm", "note": "x"}),
        )
    },
    ("POST", "/cases/{case_id}/dispatch"): [
        refused("POST", "/cases/{case}/dispatch", 404, {"assignee": "zhao"}),
        # Meiyuan's own case, sent to Lanyuan's responder: their phone would show it.
        refused("POST", "/cases/{mei_case}/dispatch", 422, {"assignee": "wang"}),
    ],
    ("POST", "/cases/{case_id}/hand_over"): [
        refused("POST", "/cases/{case}/hand_over", 404, {"assignee": "zhao"}),
    ],
    ("GET", "/cases/{case_id}/evidence"): [refused("GET", "/cases/{case}/evidence", 404)],
    # silences
    ("POST", "/silences"): [refused("POST", "/silences", 403, SILENCE)],
    ("GET", "/silences"): [read("/silences"), read("/silences", active="true")],
    ("POST", "/silences/{silence_id}/end"): [refused("POST", "/silences/{silence}/end", 404)],
    # audit
    ("GET", "/audit"): [read("/audit")],
    ("GET", "/audit/verify"): Skip("hub-wide by design (docs/auth.md): no record's content"),
    # households, care, requests, notices
    ("GET", "/households"): [read("/households")],
    ("POST", "/households"): [
        refused("POST", "/households", 403, {"name": "X", "location": "Building 3/Unit 9"})
    ],
    ("POST", "/households/{household_id}/token"): [
        refused("POST", "/households/{household}/token", 404)
    ],
    ("GET", "/households/{household_id}/care"): [
        refused("GET", "/households/{household}/care", 404)
    ],
    ("POST", "/households/{household_id}/care/away"): [
        refused("POST", "/households/{household}/care/away", 404, {"until": None})
    ],
    ("GET", "/care"): [read("/care")],
    ("PUT", "/households/{household_id}/care"): [
        refused("PUT", "/households/{household}/care", 404, CARE),
        # Meiyuan's home watched through Lanyuan's sensor.
        refused(
            "PUT",
            "/households/{mei_household}/care",
            422,  # "device lan-motion is not registered", as for a missing one
            {**CARE, "device_ids": ["lan-motion"]},
        ),
    ],
    ("POST", "/requests"): [
        refused(
            "POST",
            "/requests",
            404,
            {"household_id": "{household}", "category": "repair", "text": "x"},
        )
    ],
    ("GET", "/requests"): [read("/requests"), read("/requests", household_id="{household}")],
    ("GET", "/requests/{request_id}"): [refused("GET", "/requests/{request}", 404)],
    ("POST", "/requests/{request_id}/updates"): [
        Probe("POST", "/requests/{request}/updates", 404, 404, form={"note": "done"})
    ],
    ("GET", "/requests/{request_id}/photos/{photo_id}"): [
        refused("GET", "/requests/{request}/photos/1", 404)
    ],
    ("GET", "/ratings/responders"): [
        read("/ratings/responders"),
        read("/ratings/responders", responder_id="wang"),
    ],
    ("POST", "/notices"): [
        refused(
            "POST",
            "/notices",
            422,  # "no household would get this notice", as for a site with none
            {"scope": "site", "site_id": "lanyuan", "title": "t", "body": "b"},
        ),
        refused(
            "POST",
            "/notices",
            422,  # "no such households", as for a missing one
            {"scope": "households", "household_ids": ["{household}"], "title": "t", "body": "b"},
        ),
        refused(
            "POST",
            "/notices",
            422,
            {"scope": "building", "building": "Building 3", "title": "t", "body": "b"},
        ),
    ],
    ("GET", "/notices"): [read("/notices")],
    ("GET", "/notices/{notice_id}"): [refused("GET", "/notices/{notice}", 404)],
    # statistics, positions, the stream
    ("GET", "/statistics"): [
        read("/statistics", **PERIOD),
        read("/statistics", site_id="lanyuan", **PERIOD),
        read("/statistics", by="grid", **PERIOD),
        read("/statistics", by="category", **PERIOD),
        read("/statistics", month=T0.strftime("%Y-%m")),
    ],
    ("POST", "/owntracks"): Skip("test_positions_by_a_token_named_after_anothers_responder"),
    ("GET", "/positions"): [read("/positions")],
    ("GET", "/stream"): Skip("endless; tests/hub/test_case_scope.py checks its scope"),
    # roster
    ("PUT", "/sites/{site_id}"): [
        refused("PUT", "/sites/lanyuan", 404, {"id": "lanyuan", "name": "Mine"}),
        refused("PUT", "/sites/new", 403, {"id": "new", "name": "New", "edge_ids": ["edge-lan"]}),
        refused(
            "PUT",
            "/sites/meiyuan",
            403,
            {"id": "meiyuan", "name": "M", "edge_ids": ["edge-mei", "edge-lan"]},
        ),
    ],
    ("GET", "/sites"): [read("/sites"), read("/sites", site_id="lanyuan")],
    ("PUT", "/grids/{grid_id}"): [
        refused(
            "PUT",
            "/grids/g-lanyuan",
            404,
            {"id": "g-lanyuan", "site_id": "meiyuan", "name": "x", "places": ["Building 3"]},
        ),
        refused(
            "PUT",
            "/grids/g-new",
            403,
            {"id": "g-new", "site_id": "meiyuan", "name": "x", "places": ["Building 3/Unit 2"]},
        ),
        refused(  # Meiyuan's own grid handed to Lanyuan, with its devices and homes
            "PUT",
            "/grids/g-meiyuan",
            403,
            {"id": "g-meiyuan", "site_id": "lanyuan", "name": "x", "places": ["Building 9"]},
        ),
    ],
    ("GET", "/grids"): [read("/grids"), read("/grids", site_id="lanyuan")],
    ("PUT", "/responders/{responder_id}"): [
        refused(
            "PUT",
            "/responders/wang",
            404,
            {"id": "wang", "site_id": "meiyuan", "name": "w", "role": "grid_worker"},
        ),
        refused(
            "PUT",
            "/responders/new",
            403,
            {"id": "new", "site_id": "lanyuan", "name": "w", "role": "grid_worker"},
        ),
        refused(
            "PUT",
            "/responders/zhao",
            403,
            {"id": "zhao", "site_id": "lanyuan", "name": "z", "role": "grid_worker"},
        ),
    ],
    ("GET", "/responders"): [read("/responders"), read("/responders", site_id="lanyuan")],
    # accounts and tokens
    ("POST", "/auth/login"): Skip("public"),
    ("POST", "/auth/logout"): Skip("the caller's own session only"),
    ("POST", "/auth/password"): Skip("the caller's own password only"),
    ("GET", "/auth/me"): [read("/auth/me")],
    ("GET", "/users"): [Probe("GET", "/users", 403, 200)],
    ("POST", "/users"): [
        administer(
            "POST",
            "/users",
            403,
            {"username": "x1", "password": PASSWORD, "role": "operator", "sites": ["lanyuan"]},
        ),
        administer(
            "POST",
            "/users",
            403,
            {"username": "x2", "password": PASSWORD, "role": "admin", "sites": None},
        ),
        administer(
            "POST",
            "/users",
            403,
            {"username": "x3", "password": PASSWORD, "role": "admin", "sites": []},
        ),
        administer(
            "POST",
            "/users",
            403,
            {
                "username": "x4",
                "password": PASSWORD,
                "role": "admin",
                "sites": ["meiyuan", "lanyuan"],
            },
        ),
    ],
    ("POST", "/users/{user_id}/disabled"): [
        administer("POST", "/users/{user}/disabled", 404, {"disabled": True}),
        administer("POST", "/users/{root}/disabled", 404, {"disabled": True}),
    ],
    ("PATCH", "/users/{user_id}"): [
        administer("PATCH", "/users/{user}", 404, {"sites": ["meiyuan"]}),
        administer("PATCH", "/users/{root}", 404, {"sites": ["meiyuan"]}),
        administer("PATCH", "/users/{self}", 403, {"sites": None}),
        administer("PATCH", "/users/{self}", 403, {"sites": ["meiyuan", "lanyuan"]}),
        administer("PATCH", "/users/{operator}", 403, {"role": "admin", "sites": None}),
    ],
    ("POST", "/users/{user_id}/password"): [
        administer("POST", "/users/{user}/password", 404, {"new_password": PASSWORD + "!"}),
        administer("POST", "/users/{root}/password", 404, {"new_password": PASSWORD + "!"}),
    ],
    ("GET", "/tokens"): [Probe("GET", "/tokens", 403, 200)],
    ("POST", "/tokens"): [
        administer("POST", "/tokens", 403, {"name": "t", "role": "admin"}),
        administer("POST", "/tokens", 403, {"name": "t", "role": "admin", "sites": ["lanyuan"]}),
        administer("POST", "/tokens", 403, {"name": "t", "role": "admin", "sites": []}),
    ],
    ("DELETE", "/tokens/{token_id}"): [
        administer("DELETE", "/tokens/{token}", 404),
        administer("DELETE", "/tokens/{root_token}", 404),
    ],
    # door access
    ("GET", "/access/status"): [read("/access/status")],
    ("GET", "/access/sites"): [read("/access/sites")],
    ("POST", "/access/sites"): [
        refused("POST", "/access/sites", 403, {"edge_id": "edge-lan", "name": "x"})
    ],
    ("PUT", "/access/sites/{edge_id}"): [
        refused("PUT", "/access/sites/edge-lan", 404, {"name": "x", "timezone": "UTC"})
    ],
    ("PUT", "/access/sites/{edge_id}/doors/{door_id}"): [
        refused("PUT", "/access/sites/edge-lan/doors/gate-edge-lan", 404, DOOR),
        refused("PUT", "/access/sites/edge-mei/doors/gate-edge-lan", 422, DOOR),
    ],
    ("GET", "/access/doors"): [read("/access/doors"), read("/access/doors", edge_id="edge-lan")],
    ("DELETE", "/access/doors/{door_id}"): [refused("DELETE", "/access/doors/gate-edge-lan", 404)],
    ("GET", "/access/schedules"): Skip("shared by every site (docs/auth.md)"),
    ("POST", "/access/schedules"): Skip("shared by every site (docs/auth.md)"),
    ("PUT", "/access/schedules/{schedule_id}"): [
        refused(
            "PUT",
            "/access/schedules/{schedule}",
            403,
            {"name": "never", "windows": [{"days": [2], "start": "01:00", "end": "02:00"}]},
        )
    ],
    ("POST", "/access/groups"): [
        refused(
            "POST", "/access/groups", 403, {"edge_id": "edge-lan", "name": "g", "door_ids": []}
        ),
    ],
    ("GET", "/access/groups"): [read("/access/groups"), read("/access/groups", edge_id="edge-lan")],
    ("PUT", "/access/groups/{group_id}"): [
        refused("PUT", "/access/groups/{group}", 404, {"name": "g", "door_ids": []}),
    ],
    ("DELETE", "/access/groups/{group_id}"): [refused("DELETE", "/access/groups/{group}", 404)],
    ("POST", "/access/people"): [
        refused("POST", "/access/people", 403, PERSON),
        refused(
            "POST",
            "/access/people",
            404,
            {"edge_id": "edge-mei", "name": "x", "group_ids": ["{group}"]},
        ),
        refused(
            "POST",
            "/access/people",
            404,  # "no household <id>", as for a missing one
            {"edge_id": "edge-mei", "name": "x", "household_id": "{household}"},
        ),
    ],
    ("GET", "/access/people"): [read("/access/people"), read("/access/people", edge_id="edge-lan")],
    ("GET", "/access/people/{person_id}"): [refused("GET", "/access/people/{person}", 404)],
    ("PUT", "/access/people/{person_id}"): [
        refused("PUT", "/access/people/{person}", 404, {"group_ids": []}),
        refused("PUT", "/access/people/{mei_person}", 404, {"group_ids": ["{group}"]}),
    ],
    ("DELETE", "/access/people/{person_id}"): [refused("DELETE", "/access/people/{person}", 404)],
    ("POST", "/access/people/{person_id}/credentials"): [
        refused(
            "POST",
            "/access/people/{person}/credentials",
            404,
            {"kind": "card", "value": "0A0B0C0D"},
        )
    ],
    ("POST", "/access/import"): [refused("POST", "/access/import", 403, IMPORT)],
    ("POST", "/access/credentials/{credential_id}/revoke"): [
        refused("POST", "/access/credentials/{credential}/revoke", 404)
    ],
    ("GET", "/access/log"): [read("/access/log"), read("/access/log", edge_id="edge-lan")],
    # evidence and cameras
    ("GET", "/alerts/{alert_id}/evidence"): [
        refused("GET", "/alerts/{camera_alert}/evidence", 404)
    ],
    ("GET", "/evidence/status"): Skip("hub-wide counters by design (docs/auth.md)"),
    ("GET", "/evidence/usage"): [read("/evidence/usage")],
    ("GET", "/evidence/{evidence_id}"): [refused("GET", "/evidence/{evidence}", 404)],
    ("POST", "/cameras/{device_id}/rebaseline"): [
        refused("POST", "/cameras/lan-cam/rebaseline", 404)
    ],
    # console
    ("GET", "/console/readings"): [
        refused("GET", "/console/readings?device_id=lan-smoke&" + WINDOW, 404),
        refused("GET", "/console/readings?device_id=mei-smoke&device_id=lan-smoke&" + WINDOW, 404),
    ],
    ("GET", "/console/cases/{case_id}/readings"): [
        refused("GET", "/console/cases/{case}/readings", 404)
    ],
    ("GET", "/console/site-plan"): [read("/console/site-plan")],
    ("GET", "/console/device-health"): [read("/console/device-health")],
    # public
    ("GET", "/health"): Skip("public liveness counters, no ids"),
    ("POST", "/gateway/messages"): Skip("public, HMAC-signed (tests/hub/test_gateway*.py)"),
}


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Return (method, path below /api/v1) of every API route the app serves, in the OpenAPI
    schema or not (read from the router itself)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = (
            [route]
            if isinstance(route, APIRoute)
            else list(getattr(route, "effective_route_contexts", list)())
        )
        for context in contexts:
            path: str = context.path
            if path.startswith(API + "/"):
                found |= {(m, path.removeprefix(API)) for m in context.methods or ()}
    return found


def concrete(template: str, ids: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders with Lanyuan's ids."""
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


def filled(value: Any, ids: Mapping[str, str]) -> Any:
    """Fill placeholders in a JSON body; a whole-string placeholder of an id becomes a number."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return int(ids[whole.group(1)]) if whole else value
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value
