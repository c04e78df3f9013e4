"""The lines a case's history gets about its notices: one is failing or given up (an operator
can phone instead), or went out at last (``hub.cases.notices`` says when)."""

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import ColumnElement, case, exists, select
from sqlalchemy.orm import Session, aliased

from hub.audit.chain import AuditRecord
from hub.cases.notify import MAX_ATTEMPTS, SENDS, CaseNotice, Channel, failing_note
from hub.cases.rules import CaseEventAction
from hub.persistence.tables import CaseEventRow, CaseRow, NotificationRow
from hub.persistence.transactions import audit, clean_or_none


def family(event: ColumnElement[str]) -> ColumnElement[str]:
    """A notice's event as far as saying it again goes: a dispatch and a hand-over both send
    the whole team as it is then, so a later one of either says an earlier one again."""
    return case((event.in_([e.value for e in SENDS]), "sends"), else_=event)


def answers_failing(session: Session, notice_id: int) -> bool:
    """Whether a notice, delivered now, is the first to go out of its page (its event's
    family, to its target) since a copy the history said is failing: a later copy out within
    its own ``MAX_ATTEMPTS`` tries says so too, or the "not delivered" line would stand."""
    row = aliased(NotificationRow)
    earlier = aliased(NotificationRow)
    between = aliased(NotificationRow)
    same_page = (
        (earlier.case_id == row.case_id)
        & (earlier.target == row.target)
        & (family(earlier.payload["event"].as_string()) == family(row.payload["event"].as_string()))
    )
    found = session.scalar(
        select(earlier.id)
        .join(row, row.id == notice_id)
        .where(
            row.case_id.is_not(None),
            same_page,
            earlier.id < row.id,
            earlier.delivered_at.is_(None),
            earlier.attempts >= MAX_ATTEMPTS,
            ~exists().where(
                between.case_id == row.case_id,
                between.target == row.target,
                family(between.payload["event"].as_string())
                == family(row.payload["event"].as_string()),
                between.id > earlier.id,
                between.id < row.id,
                between.delivered_at.is_not(None),
            ),
        )
        .limit(1)
    )
    return found is not None


def say_failed(
    session: Session, row: NotificationRow, now: datetime, *, given_up: str | None
) -> None:
    """Say in the case's history that a notice of it is failing (``given_up`` None) or
    was given up, and why: an operator can phone instead."""
    notice = case_notice(row)
    if notice is None:
        return
    note = failing_note(
        notice,
        Channel(row.channel),
        row.target,
        row.attempts,
        row.last_error,
        given_up=given_up,
    )
    _history_line(session, notice.case_id, now, CaseEventAction.NOTICE_FAILED, note, row)


def say_delivered(session: Session, row: NotificationRow, now: datetime) -> None:
    """Say in the case's history that a page said failing went out at last."""
    notice = case_notice(row)
    if notice is None:
        return
    note = f"the {notice.event.value} notice went out after {row.attempts} tries"
    _history_line(session, notice.case_id, now, CaseEventAction.NOTICE_DELIVERED, note, row)


def case_notice(row: NotificationRow) -> CaseNotice | None:
    """Return the case notice a queued row carries; None for a household's copy, or one this
    version cannot read (a newer worker's)."""
    if row.case_id is None:
        return None
    try:
        return CaseNotice.model_validate(row.payload)
    except ValidationError:
        return None


def _history_line(
    session: Session,
    case_id: int,
    now: datetime,
    action: CaseEventAction,
    note: str,
    row: NotificationRow,
) -> None:
    """Add a line about a notice to its case's history, with its audit record, and raise the
    case's version (the console keeps the newest): what ``hub.cases.records.add_event`` does
    for a line no notice is sent of (it cannot be called from here: it queues notices)."""
    case_row = session.get(CaseRow, case_id, with_for_update=True)
    if case_row is None:
        return
    case_row.updated_at = now
    cleaned = clean_or_none(note)
    session.add(CaseEventRow(case_id=case_id, ts=now, action=action.value, note=cleaned))
    detail = {"notice": str(row.id), "channel": row.channel, "attempts": str(row.attempts)}
    if cleaned is not None:
        detail["note"] = cleaned
    audit(session, AuditRecord(ts=now, action=action.value, case_id=case_id, detail=detail))
