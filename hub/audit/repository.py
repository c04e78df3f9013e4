"""Reading and verifying the stored audit trail."""

from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, func, inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.audit.anchors import Anchor, AnchorCheck, key_id, make_anchor
from hub.audit.chain import AnchorsChecked, AuditEntry, AuditRecord, ChainVerdict, ChainVerifier
from hub.audit.key import anchor_key
from hub.audit.views import AuditEntryView
from hub.errors import HubStartupError
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import AlertRow, AuditAnchorRow, AuditEntryRow, AuditHeadRow, CaseRow
from hub.persistence.transactions import AUDIT_HEAD_ID, Database, audit
from hub.roster.repository import load_site_map
from hub.settings import HubSettings


def verify_audit_chain(settings: HubSettings) -> ChainVerdict:
    """Check the audit chain of the hub database ``settings`` name, without writing to it.

    Raises ``HubStartupError`` if there is no such database or it has no audit trail yet.
    """
    url = settings.resolved_database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise HubStartupError(f"there is no hub database at {parsed.database}")
    engine = create_hub_engine(url)
    try:
        if not inspect(engine).has_table(AuditHeadRow.__tablename__):
            raise HubStartupError("the database has no audit trail: run `linli hub` on it first")
        key = anchor_key(settings, make=False)
        verdict = AuditRepository(Database(engine)).verify_audit(key=key)
        if key is None and verdict.intact:
            return replace(verdict, anchors=AnchorsChecked(checked=0, keyed=False))
        return verdict
    except SQLAlchemyError as exc:
        raise HubStartupError(f"cannot read the hub database: {exc}") from exc
    finally:
        engine.dispose()


def _audit_view(row: AuditEntryRow) -> AuditEntryView:
    if not isinstance(row.detail, dict):
        # Valid JSON of another kind (null, a list, a number): only a hand edit stores one.
        plain = {column.key: getattr(row, column.key) for column in _PLAIN_COLUMNS}
        return _marked(row.seq, row.ts, {}, "its detail is not a JSON object", plain)
    return AuditEntryView.model_validate(row, from_attributes=True)


_PLAIN_COLUMNS = (
    AuditEntryRow.action,
    AuditEntryRow.case_id,
    AuditEntryRow.alert_id,
    AuditEntryRow.actor,
    AuditEntryRow.prev_hash,
    AuditEntryRow.hash,
    AuditEntryRow.token_id,
)
"""The columns a row can always be read back from (nothing to parse)."""

_UNREAD = object()
"""A column's value that cannot be read back."""


def _salvaged(session: Session, seq: int) -> AuditEntryView:
    """Return entry ``seq``, whose row cannot be read back whole, marked unreadable, with what
    of it can be read (SQLite keeps any text in a column: a ``ts`` or ``detail`` edited into
    what its type cannot parse)."""
    ts = _readable(session, AuditEntryRow.ts, seq)
    detail = _readable(session, AuditEntryRow.detail, seq)
    edited = [name for name, value in (("ts", ts), ("detail", detail)) if value is _UNREAD]
    if detail is not _UNREAD and not isinstance(detail, dict):
        edited.append("detail")
    plain = session.execute(select(*_PLAIN_COLUMNS).where(AuditEntryRow.seq == seq)).one()
    return _marked(
        seq,
        ts if isinstance(ts, datetime) else None,
        detail if isinstance(detail, dict) else {},
        f"its {' and '.join(edited) or 'content'} cannot be read",
        plain._asdict(),
    )


def _readable(session: Session, column: Any, seq: int) -> object:
    """Return entry ``seq``'s value of ``column``, or ``_UNREAD`` if it cannot be parsed."""
    try:
        return session.scalar(select(column).where(AuditEntryRow.seq == seq))
    except _UNREADABLE:
        return _UNREAD


def _marked(
    seq: int, ts: datetime | None, detail: dict[str, Any], why: str, plain: Mapping[str, Any]
) -> AuditEntryView:
    """Return an entry that cannot be shown as it was recorded, saying why."""
    return AuditEntryView(
        seq=seq, ts=ts, detail=detail, unreadable=f"{why}: it was edited", **plain
    )


def _audit_entry(row: AuditEntryRow) -> AuditEntry:
    # The row has a column of each of the entry's fields, of the same name.
    return AuditEntry(**{f.name: getattr(row, f.name) for f in fields(AuditEntry)})


class AuditRepository:
    """Reads the audit trail and checks its chain."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list_audit(
        self, *, after_seq: int = 0, limit: int = 100, sites: frozenset[str] | None = None
    ) -> list[AuditEntryView]:
        """Return audit entries after ``after_seq``, oldest first (page on the last seq).

        With ``sites``, only the entries about those sites' records: an entry with a case
        belongs to the case's site, else one with an alert to the alert's device's site;
        entries about neither (accounts, sign-ins, the roster, silences) are left out. The
        filter is in the query, so a page still holds up to ``limit`` entries.
        """
        query = (
            select(AuditEntryRow)
            .where(AuditEntryRow.seq > after_seq)
            .order_by(AuditEntryRow.seq)
            .limit(limit)
        )
        with self._db.reading() as session:
            if sites is not None:
                placed = load_site_map(session).device_sites()
                devices = sorted(d for d, site in placed.items() if site in sites)
                of_case = AuditEntryRow.case_id.in_(
                    select(CaseRow.id).where(CaseRow.site_id.in_(sorted(sites)))
                )
                of_alert = and_(
                    AuditEntryRow.case_id.is_(None),
                    AuditEntryRow.alert_id.in_(
                        select(AlertRow.id).where(AlertRow.device_id.in_(devices))
                    ),
                )
                query = query.where(or_(of_case, of_alert))
            try:
                return [_audit_view(row) for row in session.scalars(query)]
            except _UNREADABLE:
                pass
            # One by one, to show the others: only a row someone edited by hand gets here.
            return [
                _salvaged(session, seq) if row is None else _audit_view(row)
                for seq, row in _row_by_row(session, query)
            ]

    def append(self, record: AuditRecord) -> None:
        """Append one record of a person's action to the trail, in its own transaction."""
        with self._db.writing() as session:
            audit(session, record)

    def anchor(self, key: bytes, now: datetime) -> bool:
        """Sign the chain's head with ``key`` (``hub.audit.anchors``) if it moved since that
        key's last anchor; return whether an anchor was written."""
        with self._db.writing() as session:
            head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
            last = session.scalar(
                select(func.max(AuditAnchorRow.seq)).where(AuditAnchorRow.key_id == key_id(key))
            )
            if head.seq == 0 or (last is not None and last >= head.seq):
                return False
            anchor = make_anchor(key, head.seq, head.hash, now)
            session.add(
                AuditAnchorRow(
                    seq=anchor.seq,
                    hash=anchor.hash,
                    ts=anchor.ts,
                    key_id=anchor.key_id,
                    mac=anchor.mac,
                )
            )
            return True

    def verify_audit(self, *, key: bytes | None = None, page_size: int = 5000) -> ChainVerdict:
        """Check the whole audit chain and name its first broken link, if any; with the
        anchor ``key``, also against the anchors that key signed (``hub.audit.anchors``)."""
        verifier = ChainVerifier()
        engine = self._db.engine
        if self._db.dialect == "postgresql":
            # One snapshot for the head and every page, while other workers keep appending.
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with Session(engine) as session, session.begin():
            head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
            head_seq, head_hash = head.seq, head.hash
            anchors = None if key is None else AnchorCheck(key)
            others: int | None = 0
            after = 0
            while True:
                page = _page(session, after, page_size, verifier)
                if not page:
                    break
                if anchors is not None:
                    anchors.add(_anchors(session, anchors.key_id, after, page[-1].seq))
                if not _fed(verifier, anchors, page):
                    break
                after = page[-1].seq
            if anchors is not None and anchors.found is None:
                anchors.finish(head_seq, _anchors(session, anchors.key_id, head_seq, None))
                others = session.scalar(
                    select(func.count())
                    .select_from(AuditAnchorRow)
                    .where(AuditAnchorRow.key_id != anchors.key_id)
                )
        if anchors is not None and anchors.found is not None:
            found = anchors.found
            return ChainVerdict(False, verifier.checked, found.seq, found.reason)
        verdict = verifier.finish(head_seq, head_hash)
        if anchors is None or not verdict.intact:
            return verdict
        latest = anchors.latest
        return replace(
            verdict,
            anchors=AnchorsChecked(
                checked=anchors.checked,
                latest_seq=None if latest is None else latest.seq,
                latest_at=None if latest is None else latest.ts,
                other_keys=others or 0,
            ),
        )


def _anchors(session: Session, kid: str, after: int, upto: int | None) -> list[Anchor]:
    """Return the anchors of key ``kid`` of the entries after ``after`` (up to ``upto``)."""
    query = select(AuditAnchorRow).where(AuditAnchorRow.key_id == kid, AuditAnchorRow.seq > after)
    if upto is not None:
        query = query.where(AuditAnchorRow.seq <= upto)
    rows = session.scalars(query.order_by(AuditAnchorRow.seq))
    return [Anchor(r.seq, r.hash, r.ts, r.key_id, r.mac) for r in rows]


def _fed(verifier: ChainVerifier, anchors: AnchorCheck | None, page: list[AuditEntryRow]) -> bool:
    """Check a page of entries against the chain, then each against its anchors; return
    False at the first break of either."""
    if anchors is None:
        return verifier.feed(_audit_entry(row) for row in page)
    for row in page:
        entry = _audit_entry(row)
        if not verifier.feed((entry,)) or not anchors.entry(entry.seq, entry.hash):
            return False
    return True


_UNREADABLE = (ValueError, TypeError)
"""What reading a row raises when a column holds what its type cannot parse (a
``json.JSONDecodeError`` or a bad time is a ``ValueError``)."""


def _page(session: Session, after: int, size: int, verifier: ChainVerifier) -> list[AuditEntryRow]:
    """Return the chain's next ``size`` rows after ``after``; those before the first one
    that cannot be read back, which ``verifier`` is told of (found by an outside review: a
    ``ts`` or ``detail`` edited into text its type cannot parse crashed the check)."""
    query = (
        select(AuditEntryRow)
        .where(AuditEntryRow.seq > after)
        .order_by(AuditEntryRow.seq)
        .limit(size)
    )
    try:
        return list(session.scalars(query))
    except _UNREADABLE:
        pass
    # One by one, to name the entry: only a chain someone edited by hand gets here.
    readable: list[AuditEntryRow] = []
    for seq, row in _row_by_row(session, query):
        if row is None:
            verifier.feed(_audit_entry(row) for row in readable)
            verifier.unreadable(seq)
            return []
        readable.append(row)
    return readable


def _row_by_row(
    session: Session, query: Select[AuditEntryRow]
) -> Iterator[tuple[int, AuditEntryRow | None]]:
    """The rows ``query`` selects, read one at a time: each with its ``seq``, None for one
    that cannot be read back (a column edited into what its type cannot parse)."""
    for seq in session.scalars(query.with_only_columns(AuditEntryRow.seq)).all():
        try:
            yield seq, session.scalars(query.where(AuditEntryRow.seq == seq)).one()
        except _UNREADABLE:
            yield seq, None
