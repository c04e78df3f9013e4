"""The repository of the access log: the records edges send, stored once each, and queried.

An edge sends a record until the hub acknowledges it, so the hub stores each id once. But an
id alone does not make a copy: a door event's id is derived from the edge, the door and the
door's count of logged events (so that a step replayed after a crash repeats its ids), and an
edge installed afresh under the same identity (a new SD card) counts from 1 again. Its new
door events carried old ids and were dropped as copies, a busy gate's for weeks, break-ins
included (found by an outside review). So a stored id is a copy only if the stored record is
the same record (``RecordIdentity``: edge, door, kind, time); another record under that id is
stored under an id derived from what it is (``conflict_id``), where a copy of it, sent again,
is found. The edge is acknowledged under the ids it sent (``hub.access.link``).
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
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


_NAMESPACE = uuid.UUID("9b1e6f0a-2c47-4d8e-b3a5-71c0d2e4f816")
"""Namespace of the ids of records whose own id was another record's."""


class RecordIdentity(NamedTuple):
    """What makes a stored record the record it is (two copies of one agree on all)."""

    edge_id: str
    door_id: str
    kind: str
    ts: datetime

    @classmethod
    def of(cls, record: AccessRecord) -> "RecordIdentity":
        """Return what an incoming record would be, stored."""
        return cls(record.edge_id, record.door_id, record.kind.value, record.ts.astimezone(UTC))


def conflict_id(record: AccessRecord) -> str:
    """Return the id a record is stored under when its own is another record's."""
    edge_id, door_id, kind, ts = RecordIdentity.of(record)
    name = "\x1f".join((edge_id, record.id, door_id, kind, ts.isoformat()))
    return uuid.uuid5(_NAMESPACE, name).hex


def new_records(
    records: Iterable[AccessRecord], stored: Mapping[str, RecordIdentity]
) -> list[AccessRecord]:
    """Return the records to store, each under the id it is stored under (pure).

    ``stored``: the stored records among the records' ids and their conflict ids. A copy of a
    stored record (or of one earlier in ``records``) is left out; another record under an id
    taken is kept under its ``conflict_id``.
    """
    taken = dict(stored)
    fresh: list[AccessRecord] = []
    for record in records:
        this = RecordIdentity.of(record)
        key = record.id
        if taken.get(key, this) != this:
            key = conflict_id(record)  # the id is another record's
        if key in taken:
            continue  # a copy (an identity under a conflict id is the same by construction)
        taken[key] = this
        fresh.append(record if key == record.id else record.model_copy(update={"id": key}))
    return fresh


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
            mine = [r for r in records if r.id not in foreign]
            rows = _rows(new_records(mine, _stored(session, mine)), received_at)
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


def _stored(session: Session, records: Sequence[AccessRecord]) -> dict[str, RecordIdentity]:
    """Read what the stored records under the records' ids, and their conflict ids, are."""
    if not records:
        return {}
    ids = {r.id for r in records} | {conflict_id(r) for r in records}
    rows = session.execute(
        select(
            AccessEventRow.id,
            AccessEventRow.edge_id,
            AccessEventRow.door_id,
            AccessEventRow.kind,
            AccessEventRow.ts,
        ).where(AccessEventRow.id.in_(ids))
    ).all()
    return {
        row_id: RecordIdentity(edge_id, door_id, kind, ts.astimezone(UTC))
        for row_id, edge_id, door_id, kind, ts in rows
    }


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
