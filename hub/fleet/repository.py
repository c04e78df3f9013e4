"""The repository of devices and edges: registrations, statuses, last readings."""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.messages import (
    DeviceRegistry,
    EdgeStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.registry import Device
from hub.auth.scoping import PlacedDevice, Scope, check_device
from hub.cases.records import CasePolicy
from hub.cases.results import IngestResult
from hub.cases.rules import Resolution
from hub.errors import InvalidInputError, NotFoundError
from hub.fleet.claims import Claim, Provenance, Registration
from hub.fleet.conflicts import ConflictCase, record_claims, reported, settle_claims
from hub.fleet.registrations import DeviceChange, registrations, upsert_device, upsert_many
from hub.fleet.retirement import retire
from hub.fleet.revocation import status_taken
from hub.fleet.rules import assign_edge
from hub.fleet.status_order import late_behind_offline
from hub.fleet.supervision import EDGE_ROW_KIND
from hub.fleet.views import DeviceView, EdgeView, device_view, edge_view
from hub.persistence.tables import (
    CaseMemberRow,
    CaseRow,
    DeviceClaimRow,
    DeviceRow,
    EdgeRow,
    SiteRow,
)
from hub.persistence.transactions import Database, get_existing, upsert_insert
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
    taken: bool = True
    """False: the status was not taken: the edge is revoked (``hub.fleet.revocation``), or
    ``late``."""
    late: bool = False
    """It was sent before the edge's ``offline`` the hub holds (``hub.fleet.status_order``)."""


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
            if current is not None and current.kind == EDGE_ROW_KIND:
                raise InvalidInputError(
                    f"{device.id} is edge {current.edge_id}'s own row at the hub (its outages' "
                    "cases): register the device under another id"
                )
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
            if row.kind == EDGE_ROW_KIND:
                raise NotFoundError(missing)
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
            .where(DeviceRow.kind != EDGE_ROW_KIND)
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
            if row.kind == EDGE_ROW_KIND:
                raise NotFoundError(f"{device_id} is an edge's own row, not a device")
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
            .where(DeviceRow.edge_id.is_not(None), DeviceRow.kind != EDGE_ROW_KIND)
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
        self,
        status: EdgeStatus,
        received_at: datetime,
        screen: InventoryScreen | None = None,
        *,
        retained: bool = False,
    ) -> StatusRecorded:
        """Store an edge's status and inventory; return the edges whose registry changed and
        the conflict cases its claims opened or added to.

        The inventory only adds or updates devices: a device missing from it stays registered.
        ``screen``, if given, chooses the devices the edge may register from where each is
        registered now, read by the same query that reads the registrations to compare with
        (one read of the inventory's devices, not one to screen and one to compare); the
        edge's claims on other edges' devices are recorded in the same transaction.

        A revoked edge's status is taken only as ``hub.fleet.revocation`` says (``retained``:
        the broker handed it over from its store); otherwise nothing is written.

        An urgent write (``hub.persistence.write_turns``): the ingest loop waits for it, and
        the alerts that arrive meanwhile wait for the ingest loop.
        """
        with self._db.writing(urgent=True) as session:
            # Locked: a clearing committed meanwhile (another hub worker) is not undone.
            edge = session.get(EdgeRow, status.edge_id, with_for_update=True)
            if edge is not None and not status_taken(
                edge.revoked_at, retained=retained, state=status.state, sent_at=status.ts
            ):
                return StatusRecorded(frozenset(), IngestResult(), taken=False)
            if edge is not None and late_behind_offline(
                state=status.state,
                sent_at=status.ts,
                held_state=edge.state,
                held_sent_at=edge.status_sent_at,
                held_received_at=edge.last_seen,
                received_at=received_at,
            ):
                logger.info("edge %s: a status sent before its offline came late", edge.id)
                return StatusRecorded(frozenset(), IngestResult(), taken=False, late=True)
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
                "status_sent_at": status.ts,
                "revoked_at": None,
            }
            if status.state == "online":
                # An offline status (the last will) has none: the last known ones are kept.
                values["checkins"] = {
                    device_id: checkin.model_dump()
                    for device_id, checkin in status.checkins.items()
                }
                values["in_memory"] = list(status.in_memory)
                # None (an edge that does not say) puts the hub's own setting back.
                values["heartbeat_s"] = status.heartbeat_s
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

    def record_edge_cleared(self, edge_id: str, received_at: datetime) -> None:
        """Mark an edge offline and revoked: its retained status was cleared (``linli broker
        revoke``); one the hub never heard of is recorded so, for a stale copy to find."""
        with self._db.writing(urgent=True) as session:
            revoked = {"state": "offline", "revoked_at": received_at}
            session.execute(
                upsert_insert(session, EdgeRow)
                .values(id=edge_id, last_seen=received_at, outbox_depth=0, counters={}, **revoked)
                .on_conflict_do_update(index_elements=["id"], set_=revoked)
            )

    def list_edges(self, *, edge_ids: frozenset[str] | None = None) -> list[EdgeView]:
        """Return every edge that ever reported (only ``edge_ids``, if given), by id."""
        query = select(EdgeRow).order_by(EdgeRow.id)
        if edge_ids is not None:
            query = query.where(EdgeRow.id.in_(sorted(edge_ids)))
        with self._db.reading() as session:
            return [edge_view(row) for row in session.scalars(query)]

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
