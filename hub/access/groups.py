"""The repository of access schedules (shared by every site) and groups (of one site).

A change to a schedule or a group changes what its members' credentials open: each write
versions the changes for the edges concerned in the same transaction (``versions.resync``).
"""

from collections.abc import Sequence

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from devices.access import TimeWindow
from hub.access.versions import WINDOWS, lock_site, resync, rows_of_sites
from hub.access.views import GroupView, ScheduleView, group_view
from hub.errors import NotFoundError
from hub.persistence.access import AccessGroupRow, AccessMembershipRow, AccessScheduleRow
from hub.persistence.transactions import Database, get_existing


class GroupRepository:
    """Reads and writes schedules and groups."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_schedule(self, name: str, windows: Sequence[TimeWindow]) -> ScheduleView:
        """Create a named schedule."""
        with self._db.writing() as session:
            row = AccessScheduleRow(name=name, windows=[w.model_dump(mode="json") for w in windows])
            session.add(row)
            session.flush()
            return ScheduleView(id=row.id, name=row.name, windows=list(windows))

    def update_schedule(
        self, schedule_id: int, name: str, windows: Sequence[TimeWindow]
    ) -> tuple[ScheduleView, list[str]]:
        """Replace a schedule's windows; return it and the edges whose lists changed."""
        with self._db.writing() as session:
            row = get_existing(
                session, AccessScheduleRow, schedule_id, f"no schedule {schedule_id}"
            )
            row.name, row.windows = name, [w.model_dump(mode="json") for w in windows]
            session.flush()
            edges = sorted(set(session.scalars(_edges_using(schedule_id))))
            changed = [e for e in edges if resync(session, e)]
            return ScheduleView(id=row.id, name=row.name, windows=list(windows)), changed

    def list_schedules(self) -> list[ScheduleView]:
        """Return every schedule."""
        with self._db.reading() as session:
            rows = session.scalars(select(AccessScheduleRow).order_by(AccessScheduleRow.id))
            return [
                ScheduleView(id=r.id, name=r.name, windows=WINDOWS.validate_python(r.windows))
                for r in rows
            ]

    def schedule_edges(self, schedule_id: int) -> frozenset[str]:
        """Return the edges whose groups use a schedule."""
        with self._db.reading() as session:
            return frozenset(session.scalars(_edges_using(schedule_id)))

    def create_group(
        self, edge_id: str, name: str, door_ids: Sequence[str], schedule_id: int | None
    ) -> GroupView:
        """Create a group of a site."""
        with self._db.writing() as session:
            lock_site(session, edge_id)
            _check_schedule(session, schedule_id)
            row = AccessGroupRow(
                edge_id=edge_id, name=name, door_ids=sorted(set(door_ids)), schedule_id=schedule_id
            )
            session.add(row)
            session.flush()
            resync(session, edge_id)
            return group_view(row)

    def update_group(
        self, group_id: int, name: str, door_ids: Sequence[str], schedule_id: int | None
    ) -> GroupView:
        """Replace a group's name, doors and schedule."""
        with self._db.writing() as session:
            row = _group(session, group_id)
            lock_site(session, row.edge_id)
            _check_schedule(session, schedule_id)
            row.name, row.door_ids, row.schedule_id = name, sorted(set(door_ids)), schedule_id
            session.flush()
            resync(session, row.edge_id)
            return group_view(row)

    def delete_group(self, group_id: int) -> str:
        """Delete a group (its members lose what it opened); return its site's edge."""
        with self._db.writing() as session:
            row = _group(session, group_id)
            lock_site(session, row.edge_id)
            session.execute(
                delete(AccessMembershipRow).where(AccessMembershipRow.group_id == group_id)
            )
            session.delete(row)
            session.flush()
            resync(session, row.edge_id)
            return row.edge_id

    def edge_of_group(self, group_id: int) -> str:
        """Return the edge of a group's site."""
        with self._db.reading() as session:
            return _group(session, group_id).edge_id

    def list_groups(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[GroupView]:
        """Return the groups, of one site or all (only of ``edge_ids``, if given)."""
        with self._db.reading() as session:
            return [
                group_view(r) for r in rows_of_sites(session, AccessGroupRow, edge_id, edge_ids)
            ]


def _edges_using(schedule_id: int) -> Select[str]:
    return select(AccessGroupRow.edge_id).where(AccessGroupRow.schedule_id == schedule_id)


def _group(session: Session, group_id: int) -> AccessGroupRow:
    return get_existing(session, AccessGroupRow, group_id, f"no group {group_id}")


def _check_schedule(session: Session, schedule_id: int | None) -> None:
    if schedule_id is not None and session.get(AccessScheduleRow, schedule_id) is None:
        raise NotFoundError(f"no schedule {schedule_id}")
