"""The repository of the access log: the records edges send, stored once each, and queried."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from devices.access import AccessRecord
from hub.access.views import AccessEventView, event_view
from hub.persistence.access import AccessEventRow
from hub.persistence.transactions import Database, of_sites, upsert_insert


class AccessLogRepository:
    """Stores and reads access log records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ingest_log(self, records: Sequence[AccessRecord], received_at: datetime) -> int:
        """Store access log records once each (by id); return how many were new."""
        if not records:
            return 0
        rows = [
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
        with self._db.writing() as session:
            result = session.execute(
                upsert_insert(session, AccessEventRow)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(AccessEventRow.id),
                rows,
            )
            return len(result.all())

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
