"""Reading the cases' rows and history entries for their check (``hub.audit.case_rows``).

Streamed: the case-history entries ordered by case and ``seq`` (each with the alert it
names, joined by the alert's id), the case rows ordered by id, the member rows and the
alerts' ``case_id`` ordered by case, read side by side, a case at a time (one case's history,
members and alert ids in memory, never a table's). Cost per case: its row, its history
entries, its member rows and its alerts' ids, read once more after the chain's pass (the
entries by the index on ``audit_entries.case_id``, the alerts by ``alerts.case_id``); a merge
adds a read of the taken case's history. The check runs in the chain's transaction (one
snapshot on PostgreSQL), after the chain and the records it vouches for were found intact:
the entries it replays, and the alerts' rows it reads, are then the ones the hashes hold.
"""

from collections.abc import Iterator
from itertools import groupby, takewhile
from typing import Any

from sqlalchemy import Executable, Row, select
from sqlalchemy.orm import Session

from hub.audit.case_rows import (
    AlertFacts,
    CaseRowFields,
    CaseState,
    CaseTally,
    MemberFields,
    member_mismatches,
    mismatches,
    step,
)
from hub.audit.chain import AuditEntry
from hub.cases.rules import CaseEventAction
from hub.persistence.tables import AlertRow, AuditEntryRow, CaseMemberRow, CaseRow

UNREADABLE = (ValueError, TypeError)
"""What reading a row raises when a column holds what its type cannot parse."""
STREAM_ROWS = 1000
"""Rows fetched at a time from each stream (a server-side cursor on PostgreSQL)."""

_ENTRY_COLUMNS = (
    AuditEntryRow.seq,
    AuditEntryRow.ts,
    AuditEntryRow.action,
    AuditEntryRow.case_id,
    AuditEntryRow.alert_id,
    AuditEntryRow.actor,
    AuditEntryRow.detail,
    AuditEntryRow.prev_hash,
    AuditEntryRow.hash,
    AuditEntryRow.token_id,
)
_ALERT_COLUMNS = (
    AlertRow.device_id,
    AlertRow.kind,
    AlertRow.state,
    AlertRow.severity,
    AlertRow.ts.label("alert_ts"),
    AlertRow.received_at,
)
"""What the replay needs of the alert a line names (``AlertFacts``), by the alert's id."""
_LINES = (
    select(*_ENTRY_COLUMNS, *_ALERT_COLUMNS)
    .outerjoin(AlertRow, AlertRow.id == AuditEntryRow.alert_id)
    .where(
        AuditEntryRow.case_id.is_not(None),
        AuditEntryRow.action.in_(sorted(action.value for action in CaseEventAction)),
    )
)
_ROWS = select(
    CaseRow.id,
    CaseRow.status,
    CaseRow.priority,
    CaseRow.category,
    CaseRow.kind,
    CaseRow.device_id,
    CaseRow.resolution,
    CaseRow.resolved_at,
    CaseRow.escalation_level,
    CaseRow.team,
    CaseRow.assignee,
    CaseRow.merged_into,
    CaseRow.acknowledged_at,
    CaseRow.alert_count,
    CaseRow.last_alert_at,
    CaseRow.declined,
).order_by(CaseRow.id)
_MEMBERS = select(
    CaseMemberRow.case_id,
    CaseMemberRow.device_id,
    CaseMemberRow.kind,
    CaseMemberRow.first_alert_at,
    CaseMemberRow.last_alert_at,
    CaseMemberRow.alert_count,
).order_by(CaseMemberRow.case_id, CaseMemberRow.device_id, CaseMemberRow.kind)
_CASED_ALERTS = (
    select(AlertRow.case_id, AlertRow.id)
    .where(AlertRow.case_id.is_not(None))
    .order_by(AlertRow.case_id, AlertRow.id)
)
"""Each alert's case, by case (the index on ``alerts.case_id``)."""

_Line = tuple[AuditEntry, AlertFacts | None]


def _line(row: Row[Any]) -> _Line:
    values = row._mapping
    entry = AuditEntry(**{column.key: values[column.key] for column in _ENTRY_COLUMNS})
    if values["device_id"] is None:
        return entry, None  # no alert named, or no row of it
    return entry, AlertFacts(
        device_id=values["device_id"],
        kind=values["kind"],
        state=values["state"],
        severity=values["severity"],
        ts=values["alert_ts"],
        received_at=values["received_at"],
    )


def _streamed(session: Session, query: Executable) -> Iterator[Row[Any]]:
    return iter(session.execute(query.execution_options(yield_per=STREAM_ROWS)))


def _by_case(rows: Iterator[Row[Any]], odd: list[str], what: str) -> Iterator[tuple[int, Any]]:
    """Group ``rows`` (ordered by their first column, a case id) by case; a case id that is
    not a number (SQLite keeps any text in a column) goes to ``odd``, named."""
    for case_id, group in groupby(rows, key=lambda row: row[0]):
        if type(case_id) is not int:
            odd.append(f"{what} name case {case_id!r}, which no case can be (edited)")
            continue
        yield case_id, list(group)


def _side_by_side(*streams: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, list[Any]]]:
    """Merge streams of ``(case id, value)``, each in case order and each case once: per case,
    each stream's value, None where it has none. A stream is advanced only after its value
    was used (a group of lines is read as it is replayed)."""
    heads = [next(stream, None) for stream in streams]
    while True:
        present = [head[0] for head in heads if head is not None]
        if not present:
            return
        case_id = min(present)
        yield case_id, [None if h is None or h[0] != case_id else h[1] for h in heads]
        heads = [
            next(stream, None) if head is not None and head[0] == case_id else head
            for stream, head in zip(streams, heads, strict=True)
        ]


def case_row_findings(
    session: Session, skip: frozenset[int] = frozenset(), from_case: int = 0
) -> Iterator[str]:
    """Yield one finding per case field in which a case row parts from its history in the
    trail, per case the trail opened without a row, per row the trail never opened, and per
    member row and alert's ``case_id`` that parts from what the history brought in.

    ``skip``: cases left out (their rows cannot be read back: ``unreadable_cases``);
    ``from_case``: the cases before it are not compared (``linli audit verify
    --cases-from``: cases from before an upgrade, whose history older hubs recorded with
    less, docs/upgrading.md). Raises
    ``ValueError`` or ``TypeError`` at a row that cannot be read back (on SQLite, a column
    edited into text its type cannot parse).
    """
    odd: list[str] = []
    lines = (
        (case_id, (_line(row) for row in group))
        for case_id, group in groupby(
            _streamed(session, _LINES.order_by(AuditEntryRow.case_id, AuditEntryRow.seq)),
            key=lambda row: row.case_id,
        )
    )
    rows_query, members_query = _ROWS, _MEMBERS
    if skip:
        rows_query = rows_query.where(CaseRow.id.not_in(sorted(skip)))
        members_query = members_query.where(CaseMemberRow.case_id.not_in(sorted(skip)))
    rows = ((row.id, CaseRowFields(**row._mapping)) for row in _streamed(session, rows_query))
    members = _by_case(_streamed(session, members_query), odd, "member rows")
    alerts = _by_case(_streamed(session, _CASED_ALERTS), odd, "alerts")
    for case_id, (history, row, held, cased) in _side_by_side(lines, rows, members, alerts):
        if case_id in skip or case_id < from_case:
            continue
        state, tally = (None, None) if history is None else _replayed(session, history)
        yield from mismatches(state, row, case_id)
        yield from member_mismatches(
            tally,
            [MemberFields(*member[1:]) for member in held or ()],
            [alert.id for alert in cased or ()],
            case_id,
        )
    yield from odd


def unreadable_cases(session: Session) -> frozenset[int]:
    """Return the cases whose rows, or member rows, cannot be read back, read one at a time:
    only a database someone edited by hand gets here (a ``team`` that is not JSON, a time
    that does not parse)."""
    broken: set[int] = set()
    cases = [
        *session.scalars(select(CaseRow.id).order_by(CaseRow.id)).all(),
        *session.scalars(select(CaseMemberRow.case_id).distinct()).all(),
    ]
    for case_id in dict.fromkeys(cases):
        try:
            session.execute(_ROWS.where(CaseRow.id == case_id)).all()
            session.execute(_MEMBERS.where(CaseMemberRow.case_id == case_id)).all()
        except UNREADABLE:
            broken.add(case_id)
    return frozenset(broken)


def _replayed(session: Session, lines: Iterator[_Line]) -> tuple[CaseState | None, CaseTally]:
    """Return the state a case's history entries leave it in, and its members and alerts,
    with the look-ups they need."""
    state: CaseState | None = None
    tally = CaseTally()
    for entry, alert in lines:
        taken = None
        if entry.action == CaseEventAction.MERGED_IN:
            taken = _taken_in(session, entry)
        state = step(state, tally, entry, alert=alert, taken=taken)
    return state, tally


def _taken_in(session: Session, entry: AuditEntry) -> tuple[CaseState | None, CaseTally] | None:
    """Return the state, members and alerts of the case a ``merged_in`` line took in, as
    they were when taken in: before its own ``merged`` line (written just before), which
    moved them out."""
    taken = str(entry.detail.get("from", ""))
    if not taken.isdigit():
        return None
    query = _LINES.where(
        AuditEntryRow.case_id == int(taken), AuditEntryRow.seq < entry.seq
    ).order_by(AuditEntryRow.seq)
    lines = (_line(row) for row in session.execute(query).all())
    return _replayed(session, takewhile(lambda line: not _merged_into(line[0], entry), lines))


def _merged_into(line: AuditEntry, merged_in: AuditEntry) -> bool:
    """Return whether ``line`` is the ``merged`` line of the case ``merged_in`` took in."""
    into = line.detail.get("into")
    return line.action == CaseEventAction.MERGED and into == str(merged_in.case_id)
