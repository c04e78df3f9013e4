"""The repository of door access sites and their doors; each public method is one transaction."""

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.access import DoorConfig
from devices.timezone import check_timezone
from hub.access.rules import passback_problem, reader_taken
from hub.access.versions import lock_site, resync, rows_of_sites
from hub.access.views import DoorView, SiteView, site_view
from hub.errors import InvalidInputError
from hub.persistence.access import AccessDoorRow, AccessSiteRow
from hub.persistence.transactions import Database, get_existing, of_sites


class SiteRepository:
    """Reads and writes sites' door access settings and their doors."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_site(self, edge_id: str, name: str, timezone: str) -> SiteView:
        """Create a site's door access, with a fresh random hash key."""
        timezone = _valid_timezone(timezone)
        now = self._db.clock()

        def create(session: Session) -> SiteView:
            if session.get(AccessSiteRow, edge_id) is not None:
                raise InvalidInputError(f"site {edge_id} already exists")
            row = AccessSiteRow(
                edge_id=edge_id,
                name=name,
                timezone=timezone,
                hash_key=secrets.token_hex(32),
                version=0,
                created_at=now,
            )
            session.add(row)
            session.flush()
            resync(session, edge_id)
            return site_view(row)

        return self._db.inserting(create)

    def update_site(self, edge_id: str, name: str, timezone: str) -> SiteView:
        """Change a site's name and time zone."""
        timezone = _valid_timezone(timezone)
        with self._db.writing() as session:
            row = lock_site(session, edge_id)
            row.name, row.timezone = name, timezone
            resync(session, edge_id)
            return site_view(row)

    def list_sites(self, *, edge_ids: frozenset[str] | None = None) -> list[SiteView]:
        """Return every site with door access (only of ``edge_ids``, if given)."""
        query = of_sites(
            select(AccessSiteRow).order_by(AccessSiteRow.edge_id),
            AccessSiteRow.edge_id,
            sites=edge_ids,
        )
        with self._db.reading() as session:
            return [site_view(r) for r in session.scalars(query)]

    def put_door(self, edge_id: str, door: DoorConfig) -> tuple[DoorView, bool]:
        """Create or replace a door of a site; return it and whether it was created."""
        return self._db.inserting(lambda session: self._put_door(session, edge_id, door))

    @staticmethod
    def _put_door(session: Session, edge_id: str, door: DoorConfig) -> tuple[DoorView, bool]:
        lock_site(session, edge_id)
        problem = passback_problem(door)
        if problem is not None:
            raise InvalidInputError(problem)
        row = session.get(AccessDoorRow, door.id)
        created = row is None
        if row is None:
            row = AccessDoorRow(id=door.id, edge_id=edge_id, config={})
            session.add(row)
        elif row.edge_id != edge_id:
            raise InvalidInputError(f"door {door.id} belongs to site {row.edge_id}")
        others = session.scalars(
            select(AccessDoorRow).where(
                AccessDoorRow.edge_id == edge_id, AccessDoorRow.id != door.id
            )
        )
        taken_by = reader_taken(door, (DoorConfig.model_validate(o.config) for o in others))
        if taken_by is not None:
            raise InvalidInputError(f"a reader of door {door.id} belongs to {taken_by}")
        row.config = door.model_dump(mode="json")
        session.flush()
        resync(session, edge_id)
        return DoorView(edge_id=edge_id, door=door), created

    def delete_door(self, door_id: str) -> None:
        """Delete a door (groups keep its id, which then opens nothing)."""
        with self._db.writing() as session:
            row = get_existing(session, AccessDoorRow, door_id, f"no door {door_id}")
            edge_id = row.edge_id
            lock_site(session, edge_id)
            session.delete(row)
            session.flush()
            resync(session, edge_id)

    def list_doors(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[DoorView]:
        """Return the doors, of one site or all (only of ``edge_ids``, if given)."""
        with self._db.reading() as session:
            return [
                DoorView(edge_id=r.edge_id, door=DoorConfig.model_validate(r.config))
                for r in rows_of_sites(session, AccessDoorRow, edge_id, edge_ids)
            ]

    def edge_of_door(self, door_id: str) -> str:
        """Return the edge of a door's site."""
        with self._db.reading() as session:
            row = get_existing(session, AccessDoorRow, door_id, f"no door {door_id}")
            return row.edge_id


def _valid_timezone(name: str) -> str:
    try:
        return check_timezone(name)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
