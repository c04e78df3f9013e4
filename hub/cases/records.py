"""Case rows and what is read and written with them: views, team, members, history."""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, event, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.identity import IdentityMap
from sqlalchemy.orm.util import identity_key

from devices.kinds import Severity
from devices.messages import Alert, AlertReason
from hub.audit.chain import AuditRecord
from hub.cases.correlation import DEFAULT_RULES, CorrelationRules
from hub.cases.dispatch import Team, pending, team_of
from hub.cases.notices import enqueue_notices
from hub.cases.notify import NOTIFIED_EVENTS, Channel
from hub.cases.pages_failing import CaseNow, failing_pages, notice_facts
from hub.cases.rules import (
    ACTIVE,
    CaseEventAction,
    CaseStatus,
    OpenCaseState,
    ResolvedCaseState,
    allowed_actions,
)
from hub.cases.supervision import DEFAULT_POLICY, SupervisionPolicy
from hub.cases.views import (
    AlertView,
    CaseEventView,
    CaseMemberView,
    CaseView,
    PageFailingView,
)
from hub.persistence.bulk import Row, insert_rows, insert_rows_later, update_rows_later
from hub.persistence.tables import (
    ID_LENGTH,
    AlertRow,
    CaseEventRow,
    CaseMemberRow,
    CaseRow,
    DeviceRow,
)
from hub.persistence.transactions import audit, clean, clean_or_none

DEFAULT_REOPEN_WITHIN = timedelta(minutes=30)
"""A problem that comes back this soon after its case was resolved reopens that case."""


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """How a hub handles cases: correlation, reopening, supervision and notice targets."""

    rules: CorrelationRules = DEFAULT_RULES
    reopen_within: timedelta = DEFAULT_REOPEN_WITHIN
    supervision: SupervisionPolicy = DEFAULT_POLICY
    notify: tuple[tuple[Channel, str], ...] = ()


def open_state(row: CaseRow | None) -> OpenCaseState | None:
    """Return the state the case decision needs of an active case row."""
    if row is None:
        return None
    return OpenCaseState(
        priority=Severity(row.priority),
        alert_count=row.alert_count,
        last_alert_at=row.last_alert_at,
    )


def resolved_state(row: CaseRow | None) -> ResolvedCaseState | None:
    """Return the state the case decision needs of a resolved case row."""
    if row is None or row.resolved_at is None:
        return None
    return ResolvedCaseState(
        priority=Severity(row.priority),
        alert_count=row.alert_count,
        last_alert_at=row.last_alert_at,
        resolved_at=row.resolved_at,
    )


def alert_view(row: AlertRow) -> AlertView:
    """Return what the API shows of a stored alert."""
    return AlertView.model_validate(
        {
            "id": row.id,
            "edge_id": row.edge_id,
            "device_id": row.device_id,
            "kind": row.kind,
            "state": row.state,
            "severity": row.severity,
            "ts": row.ts,
            "detected_at": row.detected_at,
            "received_at": row.received_at,
            "case_id": row.case_id,
            "location": row.location,
            "reason": AlertReason.model_validate(row.reason),
            "silence_id": row.silence_id,
        }
    )


def alert_view_of(alert: Alert, row: Mapping[str, Any]) -> AlertView:
    """Return what the API shows of an alert the ingest just stored as ``row`` (``alert_view``
    without reading the row back).

    Built without validating again: every value comes from the ``Alert`` (validated when it
    was read off the wire) or from the row made of it (a tenth of a take's time went to
    validating the views again). ``tests/hub/test_intake_views.py`` checks that it equals the
    validated view, field for field.
    """
    return AlertView.model_construct(
        id=alert.id,
        edge_id=alert.edge_id,
        device_id=alert.device_id,
        kind=alert.kind,
        state=alert.state,
        severity=alert.severity,
        ts=alert.ts.astimezone(UTC),
        detected_at=alert.detected_at.astimezone(UTC),
        received_at=row["received_at"].astimezone(UTC),
        case_id=row["case_id"],
        location=row["location"],
        reason=alert.reason,
        silence_id=row.get("silence_id"),
    )


@event.listens_for(Session, "before_flush")
def _raise_case_versions(session: Session, _context: object, _instances: object) -> None:
    """Raise the version of every case a flush is about to change (``CaseRow.version``)."""
    for row in session.dirty:
        if isinstance(row, CaseRow) and session.is_modified(row):
            row.version += 1


def case_version(row: CaseRow) -> int:
    """Return the case's version once what was changed in it is written: a view made before
    the flush (or the commit) that raises it already shows the version it will have."""
    if row.version is None:  # a new case, not inserted yet
        return 1
    state = instance_state(row)
    session = state.session
    pending = state.modified and session is not None and session.is_modified(row)
    return row.version + 1 if pending else row.version


def case_view(row: CaseRow, location: str | None, members: Sequence[CaseMemberRow]) -> CaseView:
    """Return what the API shows of a case, with its members and team."""
    team = team_of(row.team)
    by_time = sorted(members, key=lambda m: (m.first_alert_at, m.device_id, m.kind))
    device_ids = list(dict.fromkeys(m.device_id for m in by_time)) or [row.device_id]
    kinds = list(dict.fromkeys(m.kind for m in by_time)) or [row.kind]
    return CaseView.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "kind": row.kind,
            "priority": row.priority,
            "opened_at": row.opened_at,
            "updated_at": row.updated_at,
            "last_alert_at": row.last_alert_at,
            "alert_count": row.alert_count,
            "device_ids": device_ids,
            "location": location,
            "category": row.category,
            "rule": row.rule,
            "place": row.place,
            "kinds": kinds,
            "members": [CaseMemberView.model_validate(m, from_attributes=True) for m in by_time],
            "assignee": row.assignee,
            "team": [
                {"duty": a.duty, "responder": a.responder, "accepted": a.accepted} for a in team
            ],
            "resolution": row.resolution,
            "resolved_at": row.resolved_at,
            "acknowledged_at": row.acknowledged_at,
            "escalation_level": row.escalation_level,
            "site_id": row.site_id,
            "grid_id": row.grid_id,
            "merged_into": row.merged_into,
            "version": case_version(row),
            "pages_failing": _pages_failing(row, team),
            "actions": allowed_actions(
                CaseStatus(row.status),
                waiting=bool(pending(team)),
                acknowledged=row.acknowledged_at is not None,
            ),
        }
    )


def event_view(row: CaseEventRow) -> CaseEventView:
    """Return what the API shows of a line of a case's history."""
    return CaseEventView.model_validate(row, from_attributes=True)


def store_team(row: CaseRow, team: Team) -> None:
    """Store a case's team; its lead member (first duty) is the case's ``assignee``."""
    row.team = [a.to_json() for a in team]
    row.assignee = team[0].responder if team else None


_MEMBERS_OF = select(CaseMemberRow).where(
    CaseMemberRow.case_id.in_(bindparam("case_ids", expanding=True))
)
"""The member rows of the cases given (built once, the ids bound at each run)."""


def members(session: Session, case_ids: Iterable[int]) -> dict[int, list[CaseMemberRow]]:
    """Return the member rows of each case, by case id.

    What is read for views of the cases (every API read, action and supervisor round of a
    case goes through here, the alert intake does not): their pages' facts too, kept with the
    session for ``case_view``'s ``pages_failing`` (two queries for all the cases)."""
    wanted = set(case_ids)
    members: dict[int, list[CaseMemberRow]] = {case_id: [] for case_id in wanted}
    if wanted:
        for member in session.scalars(_MEMBERS_OF, {"case_ids": sorted(wanted)}):
            members[member.case_id].append(member)
        session.info.setdefault(_PAGES, {}).update(notice_facts(session, wanted))
    return members


_PAGES = "linli.case_pages"
"""``Session.info``'s key of the pages' facts ``members`` read, by case id."""


def _pages_failing(row: CaseRow, team: Team) -> list[PageFailingView] | None:
    """Return the case's pages failing now, or None if its pages were not read with it (the
    alert intake's views: it does not read them, it is the hot path)."""
    session = object_session(row)
    facts = None if session is None else session.info.get(_PAGES, {}).get(row.id)
    if facts is None:
        return None
    now = CaseNow(
        active=CaseStatus(row.status) in ACTIVE and row.merged_into is None,
        acknowledged=row.acknowledged_at is not None,
        accepted=any(a.accepted for a in team),
    )
    return failing_pages(facts, now)


def cases_query() -> Select[CaseRow, str]:
    """Return the query of cases with their first device's location."""
    return select(CaseRow, DeviceRow.location).join(
        DeviceRow, DeviceRow.id == CaseRow.device_id, isouter=True
    )


def add_event(
    session: Session,
    policy: "CasePolicy",
    case_id: int,
    now: datetime,
    action: CaseEventAction,
    alert_id: str | None = None,
    *,
    note: str | None = None,
    actor: str | None = None,
    detail: dict[str, str] | None = None,
) -> None:
    """Add a line to a case's history, queue its notices and its audit record."""
    session.add(
        CaseEventRow(
            **event_values(
                session,
                policy,
                case_id,
                now,
                action,
                alert_id,
                note=note,
                actor=actor,
                detail=detail,
            )
        )
    )


def event_values(
    session: Session,
    policy: "CasePolicy",
    case_id: int,
    now: datetime,
    action: CaseEventAction,
    alert_id: str | None = None,
    *,
    note: str | None = None,
    actor: str | None = None,
    detail: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Queue a history line's notices and audit record; return the line's column values."""
    note = clean_or_none(note)
    actor = None if actor is None else clean(actor)[:ID_LENGTH]
    if policy.notify and action in NOTIFIED_EVENTS:
        enqueue_notices(
            session, policy.notify, case_id, action, now, note, supervision=policy.supervision
        )
    audited: dict[str, Any] = dict(detail or {})
    if action is CaseEventAction.PRIORITY_RAISED and "priority" not in audited:
        raised = _priority_held(session, case_id)
        if raised is not None:  # what the audit check reads, not the note's words
            audited["priority"] = raised
    if note is not None:
        audited["note"] = note
    audit(
        session,
        AuditRecord(
            ts=now,
            action=action.value,
            case_id=case_id,
            alert_id=alert_id,
            actor=actor,
            detail=audited,
        ),
    )
    return {
        "case_id": case_id,
        "ts": now,
        "action": action.value,
        "note": note,
        "actor": actor,
        "alert_id": alert_id,
    }


def _priority_held(session: Session, case_id: int) -> str | None:
    """Return the priority the case's row holds in ``session``, with no read (None if it is
    not loaded): every writer of a ``priority_raised`` line raised the row at hand just
    before (the intake, ``hub.fleet.conflicts``); ``hub.audit.case_rows`` replays it."""
    row = session.identity_map.get(identity_key(CaseRow, case_id))
    value = None if row is None else instance_state(row).dict.get("priority")
    return value if isinstance(value, str) else None


class CaseHistory:
    """History lines of one transaction, written in one multi-row INSERT.

    For the many lines an ingest batch adds (an alert attached, a priority raised): one ORM
    object per line cost the hub more than the rest of storing an alert. The lines keep their
    order with the ORM's: ``write`` flushes what the session holds first, and a caller about
    to add lines through ``add_event`` writes these before.
    """

    def __init__(self, policy: "CasePolicy") -> None:
        self._policy = policy
        self._rows: list[dict[str, Any]] = []

    def add(
        self,
        session: Session,
        case_id: int,
        now: datetime,
        action: CaseEventAction,
        alert_id: str | None = None,
        *,
        note: str | None = None,
    ) -> None:
        """Queue a line of a case's history, its notices and its audit record."""
        self._rows.append(
            event_values(session, self._policy, case_id, now, action, alert_id, note=note)
        )

    def write(self, session: Session, *, last: bool = False) -> None:
        """Store the queued lines, after everything the session holds.

        ``last``: no more lines, and nothing reads them, in this transaction: on PostgreSQL
        they are then carried by its last statement (``hub.persistence.bulk.insert_rows_later``).
        """
        if not self._rows:
            return
        session.flush()
        store = insert_rows_later if last else insert_rows
        store(session, cast(Table, CaseEventRow.__table__), self._rows)
        self._rows = []


class MemberRows:
    """The member rows of the cases one transaction joins alerts to.

    Alerts are noted as they join; ``write`` then reads the member rows of every case joined
    that this transaction neither opened nor read them with (``read``), in one query (a query
    per case was a round trip per case of a take), and counts the alerts in them. The case
    rows are locked by the transaction, so their members cannot change under it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._opened: set[int] = set()
        self._read: set[int] = set()
        self._joined: dict[int, list[Alert]] = defaultdict(list)
        self._of: dict[int, dict[tuple[str, str], CaseMemberRow]] = {}

    def opened(self, case_id: int) -> None:
        """Note a case this transaction inserted: it has no member rows to read."""
        self._opened.add(case_id)

    def read(self, case_id: int, rows: Iterable[CaseMemberRow]) -> None:
        """Note a case's member rows, all of them, read with the locked case row."""
        self._read.add(case_id)
        self._of[case_id] = {(row.device_id, row.kind): row for row in rows}

    def moved_in(self, case_id: int, rows: Iterable[CaseMemberRow]) -> None:
        """Note member rows moved into a case this transaction opened (``hub.cases.merging``)."""
        of = self._of.setdefault(case_id, {})
        for row in rows:
            of[(row.device_id, row.kind)] = row

    def joined(self, case_id: int) -> bool:
        """Return whether an alert of this transaction joined the case."""
        return case_id in self._joined

    def add(self, case_id: int, alert: Alert) -> None:
        """Note that ``alert`` joined the case (counted by ``write``)."""
        self._joined[case_id].append(alert)

    def write(self) -> None:
        """Count each alert noted in its device's member row of its case (a new row if none)."""
        wanted = [
            case_id
            for case_id in self._joined
            if case_id not in self._opened and case_id not in self._read
        ]
        for case_id in self._joined:
            self._of.setdefault(case_id, {})
        if wanted:
            for member in self._session.scalars(_MEMBERS_OF, {"case_ids": wanted}):
                self._of[member.case_id][(member.device_id, member.kind)] = member
        for case_id, alerts in self._joined.items():
            for alert in alerts:
                self.count(case_id, alert.device_id, alert.kind.value, alert.ts)
        self._joined.clear()

    def count(self, case_id: int, device_id: str, kind: str, ts: datetime) -> None:
        """Count one alert of ``device_id`` and ``kind`` at ``ts`` in its member row of the
        case as this take knows it (a new row if none): each joined alert, in ``write``, and a
        stray clearance adopted after it (``hub.cases.ordering``)."""
        rows = self._of.setdefault(case_id, {})
        rows[(device_id, kind)] = count_member(
            self._session, case_id, rows.get((device_id, kind)), device_id, kind, ts
        )

    def of(self, case_ids: Iterable[int]) -> dict[int, list[CaseMemberRow]]:
        """Return the member rows of cases written, by case id."""
        return {case_id: list(self._of[case_id].values()) for case_id in case_ids}


_LOCKED_OPEN_CASE = (
    # With its member rows, in the same round trip: a joining alert counts itself in them.
    # Only the case row is locked; it guards its members (``MemberRows``).
    select(CaseRow, CaseMemberRow)
    .outerjoin(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
    .where(CaseRow.open_key == bindparam("key"))
    .with_for_update(of=CaseRow)
    .execution_options(populate_existing=True)
)
_LOCKED_RESOLVED_CASE = (
    select(CaseRow)
    .where(
        CaseRow.correlation_key == bindparam("key"),
        CaseRow.status == CaseStatus.RESOLVED.value,
        CaseRow.resolved_at.is_not(None),
    )
    .order_by(CaseRow.resolved_at.desc(), CaseRow.id.desc())
    .limit(1)
    .with_for_update()
    .execution_options(populate_existing=True)
)


def locked_open_case(session: Session, key: str, member_rows: MemberRows) -> CaseRow | None:
    """Return the incident's active case, locked, if any; its member rows go to
    ``member_rows``."""
    rows = session.execute(_LOCKED_OPEN_CASE, {"key": key}).all()
    if not rows:
        return None
    row: CaseRow = rows[0][0]
    member_rows.read(row.id, [member for _, member in rows if member is not None])
    return row


def locked_resolved_case(session: Session, key: str) -> CaseRow | None:
    """Return the key's most recently resolved case (not closed), locked, if any."""
    return session.scalars(_LOCKED_RESOLVED_CASE, {"key": key}).one_or_none()


_CASES = cast(Table, CaseRow.__table__)
_MEMBERS = cast(Table, CaseMemberRow.__table__)
_CASE_COUNTS = ("priority", "alert_count", "last_alert_at", "updated_at")
"""What an alert that joins a case changes in it (``AttachToCase``)."""
_MEMBER_KEY = ("case_id", "device_id", "kind")
_MEMBER_COUNTS = ("first_alert_at", "last_alert_at", "alert_count")
"""What an alert changes in its device's member row of the case (``count_member``)."""


def carry_counts(session: Session) -> None:
    """Leave the counts that alerts changed in their cases and member rows to the
    transaction's last statement (``bulk.update_rows_later``) instead of an ORM UPDATE of each
    table now: on PostgreSQL two round trips less per take; on SQLite two plain UPDATEs.

    Only rows whose every change is among those counts are carried, with their values as they
    stand; a row changed otherwise too (reopened, taken in, dispatched) is written by the ORM
    as before. Call it when nothing of the transaction will read those rows again.
    """
    cases: list[Row] = []
    members: list[Row] = []
    identity_map = session.identity_map
    for row in list(session.dirty):
        if isinstance(row, CaseRow):
            _carried(identity_map, row, ("id",), _CASE_COUNTS, cases, versioned=True)
        elif isinstance(row, CaseMemberRow):
            _carried(identity_map, row, _MEMBER_KEY, _MEMBER_COUNTS, members)
    update_rows_later(session, _CASES, "id", cases)
    update_rows_later(session, _MEMBERS, _MEMBER_KEY, members)


def _carried(
    identity_map: IdentityMap,
    row: CaseRow | CaseMemberRow,
    key: tuple[str, ...],
    counts: tuple[str, ...],
    into: list[Row],
    *,
    versioned: bool = False,
) -> None:
    """Add ``row``'s key and counts to ``into`` and mark it unchanged, if its only changes
    are among ``counts``: the ORM then has nothing of it to write. A ``versioned`` row (a
    case) has its version raised and written with them, as a flush would have."""
    state = instance_state(row)
    if not state.persistent:
        return
    # What was set since the row was loaded (or set back to its value: then carried too, or
    # left to the ORM, as if changed).
    changed = state.committed_state.keys()
    if not changed or not changed <= set(counts):
        return
    if versioned:
        cast(CaseRow, row).version += 1
        counts = (*counts, "version")
    into.append({name: getattr(row, name) for name in (*key, *counts)})
    # As a flush leaves a row it wrote: its values committed and the row no longer among the
    # session's modified ones. Committing the values one by one (``set_committed_value``) left
    # it there, and every flush after it, the history's among them, walked the unit of work
    # over rows with nothing to write: a ninth of a one-alert take on SQLite.
    state._commit_all(state.dict, identity_map)


def count_member(
    session: Session,
    case_id: int,
    member: CaseMemberRow | None,
    device_id: str,
    kind: str,
    ts: datetime,
) -> CaseMemberRow:
    """Count an alert of ``device_id`` and ``kind`` at ``ts`` in its member row of a case
    (``member``, or a new row if None); return the row."""
    if member is None:
        member = CaseMemberRow(
            case_id=case_id,
            device_id=device_id,
            kind=kind,
            first_alert_at=ts,
            last_alert_at=ts,
            alert_count=1,
        )
        session.add(member)
        return member
    member.alert_count += 1
    member.first_alert_at = min(member.first_alert_at, ts)
    member.last_alert_at = max(member.last_alert_at, ts)
    return member
