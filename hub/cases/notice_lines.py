"""The lines a case's history gets about its notices: one is failing or given up (an operator
can phone instead), or went out at last (``hub.cases.notices`` says when)."""

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session

from hub.audit.chain import AuditRecord
from hub.cases.dispatch import team_of
from hub.cases.notify import SENDS, CaseNotice, Channel, failing_note
from hub.cases.pages_failing import CaseNow, PageNow, notice_facts, page_of_copy
from hub.cases.rules import ACTIVE, CaseEventAction, CaseStatus
from hub.persistence.tables import CaseEventRow, CaseRow, NotificationRow
from hub.persistence.transactions import audit, clean_or_none


def family(event: ColumnElement[str]) -> ColumnElement[str]:
    """A notice's event as far as saying it again goes: a dispatch and a hand-over both send
    the whole team as it is then, so a later one of either says an earlier one again."""
    return case((event.in_([e.value for e in SENDS]), "sends"), else_=event)


def answers_failing(session: Session, notice_id: int) -> bool:
    """Whether a notice, delivered now, is the first to go out of its page (its event's
    family, to its target) since the history said the page is failing (a ``notice_failed``
    line of one of its copies since the last one delivered): whichever copy goes out, within
    its own ``MAX_ATTEMPTS`` tries or past them, says so, or the "not delivered" line would
    stand."""
    row = session.get(NotificationRow, notice_id)
    if row is None or row.case_id is None or not has_failed_lines(session, row.case_id):
        return False  # the common case, in one query
    page = page_now(session, row)
    return page is not None and page.line_id is not None


def has_failed_lines(session: Session, case_id: int) -> bool:
    """Whether the case's history has a ``notice_failed`` line at all."""
    said = session.scalar(
        select(CaseEventRow.id)
        .where(
            CaseEventRow.case_id == case_id,
            CaseEventRow.action == CaseEventAction.NOTICE_FAILED.value,
        )
        .limit(1)
    )
    return said is not None


def say_page_failing(
    session: Session, row: NotificationRow, now: datetime, *, own_tries_out: bool
) -> bool:
    """Say in the case's history that the page a notice still tried is a copy of is failing,
    once a page (not once a copy), the moment it is by ``hub.cases.pages_failing``'s rule: its
    copies since the last one delivered have failed ``MAX_ATTEMPTS`` times all told, though
    none of them may have on its own (a dispatch queued again, an escalation repeated: each
    later copy gives the earlier up). The live stream learns of failing pages from these
    lines only (``NoticeRepository.notice_lines_after``).

    ``own_tries_out``: the notice itself has just failed its ``MAX_ATTEMPTS``-th try and is
    tried on (``still_paging``): it says so unless its page already did, needed now by the
    views' rule or not. Return whether a line was written."""
    page = page_now(session, row)
    if page is None:
        if own_tries_out:
            say_failed(session, row, now, given_up=None)
        return own_tries_out
    if page.line_id is not None or (page.failing is None and not own_tries_out):
        return False
    say_failed(session, row, now, given_up=None, tries=page.tries)
    return True


def page_now(session: Session, row: NotificationRow) -> PageNow | None:
    """Return the page a case's notice not delivered is a copy of, as the queue has it now
    (the session's changes flushed first), or None for a notice that is no page (one that
    only informs, a household's copy)."""
    if row.case_id is None or row.household_id is not None or row.contact is not None:
        return None
    session.flush()
    case_row = session.get(CaseRow, row.case_id)
    if case_row is None:
        return None
    facts = notice_facts(session, [row.case_id])[row.case_id]
    case = CaseNow(
        active=CaseStatus(case_row.status) in ACTIVE and case_row.merged_into is None,
        acknowledged=case_row.acknowledged_at is not None,
        accepted=any(a.accepted for a in team_of(case_row.team)),
    )
    return page_of_copy(facts, case, row.id)


def say_failed(
    session: Session,
    row: NotificationRow,
    now: datetime,
    *,
    given_up: str | None,
    tries: int | None = None,
) -> None:
    """Say in the case's history that a notice of it is failing (``given_up`` None) or
    was given up, and why: an operator can phone instead. ``tries``: its page's, all told,
    when more than its own (``say_page_failing``)."""
    notice = case_notice(row)
    if notice is None:
        return
    note = failing_note(
        notice,
        Channel(row.channel),
        row.target,
        row.attempts if tries is None else tries,
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
