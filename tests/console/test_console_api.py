"""The console's own read endpoints and static files, and the pure site plan and health list."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from devices.kinds import AlertKind, DeviceKind
from devices.messages import Checkin, TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from hub.app import create_app
from hub.cases.rules import CaseStatus
from hub.console.routes import (
    CONSOLE_ASSETS,
    build_site_plan,
    device_health,
    device_state,
    nearby_devices,
)
from hub.fleet.claims import Provenance
from hub.settings import HubSettings
from hub.store import HubStore
from hub.telemetry.history import ReadingHistory
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device, make_status
from tests.hub.http import api_client


@dataclass(frozen=True)
class Device:
    """A device as the console reads it."""

    id: str
    location: str
    kind: str = DeviceKind.SMOKE
    last_seen: datetime | None = T0
    last_readings: dict[str, float | bool | str] | None = None
    created_at: datetime = T0
    unserved_reason: str | None = None
    checkin: Checkin | None = None


@dataclass(frozen=True)
class Case:
    """A case as the console reads it."""

    id: int
    device_id: str
    kind: str
    status: str = CaseStatus.OPEN
    location: str | None = None

    @property
    def device_ids(self) -> list[str]:
        """Return the case's devices."""
        return [self.device_id]


def device(
    device_id: str,
    location: str,
    *,
    kind: DeviceKind = DeviceKind.SMOKE,
    last_seen: datetime | None = T0,
    readings: dict[str, float | bool | str] | None = None,
) -> Device:
    """Return a device as the API shows it."""
    return Device(device_id, location, kind, last_seen, readings)


def case(
    case_id: int,
    device_id: str,
    kind: AlertKind,
    *,
    status: CaseStatus = CaseStatus.OPEN,
    location: str | None = None,
) -> Case:
    """Return a case as the list shows it."""
    return Case(case_id, device_id, kind, status, location)


# --- the pure core ------------------------------------------------------------------------


def test_a_device_shows_its_most_urgent_unfinished_case() -> None:
    smoke = device("s", "B1/F1")
    assert device_state(smoke, [AlertKind.BATTERY_LOW, AlertKind.SMOKE]) == "alarm"
    assert device_state(smoke, [AlertKind.BATTERY_LOW, AlertKind.DOOR_FORCED]) == "security"
    assert device_state(smoke, [AlertKind.DEVICE_OFFLINE]) == "fault"
    assert device_state(smoke, []) == "ok"
    assert device_state(device("n", "B1", last_seen=None), []) == "silent"


def test_the_plan_groups_buildings_and_floors_top_floor_first_and_marks_hazards() -> None:
    devices = [
        device("b10-f1", "Building 10/Floor 1/Unit 101"),
        device("b2-f2", "Building 2/Floor 2/Unit 201"),
        device("b2-f12", "Building 2/Floor 12/Unit 1201/Kitchen"),
        device("b2-f12-sos", "Building 2/Floor 12/Unit 1202", kind=DeviceKind.SOS_BUTTON),
        device("yard", "Courtyard"),
    ]
    cases = [
        case(1, "b2-f12", AlertKind.SMOKE),
        case(2, "b2-f2", AlertKind.BATTERY_LOW),
        case(3, "b10-f1", AlertKind.SMOKE, status=CaseStatus.RESOLVED),
    ]
    plan = build_site_plan(devices, cases, T0)
    assert [b.name for b in plan.buildings] == ["Building 2", "Building 10", "Courtyard"]
    building2 = plan.buildings[0]
    assert [f.name for f in building2.floors] == ["Floor 12", "Floor 2"]
    assert building2.hazards == 1
    top = {d.id: d for d in building2.floors[0].devices}
    assert top["b2-f12"].state == "alarm"
    assert top["b2-f12"].hazard
    assert top["b2-f12"].spot == "Unit 1201/Kitchen"
    assert top["b2-f12"].case_ids == [1]
    assert not top["b2-f12-sos"].hazard
    assert building2.floors[1].devices[0].state == "fault"
    # A resolved case no longer colours its device.
    assert plan.buildings[1].floors[0].devices[0].state == "ok"
    assert plan.buildings[2].floors[0].name == "—"
    assert plan.counts == {"alarm": 1, "security": 0, "fault": 1, "ok": 3, "silent": 0}


def test_the_health_list_puts_offline_faulty_and_low_battery_devices_first() -> None:
    now = T0 + timedelta(hours=3)
    devices = [
        device("fine", "B1/F1", last_seen=now, readings={"battery_pct": 90}),
        device("low", "B1/F1", last_seen=now, readings={"battery_pct": 12, "battery_low": True}),
        device("quiet", "B1/F2", last_seen=now - timedelta(hours=2)),
        device("gone", "B1/F3", last_seen=now),
        device("never", "B1/F3", last_seen=None),
        Device("new", "B1/F3", last_seen=None, created_at=now - timedelta(minutes=5)),
    ]
    cases = [case(1, "gone", AlertKind.DEVICE_OFFLINE), case(2, "low", AlertKind.BATTERY_LOW)]
    rows = device_health(devices, cases, now)
    assert [row.id for row in rows] == ["gone", "never", "quiet", "low", "fine", "new"]
    by_id = {row.id: row for row in rows}
    assert by_id["gone"].offline
    assert by_id["gone"].faults == ["device_offline"]
    assert by_id["quiet"].offline  # heard nothing for two hours
    assert not by_id["fine"].offline
    assert not by_id["new"].offline  # registered five minutes ago, not heard yet
    assert by_id["low"].battery_low
    assert by_id["low"].battery_pct == 12
    assert by_id["fine"].nuisance_rate is None
    assert by_id["fine"].unserved_reason is None


def test_the_health_list_says_when_no_edge_serves_a_device() -> None:
    reason = "no edge assigned: register it again with edge_id"
    devices = [
        device("served", "B1/F1", readings={"battery_pct": 50}),
        Device("orphan", "B1/F1", unserved_reason=reason),
    ]
    rows = device_health(devices, [], T0)
    assert [row.id for row in rows] == ["orphan", "served"]  # needs attention: first
    assert rows[0].unserved_reason == reason
    assert rows[1].unserved_reason is None


QUIET_NOW = T0 + timedelta(days=3)


def quiet_devices() -> list[Device]:
    """A once-a-day leak sensor 20 h after its last wake-up (its edge learnt a 26 h deadline),
    another 27 h after, and a smoke detector 2 h after (no deadline from its edge)."""
    now = QUIET_NOW
    learned = Checkin(deadline_s=26 * 3600, source="learned", learned_interval_s=86_400)
    return [
        Device(
            "flood", "B1/Bikes", DeviceKind.WATER_LEAK, now - timedelta(hours=20), checkin=learned
        ),
        Device(
            "dead-flood",
            "B1/Cellar",
            DeviceKind.WATER_LEAK,
            now - timedelta(hours=27),
            checkin=learned,
        ),
        Device("smoke", "B1/F1", last_seen=now - timedelta(hours=2)),
    ]


def test_a_slow_device_is_offline_only_past_its_own_deadline() -> None:
    """A Shelly Flood waking once a day, its edge's deadline for it learned (26 h): not shown
    offline for the day between its wake-ups, as it was after the console's hour."""
    now = QUIET_NOW
    devices = quiet_devices()
    by_id = {row.id: row for row in device_health(devices, [], now)}
    assert not by_id["flood"].offline
    assert by_id["dead-flood"].offline
    assert by_id["smoke"].offline  # no deadline from its edge: the console's hour
    assert (by_id["flood"].offline_after_s, by_id["flood"].checkin_source) == (93_600, "learned")
    assert (by_id["smoke"].offline_after_s, by_id["smoke"].checkin_source) == (3_600, None)


def test_the_plan_shows_a_device_gone_quiet_past_its_deadline_as_a_fault() -> None:
    """A detector whose edge is down too raises no ``device_offline``: the plan used to show
    it "ok" however long it had been silent. Past its own deadline it is a fault now."""
    now = QUIET_NOW
    devices = [
        *quiet_devices(),
        Device("fresh", "B1/F1", last_seen=now - timedelta(minutes=5)),
        Device("never", "B1/F2", last_seen=None),
        Device("reported", "B1/F2", last_seen=now),
    ]
    cases = [case(1, "reported", AlertKind.DEVICE_OFFLINE)]
    plan = build_site_plan(devices, cases, now)
    shown = {
        d.id: (d.state, d.offline) for b in plan.buildings for f in b.floors for d in f.devices
    }
    assert shown == {
        "flood": ("ok", False),  # 20 h of a once-a-day sensor's 26 h
        "dead-flood": ("fault", True),
        "smoke": ("fault", True),  # no deadline from its edge: the console's hour
        "fresh": ("ok", False),
        "never": ("silent", True),  # never heard: silent, as before, and overdue
        "reported": ("fault", True),  # its edge said so
    }
    assert plan.counts == {"alarm": 0, "security": 0, "fault": 3, "ok": 2, "silent": 1}
    assert device_state(Device("x", "B1", last_seen=T0), [], offline=True) == "fault"


def test_a_device_the_hub_registered_from_its_alarm_asks_to_be_placed() -> None:
    @dataclass(frozen=True)
    class Registered(Device):
        registered_by: Provenance | None = None

    now = T0 + timedelta(minutes=1)
    devices = [
        Registered("placed", "B1/F1", last_seen=now, registered_by=Provenance.OPERATOR),
        Registered("listed", "B1/F1", last_seen=now, registered_by=Provenance.INVENTORY),
        Registered(
            "e1.zigbee.x.0123456789",
            "Unregistered devices of edge e1/x",
            last_seen=now,
            registered_by=Provenance.ALERT,
        ),
    ]
    rows = device_health(devices, [], now)
    assert [(row.id, row.unplaced) for row in rows] == [
        ("e1.zigbee.x.0123456789", True),  # needs attention: listed first
        ("listed", False),
        ("placed", False),
    ]


def test_readings_around_a_case_include_the_neighbours_in_the_same_unit() -> None:
    devices = [
        device("sos", "Building 3/Floor 12/Unit 1201", kind=DeviceKind.SOS_BUTTON),
        device("co", "Building 3/Floor 12/Unit 1201/Kitchen", kind=DeviceKind.CO),
        device("next-door", "Building 3/Floor 12/Unit 1202", kind=DeviceKind.CO),
    ]
    sos_case = case(1, "sos", AlertKind.SOS, location="Building 3/Floor 12/Unit 1201")
    assert nearby_devices(sos_case, devices) == ["sos", "co"]
    assert nearby_devices(case(2, "sos", AlertKind.SOS), devices) == ["sos"]


# --- through the app ----------------------------------------------------------------------


def test_only_the_console_files_are_served() -> None:
    assert {"index.html", "console.js", "api.js", "console.css"} <= CONSOLE_ASSETS


async def test_the_page_and_its_assets_are_served_and_nothing_else(tmp_path: Path) -> None:
    app = create_app(HubSettings(data_dir=tmp_path, start_ingest=False))
    async with api_client(app) as http:
        page = await http.get("/console")
        script = await http.get("/console/console.js")
        escape = await http.get("/console/..%2Fapp.py")
        unknown = await http.get("/console/secrets.txt")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # No asset comes from anywhere but the hub.
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert escape.status_code == 404
    assert unknown.status_code == 404


async def test_case_readings_come_from_the_hub_history(tmp_path: Path) -> None:
    clock = FakeClock(T0 + timedelta(minutes=10))
    app = create_app(HubSettings(data_dir=tmp_path, start_ingest=False), clock=clock)
    async with api_client(app) as http:
        store: HubStore = app.state.store
        sos = make_device("sos", kind=DeviceKind.SOS_BUTTON, location="B3/F12/U1201")
        co = make_device("co", kind=DeviceKind.CO, location="B3/F12/U1201")
        store.fleet.record_edge_status(make_status(devices=[sos, co]), T0)
        store.intake.ingest_alerts([make_alert(device_id="sos", kind=AlertKind.SOS, ts=T0)], T0)
        [opened] = store.cases.list_cases()
        history: ReadingHistory = app.state.history
        history.worker.submit(
            ("e1", TelemetryPoint(device_id="co", ts=T0 + timedelta(minutes=m), readings=r))
            for m, r in [(-40, Readings(co_ppm=1)), (-5, Readings(co_ppm=30)), (5, Readings())]
        )
        history.stop()  # writes what is queued
        response = await http.get(f"/api/v1/console/cases/{opened.id}/readings")
        plan = await http.get("/api/v1/console/site-plan")
        health = await http.get("/api/v1/console/device-health")
    assert response.status_code == 200
    body = response.json()
    assert body["device_ids"] == ["sos", "co"]
    assert body["end"] == (T0 + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    # 40 min before is outside the window; a point without readings is not kept.
    assert [s["readings"] for s in body["samples"]] == [{"co_ppm": 30.0}]
    assert plan.status_code == 200
    assert plan.json()["counts"]["alarm"] == 1
    assert {row["id"] for row in health.json()["items"]} == {"sos", "co"}


async def test_readings_need_a_caller_a_device_and_an_aware_time_window(tmp_path: Path) -> None:
    app = create_app(HubSettings(data_dir=tmp_path, start_ingest=False))
    async with api_client(app) as http:
        no_device = await http.get(
            "/api/v1/console/readings",
            params={"start": "2025-03-01T00:00:00Z", "end": "2025-03-01T01:00:00Z"},
        )
        naive = await http.get(
            "/api/v1/console/readings",
            params={"device_id": "x", "start": "2025-03-01T00:00:00", "end": "2025-03-01T01:00"},
        )
        missing_case = await http.get("/api/v1/console/cases/999/readings")
        forged = await http.get(
            "/api/v1/console/site-plan", headers={"authorization": "Bearer lnl_forged"}
        )
        page = await http.get("/console", headers={"authorization": ""})
        batch = TelemetryBatch(edge_id="e1", points=[])
        app.state.history.submit(batch)  # an empty batch is accepted and ignored
    assert no_device.status_code == 422
    assert naive.status_code == 422
    assert missing_case.status_code == 404
    # The data needs a signed-in caller; the page itself (with its sign-in form) does not.
    assert forged.status_code == 401
    assert page.status_code == 200
