"""The devices table as registrations write it: an operator's, an edge's inventory's, and the
hub's own from an alert about a device nobody registered (``hub.fleet.rules.adopted_device``).

Each function runs inside its caller's transaction; ``hub.fleet.repository`` and the case
intake (``hub.cases.intake``) call them.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.discovery import at_discovered_place, is_placeholder
from devices.messages import Alert
from devices.registry import Device
from hub.fleet.claims import Provenance
from hub.fleet.retirement import bring_back, inventory_brings_back
from hub.fleet.rules import adopted_device
from hub.fleet.supervision import EDGE_ROW_KIND
from hub.fleet.views import DeviceView, device_view
from hub.persistence.tables import DeviceRow
from hub.persistence.transactions import clean, clean_or_none, upsert_insert

logger = logging.getLogger(__name__)


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
        elif row is not None and (
            (row.registered_by != Provenance.ALERT and same_registration(row, storable(device)))
            or (by is Provenance.INVENTORY and displaces_placement(row, device))
        ):
            continue  # nothing to write, or the edge has not heard of its placement yet
        elif row is not None and row.kind == EDGE_ROW_KIND:
            logger.warning(
                "a %s registration of device %s left out: the hub's own row of edge %s",
                by.value,
                device.id,
                row.edge_id,
            )
            continue
        edges |= upsert_device(session, device, now, by=by).edges_affected
    return frozenset(edges)


def displaces_placement(row: DeviceRow, listed: Device) -> bool:
    """Return whether an edge's inventory entry ``listed`` is a placeholder (a detector it
    found unregistered, at its discovered place) for a device someone has placed elsewhere.

    The edge lists it so until it hears of the registration; a status sent in between must
    not move the device back to "Unregistered devices of edge …" (nor the registry sent to the
    edge: it would take the placement back there too)."""
    return is_placeholder(storable(listed)) and not at_discovered_place(
        row.location, row.edge_id, row.zigbee_name
    )


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
    device = storable(device)
    inserted = session.execute(
        upsert_insert(session, DeviceRow)
        .values(
            id=device.id, created_at=now, registered_by=by.value, **registration_columns(device)
        )
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
    # An operator who registered it with no edge vouched for no edge: the first edge to list
    # it takes it on first use, unvouched, so that its real edge's alarms about it are a
    # claim taken (a conflict case), not refused (found by an outside review: a stolen edge
    # listed another site's pre-registered detector and silenced it).
    adopted = (
        by is Provenance.INVENTORY
        and row.edge_id is None
        and device.edge_id is not None
        and row.registered_by == Provenance.OPERATOR
    )
    if by is Provenance.OPERATOR or confirmed or returned or adopted:
        # An operator's vouches from now on, whatever else is same; a retired device another
        # edge lists is that edge's on first use, as a new one would be.
        row.registered_by = by.value
    if not (confirmed or returned) and same_registration(row, device):
        return DeviceChange(
            device_view(row), created=False, changed=False, edges_affected=frozenset()
        )
    edges = frozenset(e for e in (row.edge_id, device.edge_id) if e is not None)
    for column, value in registration_columns(device).items():
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
            wanted.setdefault(device.id, storable(device))
    for device in sorted(wanted.values(), key=lambda d: d.id):
        inserted = session.execute(
            upsert_insert(session, DeviceRow)
            .values(
                id=device.id,
                created_at=now,
                registered_by=Provenance.ALERT.value,
                **registration_columns(device),
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


def storable(device: Device) -> Device:
    """Return ``device`` as its registration stores it: its place and Zigbee name cleaned."""
    return device.model_copy(
        update={
            "location": clean(device.location),
            "zigbee_name": clean_or_none(device.zigbee_name),
        }
    )


def registration_columns(device: Device) -> dict[str, str | None]:
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


def same_registration(row: DeviceRow, device: Device) -> bool:
    """Return whether ``row`` already stores ``device``'s registration."""
    return all(
        getattr(row, column) == value for column, value in registration_columns(device).items()
    )
