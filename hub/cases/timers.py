"""A case's deadlines as rows: scheduling and retiring them."""

from datetime import datetime

from sqlalchemy import Update, func, select, update
from sqlalchemy.orm import Session

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import Team
from hub.cases.records import CasePolicy
from hub.cases.supervision import (
    Timer,
    TimerKind,
    accept_timer,
    acknowledge_timer,
    resolve_timer,
)
from hub.persistence.tables import CaseRow, CaseTimerRow


def schedule(session: Session, case_id: int, timer: Timer, now: datetime) -> None:
    """Store a deadline of a case."""
    session.add(
        CaseTimerRow(
            case_id=case_id,
            kind=timer.kind.value,
            due_at=timer.due_at,
            assignee=timer.assignee,
            created_at=now,
        )
    )


def rearm(session: Session, timer_id: int, timer: Timer, now: datetime) -> None:
    """Set a deadline that just fired (in this transaction) to fire again as ``timer``: a
    look that repeats until something changes keeps one row, not one per look. The row is as
    ``schedule`` would have stored it; the caller holds its case's lock."""
    session.execute(
        update(CaseTimerRow)
        .where(CaseTimerRow.id == timer_id)
        .values(
            kind=timer.kind.value,
            due_at=timer.due_at,
            assignee=timer.assignee,
            created_at=now,
            fired_at=None,
        )
    )


def postpone(session: Session, timer_id: int, due_at: datetime) -> None:
    """Set an acceptance deadline that just fired (in this transaction) to fire again at
    ``due_at``: its responder's page went out late or not yet (``Postpone``). It keeps when it
    was set (the assignment), from which the pages that ask them are looked for."""
    session.execute(
        update(CaseTimerRow).where(CaseTimerRow.id == timer_id).values(due_at=due_at, fired_at=None)
    )


def schedule_acknowledgement(
    session: Session, policy: CasePolicy, row: CaseRow, now: datetime
) -> None:
    """Start the clock on a case being acknowledged, as it opens or reopens, and on its being
    done if its category has such a deadline (``schedule_resolution``: a ``RESOLVE_WITHIN_S``
    set for leaks ran on no case an alarm opened); a deadline of an earlier life of the case
    (before a reopening) is retired, so one escalation chain runs, not two.

    A case that took in cases just now (``hub.cases.merging``: the press before the fire)
    goes on with their chain: it is due no later than the earliest acknowledgement deadline
    they had pending. Nobody has taken the press on since it was made; a fresh minute from the
    fire's opening put the community's failure to answer it off by up to a minute a step."""
    retire_acknowledgements(session, row.id, now)
    timer = acknowledge_timer(CaseCategory(row.category), now, policy.supervision)
    taken_in = session.scalar(
        select(func.min(CaseTimerRow.due_at))
        .join(CaseRow, CaseRow.id == CaseTimerRow.case_id)
        .where(
            CaseRow.merged_into == row.id,
            CaseTimerRow.kind == TimerKind.ACKNOWLEDGE.value,
            CaseTimerRow.fired_at == now,  # retired by the merge in this transaction
        )
    )
    if taken_in is not None and taken_in < timer.due_at:
        timer = Timer(TimerKind.ACKNOWLEDGE, taken_in)
    schedule(session, row.id, timer, now)
    schedule_resolution(session, policy, row, now)


def acknowledgement_pending(session: Session, case_id: int) -> bool:
    """Return whether the case has an acknowledgement deadline still to fire (its escalation
    chain is running)."""
    return (
        session.scalar(
            select(CaseTimerRow.id)
            .where(
                CaseTimerRow.case_id == case_id,
                CaseTimerRow.kind == TimerKind.ACKNOWLEDGE.value,
                CaseTimerRow.fired_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def retire_acknowledgements(session: Session, case_id: int, now: datetime) -> None:
    """Retire a case's acknowledgement deadlines still to fire (it ended, or starts anew).

    The caller holds the case's row lock: deadline rows are always locked after their case's
    (``hub.cases.deadlines`` does the same), so two transactions cannot deadlock on them.
    """
    session.execute(
        update(CaseTimerRow)
        .where(
            CaseTimerRow.case_id == case_id,
            CaseTimerRow.kind == TimerKind.ACKNOWLEDGE.value,
            CaseTimerRow.fired_at.is_(None),
        )
        .values(fired_at=now)
    )


def _pending_resolution(case_id: int) -> Update:
    """The case's "done by" deadline that has not fired yet."""
    return update(CaseTimerRow).where(
        CaseTimerRow.case_id == case_id,
        CaseTimerRow.kind == TimerKind.RESOLVE.value,
        CaseTimerRow.fired_at.is_(None),
    )


def schedule_resolution(session: Session, policy: CasePolicy, row: CaseRow, now: datetime) -> None:
    """Start the clock on a case being done, if its category has such a deadline; a deadline
    of an earlier attempt (before a reopening) is retired."""
    session.execute(_pending_resolution(row.id).values(fired_at=now))
    timer = resolve_timer(CaseCategory(row.category), now, policy.supervision)
    if timer is not None:
        schedule(session, row.id, timer, now)


def postpone_resolution(
    session: Session, policy: CasePolicy, row: CaseRow, start: datetime
) -> None:
    """Move a case's pending "done by" deadline to count from ``start`` (a request's visit
    window, ``hub.requests.rules.resolution_starts``); its other deadlines stay as they are."""
    timer = resolve_timer(CaseCategory(row.category), start, policy.supervision)
    if timer is not None:
        session.execute(_pending_resolution(row.id).values(due_at=timer.due_at))


def schedule_acceptance(
    session: Session, policy: CasePolicy, row: CaseRow, assignee: str, now: datetime
) -> None:
    """Start the clock on a team member accepting a case."""
    timer = accept_timer(CaseCategory(row.category), assignee, now, policy.supervision)
    schedule(session, row.id, timer, now)


def cancel_acceptances(
    session: Session, row: CaseRow, before: Team, after: Team, now: datetime
) -> None:
    """Retire the acceptance deadlines of members who left the team (declined, handed
    over, replaced, or the case reopened): named again later, they get a fresh one."""
    gone = {a.responder for a in before} - {a.responder for a in after}
    if gone:
        session.execute(
            update(CaseTimerRow)
            .where(
                CaseTimerRow.case_id == row.id,
                CaseTimerRow.kind == TimerKind.ACCEPT.value,
                CaseTimerRow.assignee.in_(sorted(gone)),
                CaseTimerRow.fired_at.is_(None),
            )
            .values(fired_at=now)
        )


def retire_timers(session: Session, case_id: int, now: datetime) -> None:
    """Retire every deadline of a case still to fire (it was taken into another case)."""
    session.execute(
        update(CaseTimerRow)
        .where(CaseTimerRow.case_id == case_id, CaseTimerRow.fired_at.is_(None))
        .values(fired_at=now)
    )


def bring_acceptances_forward(session: Session, responder_id: str, now: datetime) -> None:
    """Make a responder's acceptance deadlines still to fire due at ``now``: the roster took
    them off (made them inactive, or moved them to another site), so nobody should wait for
    their answer until the deadline says (24 h for maintenance). The supervisor's next round
    hands each duty on as if they had not answered; one who accepted is no longer waited for,
    and stays on the case.

    The roster's transaction takes no case's lock, only these deadline rows (after the
    responder's row): a worker firing one of them (case, then deadline) waits for it, or it
    for the worker, and the one that updates it second sees it as the first left it."""
    session.execute(
        update(CaseTimerRow)
        .where(
            CaseTimerRow.assignee == responder_id,
            CaseTimerRow.kind == TimerKind.ACCEPT.value,
            CaseTimerRow.fired_at.is_(None),
            CaseTimerRow.due_at > now,
        )
        .values(due_at=now)
    )
