"""The operator console: its static page under ``/console`` and the read endpoints it needs.

The console is plain HTML, CSS and JavaScript shipped in ``hub/console/`` (no CDN, nothing
fetched at run time), served publicly by ``console_router`` (its sign-in form must load).
Besides ``/api/v1`` it reads endpoints of its own, under ``/api/v1/console``
(``console_api_router``, which the app puts behind the API's authentication): the readings
around a case (from ``hub.telemetry.history``), the site plan (each site's buildings and
floors from device locations, each device with its state and site) and the device health list.

``console_router``'s lifespan owns the readings pipeline: it starts the console history writer and,
when ``influx_url`` is set, the InfluxDB forwarder, and registers both as telemetry sinks of
the MQTT ingest. ``app.state`` then holds ``history``, ``telemetry`` (or None) and
``console_engine``.

The site plan and the device health are pure functions of (devices, cases, now), below.

A caller scoped to sites gets its sites' devices only: the site plan and the device health
list them and their sites' cases, the readings of another site's device (or of an unknown
one) answer 404, and a case's readings leave out neighbours of other sites (the case
itself is checked by ``hub.auth.routes``).
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse
from pydantic import AwareDatetime

from devices.discovery import at_discovered_place
from devices.kinds import FAULTS, LIFE_SAFETY, SECURITY, AlertKind
from devices.location import Location, folded
from hub.auth.routes import PrincipalDep
from hub.cases.rules import CaseStatus
from hub.cases.views import CaseView
from hub.errors import NotFoundError
from hub.fleet.claims import Provenance
from hub.fleet.views import DeviceView
from hub.http.deps import API_PREFIX, MAX_LIMIT, ClockDep, StoreDep
from hub.http.views import Items, View
from hub.ingest.link import MqttIngest
from hub.persistence.engine import create_hub_engine
from hub.settings import HubSettings
from hub.telemetry.history import MAX_SAMPLES, ReadingHistory, ReadingSample, incident_window
from hub.telemetry.writer import InfluxLineWriter, TelemetryForwarder

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).parent / "static"
"""The console's static files."""
CONSOLE_ASSETS = frozenset(
    path.name for path in CONSOLE_DIR.iterdir() if path.suffix in {".html", ".css", ".js", ".svg"}
)
"""The only files ``/console/<name>`` serves."""

FINISHED_STATUSES = frozenset({"resolved", "closed"})
"""Case statuses that no longer put a device in a warning state."""

DeviceState = Literal["alarm", "wellbeing", "security", "property", "fault", "ok", "silent"]
"""How a device shows on the site plan and the map (``device_state``), worst first. Since
2026-12-07 ``wellbeing`` and ``property`` too (additive): a water leak and a care household's
no-activity check had shown "alarm", red as an SOS."""
_STATE_ORDER: tuple[DeviceState, ...] = ("alarm", "security", "fault", "ok", "silent")
"""The states ``SitePlan.counts`` always holds; a state added since is counted once a device
has it."""


# --- the pure core ----------------------------------------------------------------------


class DeviceLike(Protocol):
    """What the console reads of a device (``hub.views.DeviceView`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def last_readings(self) -> Mapping[str, float | bool | str] | None: ...


class CaseLike(Protocol):
    """What the console reads of a case (``hub.views.CaseView`` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def device_ids(self) -> Sequence[str]: ...
    @property
    def location(self) -> str | None: ...


class PlanDevice(View):
    """A device on the site plan."""

    id: str
    kind: str
    location: str
    spot: str
    """The part of the location below the floor (unit, room), or empty."""
    state: DeviceState
    offline: bool = False
    """Nothing heard from it past its check-in deadline (its edge's for it, else an hour;
    from its registration if never heard), or an unfinished ``device_offline`` case."""
    hazard: bool
    """An unfinished life-safety case is open on this device."""
    case_ids: list[int]
    site_id: str | None = None
    """The site (community) it belongs to (``hub.roster.rules.site_of_device``); None: none."""


class PlanFloor(View):
    """A floor (or area) of a building and the devices on it."""

    name: str
    devices: list[PlanDevice]


class PlanBuilding(View):
    """A building of a site (the first part of a location), floors from the top down."""

    name: str
    floors: list[PlanFloor]
    hazards: int
    site_id: str | None = None
    """Its site: two communities' "Building 3" are two buildings (None: devices of no site)."""
    site_name: str | None = None


class SitePlan(View):
    """Buildings and floors generated from device locations."""

    buildings: list[PlanBuilding]
    counts: dict[str, int]
    """Devices by state: the five of ``_STATE_ORDER`` always, ``wellbeing`` and ``property``
    once a device has it."""


class DeviceHealth(View):
    """One line of the device health list."""

    id: str
    kind: str
    location: str
    last_seen: AwareDatetime | None
    offline: bool
    battery_pct: float | None
    battery_low: bool
    faults: list[str]
    """Kinds of unfinished fault cases on the device."""
    nuisance_rate: float | None
    """Share of the device's resolved cases closed as nuisance or false alarm, when known."""
    unserved_reason: str | None = None
    """Why no edge serves the device (``hub.fleet.rules.unserved_reason``), if none does: its
    readings are refused until it is registered at an edge that reports."""
    offline_after_s: float
    """How long the hub may hear nothing from it before showing it offline: its edge's
    check-in deadline for it when the edge gave one, else the console's hour."""
    checkin_source: Literal["default", "configured", "learned"] | None = None
    """Where that deadline comes from (``devices.messages.Checkin``); None: the console's."""
    unplaced: bool = False
    """Nobody placed it where it really is yet: an unregistered detector its edge discovered
    (``edge.discovery``; registered from the edge's inventory at its discovered place, or from
    its alarm), or one whose inventory the hub missed. An operator should register it."""


class CaseReadings(View):
    """The readings of a case's devices around the incident."""

    case_id: int
    start: AwareDatetime
    end: AwareDatetime
    device_ids: list[str]
    samples: list[ReadingSample]


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )


OFFLINE_AFTER = timedelta(hours=1)
"""How long the console shows a device as heard when its edge gave no check-in deadline."""


def offline_after(device: DeviceLike, default: timedelta = OFFLINE_AFTER) -> timedelta:
    """Return how long the hub may hear nothing from ``device`` before it shows offline: its
    check-in deadline as its edge gave it (a slow battery device's learned one: a Shelly Flood
    waking once a day is not offline for the 23 hours between), else ``default``."""
    checkin = getattr(device, "checkin", None)
    return default if checkin is None else timedelta(seconds=checkin.deadline_s)


def overdue(device: DeviceLike, now: datetime, limit: timedelta) -> bool:
    """Return whether nothing was heard from ``device`` for longer than ``limit`` (counted
    from its registration if it was never heard: one registered a moment ago is not)."""
    heard = device.last_seen if device.last_seen is not None else device.created_at
    return now - heard > limit


KIND_STATES: Mapping[str, DeviceState | None] = {
    **dict.fromkeys(LIFE_SAFETY, "alarm"),
    AlertKind.NO_ACTIVITY: "wellbeing",
    **dict.fromkeys(SECURITY, "security"),
    AlertKind.DEVICE_CLAIM_CONFLICT: "security",
    AlertKind.WATER_LEAK: "property",
    **dict.fromkeys(FAULTS, "fault"),
    AlertKind.RESIDENT_REQUEST: None,
}
"""The state an unfinished case of each alert kind gives its device (docs/console.md):

* ``alarm``: life safety (an SOS, a fire, CO, gas): a person in danger;
* ``wellbeing``: a care household with no sign of life (``no_activity``): a person possibly in
  danger, checked within minutes, not seconds; not "alarm", as its case stands on the
  household's SOS button, which red would say was pressed;
* ``security``: intrusion and access, and an edge speaking for another's device;
* ``property``: property damage (a water leak): someone goes within the quarter hour, nobody
  is known to be in danger; seven of them must not hide an SOS;
* ``fault``: the device (or the alarm path: an edge lost, a Zigbee network deaf) needs work;
* None: a resident's everyday request says nothing about the device its case stands on (the
  household's button): the device shows its own condition (a flat button stays a fault).

A kind missing here (a newer edge's) is an ``alarm``: err on the side of attention."""

_WORST_FIRST: tuple[DeviceState, ...] = ("alarm", "wellbeing", "security", "property", "fault")


def device_state(
    device: DeviceLike, open_kinds: Iterable[str], *, offline: bool = False
) -> DeviceState:
    """Return how a device shows on the plan: the worst state its unfinished cases' kinds give
    (``KIND_STATES``); else a device heard once and ``offline`` since (past its check-in
    deadline) is a fault even without a case: its edge may be down too, and then nobody
    raised one."""
    states = {KIND_STATES.get(kind, "alarm") for kind in open_kinds}
    for state in _WORST_FIRST:
        if state in states:
            return state
    if device.last_seen is None:
        return "silent"
    return "fault" if offline else "ok"


def _open_cases_by_device(cases: Iterable[CaseLike]) -> dict[str, list[CaseLike]]:
    by_device: dict[str, list[CaseLike]] = {}
    for case in cases:
        if str(case.status) in FINISHED_STATUSES:
            continue
        for device_id in case.device_ids:
            by_device.setdefault(device_id, []).append(case)
    return by_device


def build_site_plan(
    devices: Iterable[DeviceLike],
    cases: Iterable[CaseLike],
    now: datetime,
    device_sites: Mapping[str, str | None] | None = None,
    site_names: Mapping[str, str] | None = None,
) -> SitePlan:
    """Group devices by site, building and floor and colour each by its unfinished cases, and
    by whether it has gone quiet past its check-in deadline. ``device_sites``: each device's
    site id (a place's name is its own only within its site: two communities may each have a
    "Building 3"); ``site_names``: a site's name by its id."""
    open_cases = _open_cases_by_device(cases)
    device_sites = device_sites or {}
    site_names = site_names or {}
    floors: dict[tuple[str | None, str], dict[str, list[PlanDevice]]] = {}
    # Two spellings of a building or floor of a site are one (``devices.location.folded``),
    # shown as the first one met.
    spelt: dict[tuple[str | None, str], str] = {}
    counts = dict.fromkeys(_STATE_ORDER, 0)
    for device in sorted(devices, key=lambda d: (_natural_key(d.location), d.id)):
        site_id = device_sites.get(device.id)
        parts = Location.parse(device.location).parts
        building = spelt.setdefault((site_id, folded(parts[0])), parts[0])
        floor = parts[1] if len(parts) > 1 else "—"
        floor = spelt.setdefault((site_id, f"{folded(building)}/{folded(floor)}"), floor)
        device_cases = open_cases.get(device.id, [])
        offline = overdue(device, now, offline_after(device))
        state = device_state(device, (case.kind for case in device_cases), offline=offline)
        counts[state] = counts.get(state, 0) + 1
        floors.setdefault((site_id, building), {}).setdefault(floor, []).append(
            PlanDevice(
                id=device.id,
                site_id=site_id,
                kind=str(device.kind),
                location=device.location,
                spot="/".join(parts[2:]),
                state=state,
                offline=offline or any(c.kind == AlertKind.DEVICE_OFFLINE for c in device_cases),
                hazard=any(case.kind in LIFE_SAFETY for case in device_cases),
                case_ids=sorted(case.id for case in device_cases),
            )
        )
    buildings = [
        PlanBuilding(
            name=name,
            site_id=site_id,
            site_name=None if site_id is None else site_names.get(site_id, site_id),
            floors=[
                PlanFloor(name=floor, devices=floor_devices)
                # Top floor first, as a building is drawn.
                for floor, floor_devices in sorted(
                    by_floor.items(), key=lambda item: _natural_key(item[0]), reverse=True
                )
            ],
            hazards=sum(d.hazard for devices in by_floor.values() for d in devices),
        )
        for (site_id, name), by_floor in sorted(floors.items(), key=_site_then_building)
    ]
    return SitePlan(buildings=buildings, counts=counts)


def _site_then_building(item: tuple[tuple[str | None, str], object]) -> tuple[object, ...]:
    (site_id, name), _ = item
    return (site_id is None, _natural_key(site_id or ""), _natural_key(name))


def nearby_devices(
    case: CaseLike, devices: Iterable[DeviceLike], *, depth: int = 3, limit: int = 20
) -> list[str]:
    """Return the case's devices, then others at the same place (e.g. the same unit).

    A resident's SOS button reports no readings; the CO detector in the same flat does, and
    that is what an operator wants to see around the incident.
    """
    chosen = list(case.device_ids)
    if case.location is None:
        return chosen
    place = Location.parse(case.location)
    level = min(depth, len(place.parts))
    for device in sorted(devices, key=lambda d: d.id):
        if len(chosen) >= limit:
            break
        if device.id not in chosen and Location.parse(device.location).shares_level(place, level):
            chosen.append(device.id)
    return chosen


def _unplaced(device: object) -> bool:
    """Whether nobody placed the device where it really is yet: the hub registered it from
    its own alarm, or from its edge's inventory at the place its edge found it unregistered
    (``devices.discovery``)."""
    if getattr(device, "registered_by", None) == Provenance.ALERT:
        return True
    location = getattr(device, "location", None)
    return isinstance(location, str) and at_discovered_place(
        location, getattr(device, "edge_id", None), getattr(device, "zigbee_name", None)
    )


def device_health(
    devices: Iterable[DeviceLike],
    cases: Iterable[CaseLike],
    now: datetime,
    *,
    offline_after_default: timedelta = OFFLINE_AFTER,
) -> list[DeviceHealth]:
    """Return the health of each device, the ones needing attention first.

    A device is offline when it has an unfinished ``device_offline`` case (the edge's check-in
    deadlines decided it), or when the hub has heard nothing from it for longer than its
    check-in deadline as its edge gave it (a slow battery device's learned one: a Shelly Flood
    waking once a day is not offline for the 23 hours between), else than ``offline_after``
    (counted from its registration if it was never heard).
    """
    open_cases = _open_cases_by_device(cases)
    rows: list[DeviceHealth] = []
    for device in devices:
        kinds = {case.kind for case in open_cases.get(device.id, [])}
        readings = device.last_readings or {}
        battery = readings.get("battery_pct")
        checkin = getattr(device, "checkin", None)
        limit = offline_after(device, offline_after_default)
        stale = overdue(device, now, limit)
        nuisance = getattr(device, "nuisance_rate", None)
        unserved = getattr(device, "unserved_reason", None)
        rows.append(
            DeviceHealth(
                id=device.id,
                kind=str(device.kind),
                location=device.location,
                last_seen=device.last_seen,
                offline=AlertKind.DEVICE_OFFLINE in kinds or stale,
                battery_pct=float(battery) if isinstance(battery, int | float) else None,
                battery_low=readings.get("battery_low") is True or AlertKind.BATTERY_LOW in kinds,
                faults=sorted(str(kind) for kind in kinds & FAULTS),
                nuisance_rate=float(nuisance) if isinstance(nuisance, int | float) else None,
                unserved_reason=unserved if isinstance(unserved, str) else None,
                offline_after_s=limit.total_seconds(),
                checkin_source=None if checkin is None else checkin.source,
                unplaced=_unplaced(device),
            )
        )

    def attention(row: DeviceHealth) -> tuple[int, int, float, str]:
        battery = row.battery_pct if row.battery_pct is not None else 101.0
        trouble = (
            len(row.faults)
            + int(row.battery_low)
            + int(row.unserved_reason is not None)
            + int(row.unplaced)
        )
        return (-int(row.offline), -trouble, battery, row.id)

    return sorted(rows, key=attention)


# --- the shell: lifespan and routes -------------------------------------------------------


@contextlib.asynccontextmanager
async def readings_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the console history writer and the InfluxDB forwarder for the app's lifetime."""
    settings: HubSettings = app.state.settings
    engine = create_hub_engine(settings.resolved_database_url())
    history = ReadingHistory(
        engine,
        retention=timedelta(hours=settings.history_retention_hours),
        capacity=settings.history_queue_max,
        clock=app.state.clock,
    )
    telemetry: TelemetryForwarder | None = None
    if settings.influx_url:
        token = settings.influx_token.get_secret_value() if settings.influx_token else ""
        telemetry = TelemetryForwarder(
            InfluxLineWriter(
                settings.influx_url,
                token,
                settings.influx_org,
                settings.influx_bucket,
                timeout_seconds=settings.influx_timeout_seconds,
            ),
            batch_size=settings.influx_batch_size,
            flush_seconds=settings.influx_flush_seconds,
            capacity=settings.influx_buffer_max,
        )
        logger.info(
            "writing readings to %s, bucket %s", settings.influx_url, settings.influx_bucket
        )
    app.state.console_engine = engine
    app.state.history = history
    app.state.telemetry = telemetry
    history.start()
    if telemetry is not None:
        telemetry.start()
    ingest: MqttIngest | None = app.state.ingest
    if ingest is not None:
        ingest.telemetry_sinks.append(history.submit)
        if telemetry is not None:
            ingest.telemetry_sinks.append(telemetry.submit)
    try:
        yield
    finally:
        if ingest is not None:
            ingest.telemetry_sinks.clear()
        if telemetry is not None:
            await asyncio.to_thread(telemetry.stop)
        await asyncio.to_thread(history.stop)
        engine.dispose()


console_router = APIRouter(lifespan=readings_lifespan)
"""The console's page and files: public, so that its sign-in form can load."""
console_api_router = APIRouter(prefix=f"{API_PREFIX}/console", tags=["console"])
"""The console's read endpoints: the app includes them behind the same guard as ``/api/v1``."""


def get_history(request: Request) -> ReadingHistory:
    """Return the app's console history."""
    history: ReadingHistory = request.app.state.history
    return history


HistoryDep = Annotated[ReadingHistory, Depends(get_history)]


@console_router.get("/console", include_in_schema=False)
@console_router.get("/console/", include_in_schema=False)
async def console_page() -> FileResponse:
    """Serve the console's single page."""
    return FileResponse(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@console_router.get("/console/{name}", include_in_schema=False)
async def console_asset(name: str) -> FileResponse:
    """Serve one of the console's own static files, and nothing else."""
    if name not in CONSOLE_ASSETS:
        raise NotFoundError(f"no console file {name!r}")
    return FileResponse(CONSOLE_DIR / name, headers={"Cache-Control": "no-cache"})


@console_api_router.get("/readings")
async def readings(
    history: HistoryDep,
    store: StoreDep,
    principal: PrincipalDep,
    device_id: Annotated[list[str], Query(min_length=1, max_length=100)],
    start: AwareDatetime,
    end: AwareDatetime,
    limit: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = MAX_SAMPLES,
) -> Items[ReadingSample]:
    """List the readings the hub kept of these devices between start and end, oldest first.

    A site-scoped caller asking for a device that is not of its sites is told it is not
    registered (an unscoped caller may read what history kept of a device since removed).
    """
    if principal.sites is not None:
        visible = await asyncio.to_thread(store.fleet.visible_device_ids, principal.sites)
        hidden = sorted(set(device_id) - visible)
        if hidden:
            raise NotFoundError(f"device {hidden[0]} is not registered")
    samples = await asyncio.to_thread(history.readings, device_id, start, end, limit=limit)
    return Items(items=samples)


@console_api_router.get("/cases/{case_id}/readings")
async def case_readings(
    case_id: int, store: StoreDep, history: HistoryDep, clock: ClockDep, principal: PrincipalDep
) -> CaseReadings:
    """Return the readings of a case's devices and their neighbours around the incident.

    From 30 min before the case opened to 30 min after its last alert (or now). Neighbours
    are of the caller's sites only.
    """
    case = await asyncio.to_thread(store.cases.get_case, case_id)
    neighbours = await asyncio.to_thread(store.fleet.list_devices, sites=principal.sites)
    device_ids = nearby_devices(case, neighbours)
    start, end = incident_window(case.opened_at, case.last_alert_at, clock())
    # The newest readings when there are more than a chart takes: a long incident's chart
    # cut at its first hours would show stale readings as the latest.
    samples = await asyncio.to_thread(history.readings, device_ids, start, end, newest=True)
    return CaseReadings(
        case_id=case_id, start=start, end=end, device_ids=device_ids, samples=samples
    )


async def _devices_and_cases(
    store: StoreDep, sites: frozenset[str] | None
) -> tuple[list[DeviceView], list[CaseView]]:
    """Return the devices and the unfinished cases of ``sites`` (None: every site)."""
    devices = await asyncio.to_thread(store.fleet.list_devices, sites=sites)
    cases: list[CaseView] = []
    for status in CaseStatus:
        if str(status) not in FINISHED_STATUSES:
            cases += await asyncio.to_thread(
                store.cases.list_cases, status=status, limit=MAX_LIMIT, sites=sites
            )
    return devices, cases


@console_api_router.get("/site-plan")
async def site_plan(store: StoreDep, clock: ClockDep, principal: PrincipalDep) -> SitePlan:
    """Return each site's buildings and floors from device locations, each device with its
    state and site."""
    devices, cases = await _devices_and_cases(store, principal.sites)
    roster = await asyncio.to_thread(store.roster.site_map)
    names = {site.id: site.name for site in roster.sites}
    return build_site_plan(devices, cases, clock(), roster.device_sites(), names)


@console_api_router.get("/device-health")
async def health_list(
    store: StoreDep, clock: ClockDep, principal: PrincipalDep
) -> Items[DeviceHealth]:
    """List devices with what needs attention first: offline, faults, low battery."""
    devices, cases = await _devices_and_cases(store, principal.sites)
    return Items(items=device_health(devices, cases, clock()))
