"""The repository of devices and edges: registrations, statuses, last readings."""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.kinds import DeviceKind
from devices.messages import (
    Alert,
    Checkin,
    DeviceRegistry,
    EdgeStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.registry import Device
from hub.auth.scoping import PlacedDevice, Scope, check_device
from hub.cases.records import CasePolicy
from hub.cases.results import IngestResult
from hub.cases.rules import Resolution, nuisance_rate
from hub.errors import NotFoundError
from hub.fleet.claims import Claim, Provenance, Registration
from hub.fleet.conflicts import ConflictCase, record_claims, reported, settle_claims
from hub.fleet.retirement import bring_back, inventory_brings_back, retire
from hub.fleet.rules import adopted_device, assign_edge, unserved_reason
from hub.fleet.views import DeviceView, EdgeView
from hub.persistence.tables import (
    CaseMemberRow,
    CaseRow,
    DeviceClaimRow,
    DeviceRow,
    EdgeRow,
    SiteRow,
)
from hub.persistence.transactions import Database, clean, clean_or_none, get_existing, upsert_insert
from hub.roster.repository import load_site_map, site_from_row

logger = logging.getLogger(__name__)


InventoryScreen = Callable[
    [Sequence[Device], Mapping[str, Registration]], tuple[list[Device], list[Claim]]
]
"""Given an inventory and where its devices are registered now, the devices to register and
the edge's claims on other edges' devices (``hub.fleet.claims``)."""


@dataclass(frozen=True, slots=True)
class StatusRecorded:
    """The outcome of recording an edge's status."""

    edges_changed: frozenset[str]
    """Edges whose DeviceRegistry changed."""
    conflicts: IngestResult
    """The conflict cases the inventory's claims opened or added to (no alerts)."""


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """The outcome of registering a device."""

    device: DeviceView
    created: bool
    changed: bool
    edges_affected: frozenset[str]
    """Edges whose DeviceRegistry changed (the old and the new edge of a moved device)."""


def upsert_many(
    session: Session,
    devices: Iterable[Device],
    now: datetime,
    current: dict[str, DeviceRow] | None = None,
    *,
    by: Provenance,
) -> frozenset[str]:
    """Create or update registrations; return the edges whose DeviceRegistry changed.

    The registrations are read in one query first, and only the new and the changed ones are
    written: an edge repeats its whole inventory in every status, and upserting each device
    each time was a fifth of the hub's work in a burst.

    The read takes no lock: only a registration to write is locked (by ``upsert_device``, in
    id order, and compared again under the lock). An unchanged inventory, nearly every
    status, then never waits for the readings lane, whose transactions hold the same device
    rows while they record telemetry. On PostgreSQL that wait (tens of ms a status at 100
    edges × 100 devices) held up the ingest loop, and the alerts behind it.
    """
    wanted = sorted(devices, key=lambda d: d.id)
    if current is None:
        current = registrations(session, [d.id for d in wanted])
    edges: set[str] = set()
    for device in wanted:
        row = current.get(device.id)
        if row is not None and row.retired_at is not None and by is Provenance.INVENTORY:
            if not inventory_brings_back(row.edge_id, device.edge_id):
                continue  # its own edge's site file: retired it stays (hub.fleet.retirement)
        elif (
            row is not None
            and row.registered_by != Provenance.ALERT
            and _same_registration(row, _storable(device))
        ):
            continue
        edges |= upsert_device(session, device, now, by=by).edges_affected
    return frozenset(edges)


def registrations(session: Session, device_ids: Iterable[str]) -> dict[str, DeviceRow]:
    """Read these devices' registrations (unlocked), by id."""
    query = select(DeviceRow).where(DeviceRow.id.in_(set(device_ids)))
    return {row.id: row for row in session.scalars(query)}


def upsert_device(
    session: Session, device: Device, now: datetime, *, by: Provenance
) -> DeviceChange:
    """Create or update one registration inside ``session`` (the last registration wins).

    An operator's registration (``by``) vouches for the device's edge from then on; an
    inventory's update of a device keeps whatever provenance it had."""
    device = _storable(device)
    inserted = session.execute(
        upsert_insert(session, DeviceRow)
        .values(id=device.id, created_at=now, registered_by=by.value, **_registration(device))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(DeviceRow.id)
    ).scalar_one_or_none()
    # FOR NO KEY UPDATE: the id never changes here, so an alert insert's foreign-key check
    # (FOR KEY SHARE, taken in alert-id order) on another hub worker need not wait for it:
    # with FOR UPDATE the two deadlocked under load (tests/scale/test_kill_worker.py).
    # populate_existing: compare with the row as locked, not as an unlocked read left it.
    row = session.scalars(
        select(DeviceRow)
        .where(DeviceRow.id == device.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()
    if inserted is not None:
        edges = frozenset(e for e in (device.edge_id,) if e is not None)
        return DeviceChange(device_view(row), created=True, changed=True, edges_affected=edges)
    # Retired: back in service, at an operator's registration or another edge's inventory
    # (``upsert_many``); a change even when the same, since its edge's registry names it again.
    returned = row.retired_at is not None
    if returned:
        bring_back(session, row, now, by=f"{by.value} registration")
    # Made from an alert, never sent to its edge: from now on it is, as its edge says (a
    # change even when the same, since its edge's registry now names it).
    confirmed = row.registered_by == Provenance.ALERT and by is Provenance.INVENTORY
    if by is Provenance.OPERATOR or confirmed or returned:
        # An operator's vouches from now on, whatever else is same; a retired device another
        # edge lists is that edge's on first use, as a new one would be.
        row.registered_by = by.value
    if not (confirmed or returned) and _same_registration(row, device):
        return DeviceChange(
            device_view(row), created=False, changed=False, edges_affected=frozenset()
        )
    edges = frozenset(e for e in (row.edge_id, device.edge_id) if e is not None)
    for column, value in _registration(device).items():
        setattr(row, column, value)
    session.flush()
    logger.info("device %s re-registered (edge %s)", device.id, device.edge_id)
    return DeviceChange(device_view(row), created=False, changed=True, edges_affected=edges)


def adopt_unknown(
    session: Session, alerts: Iterable[Alert], now: datetime
) -> dict[str, tuple[str, str | None]]:
    """Register the devices of these alerts that nobody registered and that their alerts say
    what they are (``hub.fleet.rules.adopted_device``); return each one's place and edge.

    A device registered meanwhile by another hub worker is read as it is (its place and edge),
    never overwritten with what an alert says.
    """
    wanted: dict[str, Device] = {}
    for alert in alerts:
        device = adopted_device(alert)
        if device is not None:
            wanted.setdefault(device.id, _storable(device))
    for device in sorted(wanted.values(), key=lambda d: d.id):
        inserted = session.execute(
            upsert_insert(session, DeviceRow)
            .values(
                id=device.id,
                created_at=now,
                registered_by=Provenance.ALERT.value,
                **_registration(device),
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(DeviceRow.id)
        ).scalar_one_or_none()
        if inserted is None:
            continue  # another hub worker registered it meanwhile
        logger.warning(
            "device %s (%s at %r) registered from an alert of edge %s: no inventory listed it "
            "(a lost status, or a hub restored from an older backup?)",
            device.id,
            device.kind.value,
            device.location,
            device.edge_id,
        )
    return {
        device_id: (row.location, row.edge_id)
        for device_id, row in registrations(session, wanted).items()
    }


def resolutions(session: Session, device_ids: list[str] | None) -> dict[str, dict[Resolution, int]]:
    """Count, per device, the resolution codes of the cases it took part in."""
    query = (
        select(CaseMemberRow.device_id, CaseRow.resolution, func.count(func.distinct(CaseRow.id)))
        .join(CaseRow, CaseRow.id == CaseMemberRow.case_id)
        .where(CaseRow.resolution.is_not(None))
        .group_by(CaseMemberRow.device_id, CaseRow.resolution)
    )
    if device_ids is not None:
        query = query.where(CaseMemberRow.device_id.in_(device_ids))
    counts: dict[str, dict[Resolution, int]] = defaultdict(dict)
    for device_id, resolution, count in session.execute(query):
        if resolution is not None:
            counts[device_id][Resolution(resolution)] = count
    return counts


def _storable(device: Device) -> Device:
    return device.model_copy(
        update={
            "location": clean(device.location),
            "zigbee_name": clean_or_none(device.zigbee_name),
        }
    )


def reported_edges(session: Session) -> frozenset[str]:
    """Return the edges that have ever reported to this hub."""
    return frozenset(session.scalars(select(EdgeRow.id)))


def reported_checkins(session: Session) -> dict[str, dict[str, Any]]:
    """Return, for each edge that has ever reported, its devices' check-in deadlines as its
    last online status gave them (none from an edge older than them)."""
    return {
        edge_id: checkins or {}
        for edge_id, checkins in session.execute(select(EdgeRow.id, EdgeRow.checkins))
    }


def known_edges(session: Session) -> frozenset[str]:
    """Return the edges this hub knows: those that reported and those its sites name."""
    named = (
        edge for row in session.scalars(select(SiteRow)) for edge in site_from_row(row).edge_ids
    )
    return reported_edges(session) | frozenset(named)


def device_view(
    row: DeviceRow,
    resolutions: dict[Resolution, int] | None = None,
    reported: Mapping[str, Mapping[str, Any]] | None = None,
) -> DeviceView:
    """Return what the API shows of a device, with how its cases were resolved.

    With ``reported`` (``reported_checkins``: the edges that have reported, with the check-in
    deadlines each gave), it also says why no edge serves it and its current deadline.
    """
    judged = resolutions or {}
    by_edge = {} if reported is None or row.edge_id is None else reported.get(row.edge_id, {})
    checkin = by_edge.get(row.id)
    return DeviceView(
        id=row.id,
        kind=DeviceKind(row.kind),
        location=row.location,
        edge_id=row.edge_id,
        zigbee_name=row.zigbee_name,
        tasmota_topic=row.tasmota_topic,
        shelly_id=row.shelly_id,
        temperature_unit="F"
        if row.temperature_unit == "F"
        else "C"
        if row.temperature_unit
        else None,
        registered_by=None if row.registered_by is None else Provenance(row.registered_by),
        created_at=row.created_at,
        last_seen=row.last_seen,
        last_readings=row.last_readings,
        case_resolutions=judged,
        nuisance_rate=nuisance_rate(judged),
        unserved_reason=None
        if reported is None
        else unserved_reason(row.edge_id, frozenset(reported)),
        checkin=None if checkin is None else Checkin.model_validate(checkin),
        retired_at=row.retired_at,
        retired_by=row.retired_by,
        retired_reason=row.retired_reason,
    )


def _edge_view(row: EdgeRow) -> EdgeView:
    return EdgeView.model_validate(row, from_attributes=True)


def _registration(device: Device) -> dict[str, str | None]:
    """Return what a device's registration stores: its row's columns but the id and bookkeeping."""
    return {
        "kind": device.kind.value,
        "location": device.location,
        "edge_id": device.edge_id,
        "zigbee_name": device.zigbee_name,
        "tasmota_topic": device.tasmota_topic,
        "shelly_id": device.shelly_id,
        "temperature_unit": device.temperature_unit,
    }


def _same_registration(row: DeviceRow, device: Device) -> bool:
    return all(getattr(row, column) == value for column, value in _registration(device).items())


class FleetRepository:
    """Reads and writes devices and edges; each public method is one transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy

    def register_device(self, device: Device, *, sites: Scope = None) -> DeviceChange:
        """Create or update one device registration (the last registration wins).

        Without ``edge_id`` (absent, not ``null``) the device keeps its edge, or goes to the
        hub's only edge (``rules.assign_edge``); raise ``EdgeChoiceError`` if there are several.
        A caller scoped to ``sites`` may only register devices of those sites, before and
        after (``hub.auth.scoping.check_device``; else ``ForbiddenError``, nothing written).
        """
        with self._db.writing() as session:
            current = session.get(DeviceRow, device.id)
            edge_id = assign_edge(
                device.edge_id,
                None if current is None else current.edge_id,
                known_edges(session),
                given="edge_id" in device.model_fields_set,
            )
            device = device.model_copy(update={"edge_id": edge_id})
            if sites is not None:
                check_device(
                    load_site_map(session),
                    None
                    if current is None
                    else PlacedDevice(current.id, current.edge_id, current.location),
                    PlacedDevice(device.id, edge_id, device.location),
                    sites,
                )
            change = upsert_device(session, device, self._db.clock(), by=Provenance.OPERATOR)
            settle_claims(session, device.id)
            row = session.get_one(DeviceRow, change.device.id)
            view = device_view(
                row, resolutions(session, [row.id]).get(row.id), reported_checkins(session)
            )
            return DeviceChange(view, change.created, change.changed, change.edges_affected)

    def upsert_devices(self, devices: Iterable[Device]) -> frozenset[str]:
        """Create or update registrations; return the edges whose DeviceRegistry changed."""
        with self._db.writing() as session:
            return upsert_many(session, devices, self._db.clock(), by=Provenance.OPERATOR)

    def visible_device_ids(self, sites: frozenset[str]) -> frozenset[str]:
        """Return the devices that belong to one of ``sites``."""
        with self._db.reading() as session:
            placed = load_site_map(session).device_sites()
        return frozenset(d for d, site in placed.items() if site is not None and site in sites)

    def visible_edge_ids(self, sites: frozenset[str]) -> frozenset[str]:
        """Return the edges that serve one of ``sites``."""
        with self._db.reading() as session:
            rows = session.scalars(select(SiteRow).where(SiteRow.id.in_(sorted(sites))))
            return frozenset(edge for row in rows for edge in site_from_row(row).edge_ids)

    def retire_device(
        self,
        device_id: str,
        *,
        actor: str | None,
        reason: str | None = None,
        sites: frozenset[str] | None = None,
    ) -> DeviceChange:
        """Take a device out of service (``hub.fleet.retirement``), or raise
        ``DeviceInUseError`` (nothing changed) or ``NotFoundError`` (also for a device not of
        ``sites``); ``changed`` is False for a device retired already."""
        missing = f"device {device_id} is not registered"
        with self._db.writing() as session:
            if (
                sites is not None
                and load_site_map(session).device_sites().get(device_id) not in sites
            ):
                raise NotFoundError(missing)
            row = get_existing(session, DeviceRow, device_id, missing, key_share=True)
            changed = retire(session, row, self._db.clock(), actor=actor, reason=reason)
            edges = frozenset(e for e in (row.edge_id,) if e is not None and changed)
            view = device_view(
                row, resolutions(session, [row.id]).get(row.id), reported_checkins(session)
            )
            return DeviceChange(view, created=False, changed=changed, edges_affected=edges)

    def list_devices(
        self,
        *,
        edge_id: str | None = None,
        sites: frozenset[str] | None = None,
        retired: bool = False,
    ) -> list[DeviceView]:
        """Return devices in service by id (with ``retired``, those retired instead),
        optionally only those of one edge or of ``sites``."""
        query = (
            select(DeviceRow)
            .where(DeviceRow.retired_at.is_not(None) if retired else DeviceRow.retired_at.is_(None))
            .order_by(DeviceRow.id)
        )
        if edge_id is not None:
            query = query.where(DeviceRow.edge_id == edge_id)
        with self._db.reading() as session:
            rows = list(session.scalars(query))
            if sites is not None:
                placed = load_site_map(session).device_sites()
                rows = [r for r in rows if placed.get(r.id) in sites]
            judged = resolutions(session, None if edge_id is None else [r.id for r in rows])
            reported = reported_checkins(session)
            return [device_view(row, judged.get(row.id), reported) for row in rows]

    def get_device(self, device_id: str) -> DeviceView:
        """Return one device with its case resolutions and nuisance rate, or raise NotFoundError."""
        with self._db.reading() as session:
            row = get_existing(
                session, DeviceRow, device_id, f"device {device_id} is not registered"
            )
            judged = resolutions(session, [device_id]).get(device_id)
            return device_view(row, judged, reported_checkins(session))

    def device_registry(self, edge_id: str) -> DeviceRegistry:
        """Return the DeviceRegistry to publish to one edge."""
        devices = [
            view.to_device()
            for view in self.list_devices(edge_id=edge_id)
            if view.registered_by is not Provenance.ALERT  # the edge's own entry is better
        ]
        return DeviceRegistry(edge_id=edge_id, devices=devices)

    def edges_with_devices(self) -> list[str]:
        """Return the ids of edges that serve at least one registered device."""
        query = (
            select(DeviceRow.edge_id)
            .where(DeviceRow.edge_id.is_not(None))
            .distinct()
            .order_by(DeviceRow.edge_id)
        )
        with self._db.reading() as session:
            return [edge for edge in session.scalars(query) if edge is not None]

    def device_edges(self, device_ids: Iterable[str]) -> dict[str, str]:
        """Return the edge serving each of these devices (devices without one are left out)."""
        return {
            device_id: registration.edge_id
            for device_id, registration in self.device_registrations(device_ids).items()
            if registration.edge_id is not None
        }

    def device_registrations(
        self, device_ids: Iterable[str], *, claims_of: frozenset[str] = frozenset()
    ) -> dict[str, Registration]:
        """Return the registration of each of these devices that is registered; with the
        edges that claimed it where one of ``claims_of`` might have (one more query, only
        when a device no operator vouched for is registered to another edge)."""
        ids = set(device_ids)
        query = select(DeviceRow.id, DeviceRow.edge_id, DeviceRow.registered_by).where(
            DeviceRow.id.in_(ids)
        )
        with self._db.reading() as session:
            rows = session.execute(query).all()
            claimants: dict[str, set[str]] = defaultdict(set)
            if claims_of and any(
                by != Provenance.OPERATOR and edge is not None and edge not in claims_of
                for _, edge, by in rows
            ):
                claimed = select(DeviceClaimRow.device_id, DeviceClaimRow.edge_id).where(
                    DeviceClaimRow.device_id.in_(ids)
                )
                for device_id, edge_id in session.execute(claimed):
                    claimants[device_id].add(edge_id)
            return {
                device_id: Registration.of(edge_id, by, frozenset(claimants.get(device_id, ())))
                for device_id, edge_id, by in rows
            }

    def record_edge_status(
        self, status: EdgeStatus, received_at: datetime, screen: InventoryScreen | None = None
    ) -> StatusRecorded:
        """Store an edge's status and inventory; return the edges whose registry changed and
        the conflict cases its claims opened or added to.

        The inventory only adds or updates devices: a device missing from it stays registered.
        ``screen``, if given, chooses the devices the edge may register from where each is
        registered now, read by the same query that reads the registrations to compare with
        (one read of the inventory's devices, not one to screen and one to compare); the
        edge's claims on other edges' devices are recorded in the same transaction.

        An urgent write (``hub.persistence.write_turns``): the ingest loop waits for it, and
        the alerts that arrive meanwhile wait for the ingest loop.
        """
        with self._db.writing(urgent=True) as session:
            current = registrations(session, [d.id for d in status.devices])
            conflicts: list[ConflictCase] = []
            if screen is not None:
                # A retired device is no edge's: another edge listing it is not a claim.
                registered = {
                    device_id: Registration.of(row.edge_id, row.registered_by)
                    for device_id, row in current.items()
                    if row.retired_at is None
                }
                kept, claims = screen(status.devices, registered)
                status = status.model_copy(update={"devices": kept})
                if claims:
                    conflicts = record_claims(session, self._policy, claims, received_at)
            values: dict[str, Any] = {
                "state": status.state,
                "last_seen": received_at,
                "outbox_depth": status.outbox_depth,
                "counters": dict(status.counters),
            }
            if status.state == "online":
                # An offline status (the last will) has none: the last known ones are kept.
                values["checkins"] = {
                    device_id: checkin.model_dump()
                    for device_id, checkin in status.checkins.items()
                }
            session.execute(
                upsert_insert(session, EdgeRow)
                .values(id=status.edge_id, **values)
                .on_conflict_do_update(index_elements=["id"], set_=values)
            )
            inventory = [
                device
                if device.edge_id is not None
                else device.model_copy(update={"edge_id": status.edge_id})
                for device in status.devices
            ]
            edges = upsert_many(session, inventory, received_at, current, by=Provenance.INVENTORY)
            return StatusRecorded(edges, reported(session, conflicts))

    def list_edges(self, *, edge_ids: frozenset[str] | None = None) -> list[EdgeView]:
        """Return every edge that ever reported (only ``edge_ids``, if given), by id."""
        query = select(EdgeRow).order_by(EdgeRow.id)
        if edge_ids is not None:
            query = query.where(EdgeRow.id.in_(sorted(edge_ids)))
        with self._db.reading() as session:
            return [_edge_view(row) for row in session.scalars(query)]

    def record_telemetry(self, batch: TelemetryBatch) -> int:
        """Update each known device's last_seen and last readings; return the points applied."""
        points: dict[str, list[TelemetryPoint]] = defaultdict(list)
        for point in batch.points:
            points[point.device_id].append(point)
        applied = 0
        with self._db.writing() as session:
            rows = session.scalars(
                select(DeviceRow)
                .where(DeviceRow.id.in_(points))
                .order_by(DeviceRow.id)
                .with_for_update(key_share=True)  # as in upsert_device: no wait for alert FKs
            )
            for row in rows:
                readings: dict[str, Any] = dict(row.last_readings or {})
                last_seen = row.last_seen
                for point in sorted(points[row.id], key=lambda p: p.ts):
                    if last_seen is not None and point.ts < last_seen:
                        continue  # an older reading arriving late must not win
                    readings.update(point.readings.present())
                    last_seen = point.ts
                    applied += 1
                row.last_readings = readings
                row.last_seen = last_seen
        return applied
