"""A dense community for the map's review (tests/console/test_console_map_review_browser.py):
Lanyuan's nine residential buildings in three rows some 40 m apart (four named in Chinese, as a
Beijing estate's roster spells them), its boiler room and north gate; 20-odd open cases across
them (an SOS, a fire, water leaks, faults, a door held open); four patrols and a plumber whose
phones post their positions (one fresh, one "give or take 300 m", one 25 min old) and one on
the roster whose phone never reported."""

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from hub.store import HubStore
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

LAT, LON = 39.93900, 116.40600
METRE_LAT = 1 / 111_195
METRE_LON = 1 / 85_240  # at 39.94° N


def at(north_m: float, east_m: float) -> tuple[float, float]:
    """Return the coordinates ``north_m`` north and ``east_m`` east of the estate's corner."""
    return LAT + north_m * METRE_LAT, LON + east_m * METRE_LON


def _place(name: str, north_m: float, east_m: float, kind: str = "building") -> dict[str, Any]:
    lat, lon = at(north_m, east_m)
    return {"place": name, "lat": lat, "lon": lon, "kind": kind}


# Three rows of three, 40 m apart north-south and 35 m east-west: an ordinary estate.
PLACES = [
    _place("1号楼", 80, 0),
    _place("2号楼", 80, 35),
    _place("3号楼", 80, 70),
    _place("4号楼", 40, 0),
    _place("Building 5", 40, 35),
    _place("Building 6", 40, 70),
    _place("Building 7", 0, 0),
    _place("Building 8", 0, 35),
    _place("Building 9", 0, 70),
    _place("Boiler Room", 20, 95, "hazard_source"),
    _place("North Gate", 100, 35, "key_place"),
]

# (device, kind of device, place, alert kind, severity): one open case each.
CASES: list[tuple[str, DeviceKind, str, AlertKind, Severity]] = [
    ("b8-sos", DeviceKind.SOS_BUTTON, "Building 8/Floor 6/601", AlertKind.SOS, Severity.CRITICAL),
    ("b2-smoke", DeviceKind.SMOKE, "2号楼/Floor 3/302", AlertKind.SMOKE, Severity.CRITICAL),
    *[
        (
            f"b{n}-leak-{u}",
            DeviceKind.WATER_LEAK,
            f"{p}/Floor {u}/{u}01",
            AlertKind.WATER_LEAK,
            Severity.MEDIUM,
        )
        for n, p in (
            (1, "1号楼"),
            (3, "3号楼"),
            (4, "4号楼"),
            (5, "Building 5"),
            (6, "Building 6"),
            (7, "Building 7"),
            (9, "Building 9"),
        )
        for u in (2, 5)
    ],
    *[
        (f"b{n}-batt", DeviceKind.SMOKE, f"{p}/Floor 1/lobby", AlertKind.BATTERY_LOW, Severity.LOW)
        for n, p in ((5, "Building 5"), (6, "Building 6"), (8, "Building 8"), (9, "Building 9"))
    ],
    (
        "gate-door",
        DeviceKind.DOOR_CONTACT,
        "North Gate/Gatehouse/door",
        AlertKind.DOOR_HELD_OPEN,
        Severity.MEDIUM,
    ),
    ("boiler-co", DeviceKind.CO, "Boiler Room/Plant/co", AlertKind.BATTERY_LOW, Severity.LOW),
]

RESPONDERS = ["patrol-li", "patrol-zhou", "patrol-chen", "plumber-1", "patrol-sun"]
"""patrol-sun is on the roster; his phone never reported."""


@dataclass
class Community:
    """The running hub with Lanyuan on it, and its open cases by device."""

    hub: Hub
    cases: dict[str, int] = field(default_factory=dict)

    @property
    def store(self) -> HubStore:
        store: HubStore = self.hub.app.state.store
        return store

    def raise_alert(
        self, device_id: str, kind: AlertKind, severity: Severity, when: datetime
    ) -> int | None:
        """Send ``device_id``'s alert in; return the case it opened, if it opened one."""
        alert = make_alert(device_id=device_id, kind=kind, severity=severity, ts=when)
        opened = self.store.intake.ingest_alerts([alert], when).cases_opened
        return opened[0].id if opened else None

    def post_fix(
        self, responder: str, north_m: float, east_m: float, accuracy_m: float, when: datetime
    ) -> None:
        """Post ``responder``'s OwnTracks location, as their app does."""
        auth: AuthStore = self.hub.app.state.auth_store
        token = new_secret()
        auth.issue_api_token(token, responder, Role.RESPONDER)
        basic = base64.b64encode(f"{responder}:{token}".encode()).decode()
        lat, lon = at(north_m, east_m)
        fix = {
            "_type": "location",
            "lat": lat,
            "lon": lon,
            "tst": int(when.timestamp()),
            "acc": accuracy_m,
        }
        headers = {"authorization": f"Basic {basic}"}
        posted = httpx.post(f"{self.hub.url}/api/v1/owntracks", json=fix, headers=headers)
        assert posted.status_code == 200, posted.text


def put_community(hub: Hub, *, cases: bool = True, positions: bool = True) -> Community:
    """Put Lanyuan on ``hub``: its map, devices, responders and an operator; its open cases
    and its responders' positions unless told not to."""
    site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["e1"], "map": PLACES}
    hub.call("PUT", "/api/v1/sites/lanyuan", json=site)
    for responder in RESPONDERS:
        role = "maintenance" if responder.startswith("plumber") else "security"
        body = {"id": responder, "site_id": "lanyuan", "name": responder.title(), "role": role}
        hub.call("PUT", f"/api/v1/responders/{responder}", json=body)
    for device_id, device_kind, location, _, _ in CASES:
        device = make_device(device_id, kind=device_kind, location=location, edge_id="e1")
        hub.call("POST", "/api/v1/devices", json=device.model_dump(mode="json"))
    account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
    hub.call("POST", "/api/v1/users", json=account)
    community = Community(hub)
    now = datetime.now(UTC)
    if cases:
        for device_id, _, _, kind, severity in CASES:
            case_id = community.raise_alert(device_id, kind, severity, now)
            if case_id is not None:
                community.cases[device_id] = case_id
    if positions:
        community.post_fix("patrol-li", 42, 37, 8, now)  # at Building 5's door
        community.post_fix("patrol-zhou", 78, 34, 12, now)  # at 2号楼, the fire
        community.post_fix("patrol-chen", 2, 33, 300, now)  # near Building 8, a vague fix
        community.post_fix("plumber-1", 20, 60, 10, now - timedelta(minutes=25))  # stale
    return community


def running_community(tmp_path: Path, **options: bool) -> Iterator[Community]:
    """Run a hub with Lanyuan on it until the generator is closed."""
    running = Hub(tmp_path)
    running.start()
    try:
        yield put_community(running, **options)
    finally:
        running.stop()
