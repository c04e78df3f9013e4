"""Reading and verifying the stored audit trail."""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields, replace
from datetime import datetime
from itertools import chain as chain_of
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, func, inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.audit.anchors import (
    Anchor,
    AnchorCheck,
    AnchorRefusedError,
    key_id,
    make_anchor,
    witness_refusal,
)
from hub.audit.case_reading import UNREADABLE as CASE_UNREADABLE
from hub.audit.case_reading import case_row_findings, unreadable_cases
from hub.audit.chain import AnchorsChecked, AuditEntry, AuditRecord, ChainVerdict, ChainVerifier
from hub.audit.key import anchor_key
from hub.audit.records import (
    ALERTS,
    EVENTS,
    RecordCheck,
    RecordKey,
    alert_key,
    entry_record,
    event_key,
)
from hub.audit.views import AuditEntryView
from hub.audit.witness import WitnessUnreadableError, read_witness
from hub.errors import HubStartupError
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import (
    AlertRow,
    AuditAnchorRow,
    AuditEntryRow,
    AuditHeadRow,
    CaseEventRow,
    CaseRow,
)
from hub.persistence.transactions import AUDIT_HEAD_ID, Database, audit
from hub.roster.repository import load_site_map
from hub.settings import HubSettings


def verify_audit_chain(settings: HubSettings, *, cases_from: int = 0) -> ChainVerdict:
    """Check the audit chain of the hub database ``settings`` name, without writing to it
    (case rows from case ``cases_from`` on: ``AuditRepository.verify_audit``).

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
        witness = None if key is None else read_witness(settings.data_dir, key)
        verdict = AuditRepository(Database(engine)).verify_audit(
            key=key, witness=witness, cases_from=cases_from
        )
        if key is None and verdict.intact:
            return replace(verdict, anchors=AnchorsChecked(checked=0, keyed=False))
        return verdict
    except SQLAlchemyError as exc:
        raise HubStartupError(f"cannot read the hub database: {exc}") from exc
    except WitnessUnreadableError as exc:
        raise HubStartupError(f"cannot read the audit anchor witness: {exc}") from exc
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

    def anchor(self, key: bytes, now: datetime, *, witness: Anchor | None = None) -> Anchor | None:
        """Sign the chain's head with ``key`` (``hub.audit.anchors``) if it moved since that
        key's last anchor; return the anchor written, None if none was.

        With the ``witness`` (the anchor this hub wrote last, ``hub.audit.witness``), raise
        ``AnchorRefusedError`` if the chain no longer holds its entry or the database its
        anchor: the head of a chain rewritten behind the hub is not signed.
        """
        with self._db.writing() as session:
            head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
            if witness is not None:
                refusal = _refusal(session, witness, head.seq)
                if refusal is not None:
                    raise AnchorRefusedError(refusal)
            last = session.scalar(
                select(func.max(AuditAnchorRow.seq)).where(AuditAnchorRow.key_id == key_id(key))
            )
            if head.seq == 0 or (last is not None and last >= head.seq):
                return None
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
            return anchor

    def verify_audit(
        self,
        *,
        key: bytes | None = None,
        witness: Anchor | None = None,
        page_size: int = 5000,
        cases_from: int = 0,
    ) -> ChainVerdict:
        """Check the whole audit chain and name its first broken link, if any; with the
        anchor ``key``, also against the anchors that key signed (``hub.audit.anchors``) and
        the ``witness``, the anchor this hub wrote last (``hub.audit.witness``: read it
        before, so that the database read holds its anchor); then the alerts and history
        lines against the entries that recorded them (``hub.audit.records``), and each
        case's row against its history in the trail (``hub.audit.case_rows``)."""
        verifier = ChainVerifier()
        engine = self._db.engine
        if self._db.dialect == "postgresql":
            # One snapshot for the head and every page, while other workers keep appending.
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with Session(engine) as session, session.begin():
            head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
            head_seq, head_hash = head.seq, head.hash
            anchors = None if key is None else AnchorCheck(key, witness)
            records = RecordCheck()
            others: int | None = 0
            after = 0
            while anchors is None or anchors.found is None:
                page = _page(session, after, page_size, verifier)
                if not page:
                    break
                if anchors is not None:
                    anchors.add(_anchors(session, anchors.key_id, after, page[-1].seq))
                if not _fed(verifier, anchors, page):
                    break
                entries = [_audit_entry(row) for row in page]
                if not records.page(entries, _records(session, entries)):
                    break
                after = page[-1].seq
            stored = _stored(session) if records.found is None else None
            cases = None
            held = verifier.verdict is None and (anchors is None or anchors.found is None)
            if held and stored is not None:
                cases = _case_rows(session, cases_from)
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
        if records.found is not None:
            # The chain held up to there: the break is in a record it vouches for.
            return ChainVerdict(False, verifier.checked, records.found.seq, records.found.reason)
        verdict = verifier.finish(head_seq, head_hash)
        if verdict.intact and stored is not None and records.finish(stored) is not None:
            # Counted only on an intact chain: entries cut from it are named as such first.
            assert records.found is not None
            return ChainVerdict(False, verifier.checked, records.found.seq, records.found.reason)
        if verdict.intact and cases is not None and cases[0]:
            # The chain and its records hold: the break is in a case's own row.
            listed, count = cases
            return ChainVerdict(
                False,
                verifier.checked,
                None,
                f"{count} case field(s) part from the cases' history in the trail"
                " (edited, added or deleted behind it)",
                findings=listed,
            )
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


MAX_FINDINGS = 100
"""The case findings a verdict lists; it counts them all."""


def _case_rows(session: Session, cases_from: int = 0) -> tuple[tuple[str, ...], int]:
    """Return the first ``MAX_FINDINGS`` case findings (``hub.audit.case_reading``) of the
    cases from ``cases_from`` on, and how many there are; a row that cannot be read back is
    one, and the others are still checked."""
    try:
        return _counted(case_row_findings(session, from_case=cases_from))
    except CASE_UNREADABLE:
        pass
    broken = unreadable_cases(session)
    named = (
        f"case {case_id}: its row cannot be read back (a column edited into what its type"
        " cannot hold)"
        for case_id in sorted(broken)
        if case_id >= cases_from
    )
    return _counted(chain_of(named, case_row_findings(session, broken, cases_from)))


def _counted(findings: Iterable[str]) -> tuple[tuple[str, ...], int]:
    found: list[str] = []
    count = 0
    for finding in findings:
        count += 1
        if len(found) < MAX_FINDINGS:
            found.append(finding)
    return tuple(found), count


def _refusal(session: Session, witness: Anchor, head_seq: int) -> str | None:
    """Return why the head must not be signed, given the anchor this hub wrote last."""
    entry_hash = session.scalar(select(AuditEntryRow.hash).where(AuditEntryRow.seq == witness.seq))
    kept = session.scalar(
        select(func.count())
        .select_from(AuditAnchorRow)
        .where(
            AuditAnchorRow.key_id == witness.key_id,
            AuditAnchorRow.seq == witness.seq,
            AuditAnchorRow.mac == witness.mac,
        )
    )
    return witness_refusal(witness, head_seq, entry_hash, anchor_kept=bool(kept))


def _anchors(session: Session, kid: str, after: int, upto: int | None) -> list[Anchor]:
    """Return the anchors of key ``kid`` of the entries after ``after`` (up to ``upto``)."""
    query = select(AuditAnchorRow).where(AuditAnchorRow.key_id == kid, AuditAnchorRow.seq > after)
    if upto is not None:
        query = query.where(AuditAnchorRow.seq <= upto)
    rows = session.scalars(query.order_by(AuditAnchorRow.seq))
    return [Anchor(r.seq, r.hash, r.ts, r.key_id, r.mac) for r in rows]


def _records(session: Session, entries: list[AuditEntry]) -> dict[str, list[RecordKey]]:
    """Return the keys of the rows that could be the records of ``entries`` (by table): the
    alerts they name, the history lines of their cases in the time they span."""
    alert_ids: set[str] = set()
    case_ids: set[int] = set()
    times: list[datetime] = []
    for entry in entries:
        record = entry_record(entry)
        if record is None:
            continue
        if record[0] == ALERTS and entry.alert_id is not None:
            alert_ids.add(entry.alert_id)
        elif entry.case_id is not None:
            case_ids.add(entry.case_id)
            times.append(entry.ts)
    rows: dict[str, list[RecordKey]] = {ALERTS: [], EVENTS: []}
    if alert_ids:
        alerts = session.execute(select(*_ALERT_COLUMNS).where(AlertRow.id.in_(sorted(alert_ids))))
        rows[ALERTS] = [alert_key(*row) for row in alerts]
    if case_ids:
        lines = session.execute(
            select(*_EVENT_COLUMNS).where(
                CaseEventRow.case_id.in_(sorted(case_ids)),
                CaseEventRow.ts.between(min(times), max(times)),
            )
        )
        rows[EVENTS] = [event_key(*row) for row in lines]
    return rows


_ALERT_COLUMNS = (
    AlertRow.id,
    AlertRow.received_at,
    AlertRow.edge_id,
    AlertRow.device_id,
    AlertRow.kind,
    AlertRow.state,
    AlertRow.severity,
    AlertRow.ts,
)
_EVENT_COLUMNS = (
    CaseEventRow.case_id,
    CaseEventRow.ts,
    CaseEventRow.action,
    CaseEventRow.actor,
    CaseEventRow.alert_id,
    CaseEventRow.note,
)
"""What the trail records of an alert and of a history line (``hub.audit.records``)."""


def _stored(session: Session) -> dict[str, int]:
    """Return how many alerts and history lines the database holds."""
    return {
        table: session.scalar(select(func.count()).select_from(model)) or 0
        for table, model in ((ALERTS, AlertRow), (EVENTS, CaseEventRow))
    }


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
