"""The roster's repository: sites, grids and responders, and where a device is placed."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.chain import AuditAction, AuditRecord
from hub.auth.scoping import PlacedDevice, SiteMap
from hub.cases.timers import bring_acceptances_forward
from hub.errors import InvalidInputError
from hub.persistence.tables import DeviceRow, GridRow, ResponderRow, SiteRow
from hub.persistence.transactions import Database, audit, clean, clean_or_none, of_sites
from hub.roster.rules import Grid, Responder, Site, grid_of_place, site_of_device, site_of_edge

R = TypeVar("R", SiteRow, GridRow, ResponderRow)

_roster_writes = [0]
"""Writes of sites and grids by this process: a ``SiteCache`` reads the roster again after one."""


T = TypeVar("T")


def _written(committed: T) -> T:
    """Count a committed write of the roster (after the commit: a copy read meanwhile is of
    the roster before it, and is read again)."""
    _roster_writes[0] += 1
    return committed


@dataclass(frozen=True, slots=True)
class _Roster:
    sites: tuple[Site, ...]
    grids: tuple[Grid, ...]
    writes: int
    read_at: float


class SiteCache:
    """The sites of a take's devices, from a copy of the roster's sites and grids.

    The case intake keys an incident by its site (``hub.cases.correlation``) on every take;
    reading the roster each time would be one more round trip per alert on PostgreSQL. The
    copy is read again after any write of sites or grids in this process, and at least every
    ``max_age_s``: another hub worker's change is seen that much later.
    """

    def __init__(
        self, max_age_s: float = 2.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        self._roster: _Roster | None = None

    def sites_of(
        self, session: Session, placed: Mapping[str, tuple[str | None, str]]
    ) -> dict[str, str | None]:
        """Return each device's site id (None: none), from its (edge, location)."""
        roster = self._current(session)
        if not roster.sites and not roster.grids:
            return dict.fromkeys(placed)  # a hub without a roster: no device has a site
        return {
            device_id: site_of_device(roster.sites, roster.grids, edge_id, location)
            for device_id, (edge_id, location) in placed.items()
        }

    def _current(self, session: Session) -> _Roster:
        now = self._clock()
        roster = self._roster
        if (
            roster is None
            or roster.writes != _roster_writes[0]
            or now - roster.read_at > self._max_age_s
        ):
            writes = _roster_writes[0]
            roster = self._roster = _Roster(
                sites=tuple(site_from_row(row) for row in session.scalars(select(SiteRow))),
                grids=tuple(grid_from_row(row) for row in session.scalars(select(GridRow))),
                writes=writes,
                read_at=now,
            )
        return roster


def load_site_map(session: Session) -> SiteMap:
    """Return the roster's sites and grids with every device's placement (``SiteMap``)."""
    return SiteMap(
        sites=tuple(
            site_from_row(row) for row in session.scalars(select(SiteRow).order_by(SiteRow.id))
        ),
        grids=tuple(
            grid_from_row(row) for row in session.scalars(select(GridRow).order_by(GridRow.id))
        ),
        devices=tuple(
            PlacedDevice(id=device_id, edge_id=edge_id, location=location)
            for device_id, edge_id, location in session.execute(
                select(DeviceRow.id, DeviceRow.edge_id, DeviceRow.location)
            )
        ),
    )


def placement(
    session: Session, device_id: str, claimed: tuple[str, str] | None = None
) -> tuple[Site | None, Grid | None]:
    """Return the site (through the device's edge) and grid (by its location) of a device.

    ``claimed``: the edge and place another edge's alert about a contested device comes with
    (``hub.fleet.claims``): the alert is placed where that edge says, not where the first
    inventory said."""
    device = session.get(DeviceRow, device_id)
    if device is None:
        return None, None
    edge_id, location = claimed or (device.edge_id, device.location)
    sites = [site_from_row(row) for row in session.scalars(select(SiteRow))]
    site = site_of_edge(sites, edge_id)
    query = select(GridRow)
    if site is not None:
        query = query.where(GridRow.site_id == site.id)
    grid = grid_of_place([grid_from_row(row) for row in session.scalars(query)], location)
    if site is None and grid is not None:
        # A device with no edge (a resident's page) belongs where its place is.
        site = next((s for s in sites if s.id == grid.site_id), None)
    return site, grid


def site_from_row(row: SiteRow) -> Site:
    """Return the site a row stores."""
    return Site.model_validate(row, from_attributes=True)


def grid_from_row(row: GridRow) -> Grid:
    """Return the grid a row stores."""
    return Grid(id=row.id, site_id=row.site_id, name=row.name, places=row.places)


def responder_from_row(row: ResponderRow) -> Responder:
    """Return the responder a row stores."""
    return Responder.model_validate(row, from_attributes=True)


def _check_site(session: Session, site_id: str) -> None:
    """Refuse a record of a site the roster does not have."""
    if session.get(SiteRow, site_id) is None:
        raise InvalidInputError(f"site {site_id} does not exist")


def _row_to_put(session: Session, table: type[R], key: str) -> R:
    """Return the row ``key`` of ``table``, locked, or a new one the session holds."""
    row = session.get(table, key, with_for_update=True)
    if row is None:
        row = table(id=key)
        session.add(row)
    return row


class RosterRepository:
    """Reads and writes sites, grids and responders; each public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def site_map(self) -> SiteMap:
        """Return the roster's sites and grids with every device's placement (``SiteMap``)."""
        with self._db.reading() as session:
            return load_site_map(session)

    def put_site(self, site: Site) -> Site:
        """Create or replace a site."""

        def put(session: Session) -> Site:
            row = _row_to_put(session, SiteRow, site.id)
            row.name, row.timezone, row.edge_ids = clean(site.name), site.timezone, site.edge_ids
            row.street, row.district = clean_or_none(site.street), clean_or_none(site.district)
            row.map = [place.model_dump(mode="json") for place in site.map]
            self._audit_roster(session, "site", site)
            session.flush()
            return site_from_row(row)

        return _written(self._db.inserting(put))

    def list_sites(self, *, sites: frozenset[str] | None = None) -> list[Site]:
        """Return every site by id (only ``sites``, if given)."""
        query = of_sites(select(SiteRow).order_by(SiteRow.id), SiteRow.id, sites=sites)
        with self._db.reading() as session:
            return [site_from_row(row) for row in session.scalars(query)]

    def put_grid(self, grid: Grid) -> Grid:
        """Create or replace a grid of an existing site."""

        def put(session: Session) -> Grid:
            _check_site(session, grid.site_id)
            row = _row_to_put(session, GridRow, grid.id)
            row.site_id, row.name, row.places = grid.site_id, clean(grid.name), grid.places
            self._audit_roster(session, "grid", grid)
            session.flush()
            return grid_from_row(row)

        return _written(self._db.inserting(put))

    def list_grids(
        self, *, site_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[Grid]:
        """Return grids by id, optionally of one site (only of ``sites``, if given)."""
        query = of_sites(select(GridRow).order_by(GridRow.id), GridRow.site_id, site_id, sites)
        with self._db.reading() as session:
            return [grid_from_row(row) for row in session.scalars(query)]

    def put_responder(self, responder: Responder) -> Responder:
        """Create or replace a responder of an existing site, covering its existing grids."""

        def put(session: Session) -> Responder:
            _check_site(session, responder.site_id)
            known = set(
                session.scalars(select(GridRow.id).where(GridRow.site_id == responder.site_id))
            )
            unknown = sorted(set(responder.grid_ids) - known)
            if unknown:
                raise InvalidInputError(
                    f"grids {', '.join(unknown)} are not grids of site {responder.site_id}"
                )
            row = _row_to_put(session, ResponderRow, responder.id)
            # Taken off the site (inactive, or moved): nobody should wait for their answer to
            # a case until their acceptance deadline (a new row's fields are None: nothing).
            leaves = (row.active and not responder.active) or (
                row.site_id is not None and row.site_id != responder.site_id
            )
            if leaves:
                bring_acceptances_forward(session, responder.id, self._db.clock())
            row.site_id, row.name, row.role = (
                responder.site_id,
                clean(responder.name),
                responder.role,
            )
            row.grid_ids = responder.grid_ids
            row.shifts = [shift.model_dump(mode="json") for shift in responder.shifts]
            row.active = responder.active
            self._audit_roster(session, "responder", responder)
            session.flush()
            return responder_from_row(row)

        return self._db.inserting(put)

    def list_responders(
        self, *, site_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[Responder]:
        """Return responders by id, optionally of one site (only of ``sites``, if given)."""
        query = of_sites(
            select(ResponderRow).order_by(ResponderRow.id), ResponderRow.site_id, site_id, sites
        )
        with self._db.reading() as session:
            return [responder_from_row(row) for row in session.scalars(query)]

    def _audit_roster(self, session: Session, what: str, record: Site | Grid | Responder) -> None:
        audit(
            session,
            AuditRecord(
                ts=self._db.clock(),
                action=AuditAction.ROSTER_CHANGED,
                detail={"record": what, "id": record.id, "value": record.model_dump_json()},
            ),
        )
