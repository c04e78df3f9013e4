"""The repository of the access log: the records edges send, stored once each, and queried."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.access import AccessRecord
from hub.access.views import AccessEventView, event_view
from hub.persistence.access import AccessDoorRow, AccessEventRow, AccessPersonRow
from hub.persistence.transactions import Database, of_sites, upsert_insert


class LogIngest(NamedTuple):
    """What became of a batch of access log records."""

    new: int
    """How many were stored (the others were stored before, or refused)."""
    foreign: tuple[str, ...]
    """The ids of the records refused: they name another site's door or person."""


def foreign_records(
    records: Sequence[AccessRecord],
    door_sites: Mapping[str, str],
    person_sites: Mapping[int, str],
) -> set[str]:
    """The records an edge may not write: about a door or a person the hub knows to be of
    another edge's site. A door or person the hub does not know (deleted since) is the edge's
    word."""
    return {
        r.id
        for r in records
        if door_sites.get(r.door_id, r.edge_id) != r.edge_id
        or (r.person_id is not None and person_sites.get(r.person_id, r.edge_id) != r.edge_id)
    }


class AccessLogRepository:
    """Stores and reads access log records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ingest_log(self, records: Sequence[AccessRecord], received_at: datetime) -> LogIngest:
        """Store access log records once each (by id), but none about another site's door or
        person (a stolen edge writing entries into a neighbour's log)."""
        if not records:
            return LogIngest(0, ())
        with self._db.writing() as session:
            foreign = foreign_records(records, *_sites_named(session, records))
            rows = _rows((r for r in records if r.id not in foreign), received_at)
            if not rows:
                return LogIngest(0, tuple(sorted(foreign)))
            result = session.execute(
                upsert_insert(session, AccessEventRow)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(AccessEventRow.id),
                rows,
            )
            return LogIngest(len(result.all()), tuple(sorted(foreign)))

    def query_log(
        self,
        *,
        door_id: str | None = None,
        person_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        edge_ids: frozenset[str] | None = None,
    ) -> list[AccessEventView]:
        """Return access log records, newest first, filtered by door, person, time range
        (and only of ``edge_ids``, if given)."""
        query = of_sites(select(AccessEventRow), AccessEventRow.edge_id, sites=edge_ids)
        if door_id is not None:
            query = query.where(AccessEventRow.door_id == door_id)
        if person_id is not None:
            query = query.where(AccessEventRow.person_id == person_id)
        if since is not None:
            query = query.where(AccessEventRow.ts >= since)
        if until is not None:
            query = query.where(AccessEventRow.ts < until)
        query = query.order_by(AccessEventRow.ts.desc(), AccessEventRow.id).limit(limit)
        with self._db.reading() as session:
            return [event_view(r) for r in session.scalars(query)]


def _sites_named(
    session: Session, records: Sequence[AccessRecord]
) -> tuple[dict[str, str], dict[int, str]]:
    """The sites of the doors and people the records name, as far as the hub knows them."""
    door_ids = {r.door_id for r in records}
    person_ids = {r.person_id for r in records if r.person_id is not None}
    doors = session.execute(
        select(AccessDoorRow.id, AccessDoorRow.edge_id).where(AccessDoorRow.id.in_(door_ids))
    )
    people = (
        session.execute(
            select(AccessPersonRow.id, AccessPersonRow.edge_id).where(
                AccessPersonRow.id.in_(person_ids)
            )
        )
        if person_ids
        else ()
    )
    return {d: e for d, e in doors}, {p: e for p, e in people}


def _rows(records: Iterable[AccessRecord], received_at: datetime) -> list[dict[str, object]]:
    return [
        {
            "id": r.id,
            "edge_id": r.edge_id,
            "door_id": r.door_id,
            "kind": r.kind.value,
            "ts": r.ts,
            "reader_id": r.reader_id,
            "credential_id": r.credential_id,
            "person_id": r.person_id,
            "reason": r.reason,
            "fingerprint": r.fingerprint,
            "received_at": received_at,
        }
        for r in {r.id: r for r in records}.values()
    ]
