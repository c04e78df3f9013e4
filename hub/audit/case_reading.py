"""Reading the cases' rows and history entries for their check (``hub.audit.case_rows``).

Streamed: the case-history entries ordered by case and ``seq`` and the case rows ordered by
id, read side by side, a case at a time (one case's history in memory, never the table's).
Cost per case: its row and its history entries, read once more after the chain's pass (the
entries by the index on ``audit_entries.case_id``); a reopening by an alert adds a look-up of
that alert's severity, a merge a read of the taken case's history. The check runs in the
chain's transaction (one snapshot on PostgreSQL), after the chain and the records it vouches
for were found intact: the entries it replays are then the ones the hashes hold.
"""

from collections.abc import Iterator
from itertools import groupby
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from hub.audit.case_rows import (
    CaseRowFields,
    CaseState,
    apply,
    mismatches,
)
from hub.audit.chain import AuditEntry
from hub.cases.rules import CaseEventAction
from hub.persistence.tables import AlertRow, AuditEntryRow, CaseRow

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
_LINES = select(*_ENTRY_COLUMNS).where(
    AuditEntryRow.case_id.is_not(None),
    AuditEntryRow.action.in_(sorted(action.value for action in CaseEventAction)),
)
_ROWS = select(
    CaseRow.id,
    CaseRow.status,
    CaseRow.priority,
    CaseRow.resolution,
    CaseRow.resolved_at,
    CaseRow.escalation_level,
    CaseRow.team,
    CaseRow.assignee,
    CaseRow.merged_into,
    CaseRow.acknowledged_at,
).order_by(CaseRow.id)


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(**row._mapping)  # the columns are named as the entry's fields


def _streamed(session: Session, query: Select[Any]) -> Iterator[Row[Any]]:
    return iter(session.execute(query.execution_options(yield_per=STREAM_ROWS)))


def case_row_findings(
    session: Session, skip: frozenset[int] = frozenset(), from_case: int = 0
) -> Iterator[str]:
    """Yield one finding per case field in which a case row parts from its history in the
    trail, per case the trail opened without a row, and per row the trail never opened.

    ``skip``: cases left out (their rows cannot be read back: ``unreadable_cases``);
    ``from_case``: the cases before it are not compared (``linli audit verify
    --cases-from``: cases from before an upgrade, whose history older hubs recorded with
    less, docs/upgrading.md). Raises
    ``ValueError`` or ``TypeError`` at a row that cannot be read back (on SQLite, a column
    edited into text its type cannot parse).
    """
    lines = groupby(
        (_entry(row) for row in _streamed(session, _LINES.order_by("case_id", "seq"))),
        key=lambda entry: entry.case_id,
    )
    query = _ROWS.where(CaseRow.id.not_in(sorted(skip))) if skip else _ROWS
    rows = (CaseRowFields(**row._mapping) for row in _streamed(session, query))
    history = next(lines, None)
    row = next(rows, None)
    while history is not None or row is not None:
        line_case = None if history is None else history[0]
        row_case = None if row is None else row.id
        if row_case is None or (line_case is not None and line_case < row_case):
            assert history is not None
            assert line_case is not None
            if line_case not in skip and line_case >= from_case:
                yield from mismatches(_replayed(session, history[1]), None, line_case)
            history = next(lines, None)
        elif line_case is None or row_case < line_case:
            assert row is not None
            if row.id >= from_case:
                yield from mismatches(None, row, row.id)
            row = next(rows, None)
        else:
            assert history is not None
            assert row is not None
            if row.id >= from_case:
                yield from mismatches(_replayed(session, history[1]), row, row.id)
            history, row = next(lines, None), next(rows, None)


def unreadable_cases(session: Session) -> frozenset[int]:
    """Return the cases whose rows cannot be read back, read one at a time: only a database
    someone edited by hand gets here (a ``team`` that is not JSON, a time that does not parse)."""
    broken: set[int] = set()
    for case_id in session.scalars(select(CaseRow.id).order_by(CaseRow.id)).all():
        try:
            session.execute(_ROWS.where(CaseRow.id == case_id)).all()
        except UNREADABLE:
            broken.add(case_id)
    return frozenset(broken)


def _replayed(session: Session, entries: Iterator[AuditEntry]) -> CaseState | None:
    """Return the state a case's history entries leave it in, with the look-ups they need."""
    state: CaseState | None = None
    for entry in entries:
        severity = None
        taken = None
        if entry.action == CaseEventAction.REOPENED and "to" not in entry.detail:
            if entry.alert_id is not None:
                severity = session.scalar(
                    select(AlertRow.severity).where(AlertRow.id == entry.alert_id)
                )
        elif entry.action == CaseEventAction.MERGED_IN:
            taken = _taken_in(session, entry)
        state = apply(state, entry, alert_severity=severity, taken_in=taken)
    return state


def _taken_in(session: Session, entry: AuditEntry) -> CaseState | None:
    """Return the state of the case a ``merged_in`` line took in, as it was then."""
    taken = str(entry.detail.get("from", ""))
    if not taken.isdigit():
        return None
    query = _LINES.where(
        AuditEntryRow.case_id == int(taken), AuditEntryRow.seq < entry.seq
    ).order_by(AuditEntryRow.seq)
    return _replayed(session, (_entry(row) for row in session.execute(query).all()))
