"""Firing due case deadlines, each exactly once across hub workers.

A deadline this worker cannot fire (a kind a newer worker added during a rolling upgrade, a
case its rules refuse) is logged, left unfired for a worker that can, and looked at again after
``UNFIREABLE_RETRY``: it must not hold up every other case's escalation, round after round.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import member, pending, team_of, without
from hub.cases.notices import page_of
from hub.cases.records import CasePolicy, add_event, case_view, cases_query, members
from hub.cases.rules import ACTIVE, CaseAction, CaseEventAction, CaseStatus, transition
from hub.cases.staffing import SUPERVISION, auto_dispatch, settle_team
from hub.cases.supervision import (
    Escalate,
    Postpone,
    Reassign,
    Satisfied,
    SupervisedCase,
    Timer,
    TimerKind,
    Watch,
    escalate_unassignable,
    on_timer,
)
from hub.cases.timers import (
    acknowledgement_pending,
    cancel_acceptances,
    postpone,
    rearm,
    retire_acknowledgements,
    schedule,
)
from hub.cases.views import CaseView
from hub.persistence.tables import CaseRow, CaseTimerRow, ResponderRow
from hub.persistence.transactions import Database

logger = logging.getLogger(__name__)

UNFIREABLE_RETRY = timedelta(minutes=5)
"""How long a deadline this worker could not fire is left out of its rounds."""


def _off_the_roster(session: Session, responder_id: str, site_id: str | None) -> bool:
    """Return whether the roster took a responder off the case's site (made them inactive,
    or moved them): their acceptance deadline was brought forward to then
    (``hub.cases.timers.bring_acceptances_forward``), and the history says why."""
    responder = session.get(ResponderRow, responder_id)
    return responder is not None and (not responder.active or responder.site_id != site_id)


def _pages(
    session: Session,
    row: CaseRow,
    kind: TimerKind,
    assignee: str | None,
    set_at: datetime,
) -> tuple[dict[str, datetime | None], bool]:
    """Return the page that asks an acceptance deadline's responder (``SupervisedCase.pages``):
    when it went out, None while it is still being tried; nothing for another deadline, for a
    responder asked by no page the hub still tries, or one the roster took off the case's site
    (their deadline was brought forward to hand their duty on now). And whether their pages
    were all given up undelivered: they were never asked."""
    if kind is not TimerKind.ACCEPT or assignee is None:
        return {}, False
    if _off_the_roster(session, assignee, row.site_id):
        return {}, False
    page = page_of(session, row.id, assignee, set_at)
    if page.delivered_at is not None:
        return {assignee: page.delivered_at}, False
    if page.tried:
        return {assignee: None}, False
    return {}, page.queued


class DeadlineRepository:
    """Fires due case deadlines; each firing is one transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy
        self._unfireable: dict[int, datetime] = {}
        """Deadlines this worker failed to fire, and when to try each again."""

    def fire_due_timers(self, now: datetime, *, limit: int = 100) -> list[CaseView]:
        """Fire the deadlines due at ``now``, each exactly once across hub workers; return the
        cases that changed (escalated or reassigned).

        One that cannot be fired is skipped (above); a failure of the database itself fails
        the round, and the next round tries again."""
        self._unfireable = {t: retry for t, retry in self._unfireable.items() if retry > now}
        query = select(CaseTimerRow.id).where(
            CaseTimerRow.fired_at.is_(None), CaseTimerRow.due_at <= now
        )
        if self._unfireable:
            query = query.where(CaseTimerRow.id.not_in(sorted(self._unfireable)))
        with self._db.reading() as session:
            due = list(
                session.scalars(query.order_by(CaseTimerRow.due_at, CaseTimerRow.id).limit(limit))
            )
        changed: dict[int, CaseView] = {}
        for timer_id in due:
            try:
                view = self._fire(timer_id, now)
            except (OperationalError, InterfaceError):
                raise  # the database or the connection, not this deadline
            except Exception:
                self._unfireable[timer_id] = now + UNFIREABLE_RETRY
                logger.exception(
                    "deadline %s could not be fired; left for a worker that can, tried again in %s",
                    timer_id,
                    UNFIREABLE_RETRY,
                )
                continue
            if view is not None:
                changed[view.id] = view
        return list(changed.values())

    def _fire(self, timer_id: int, now: datetime) -> CaseView | None:
        with self._db.writing() as session:
            # The case's row is locked before its deadline's, as a person's action on the case
            # does (it locks the case, then retires deadlines): the other order deadlocks on
            # PostgreSQL. Whoever then sets fired_at first fires it; a worker that loses finds
            # fired_at set and updates nothing.
            case_id = session.scalar(
                select(CaseTimerRow.case_id).where(
                    CaseTimerRow.id == timer_id, CaseTimerRow.fired_at.is_(None)
                )
            )
            if case_id is None:
                return None
            found = session.execute(
                cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
            ).one()
            claimed = session.execute(
                update(CaseTimerRow)
                .where(CaseTimerRow.id == timer_id, CaseTimerRow.fired_at.is_(None))
                .values(fired_at=now)
                .returning(
                    CaseTimerRow.kind,
                    CaseTimerRow.due_at,
                    CaseTimerRow.assignee,
                    CaseTimerRow.created_at,
                )
            ).one_or_none()
            if claimed is None:
                return None
            kind, due_at, assignee, set_at = claimed
            row, location = found
            team = team_of(row.team)
            status = CaseStatus(row.status)
            # Nobody was on call when it opened (or all declined): someone may be by now (a
            # shift started), and whoever only let an acceptance deadline pass is asked
            # again (a phone in a pocket is no refusal; a decline in person stands).
            # Whatever the deadline decided still happens after.
            dispatched = (
                status in ACTIVE
                and not team
                and auto_dispatch(session, self._policy, row, now, offer_again=True)
            )
            pages, unpaged = _pages(session, row, TimerKind(kind), assignee, set_at)
            facts = SupervisedCase(
                status=status,
                category=CaseCategory(row.category),
                acknowledged=row.acknowledged_at is not None,
                waiting=pending(team),
                escalation_level=row.escalation_level,
                # A case without a site has no roster to look in (a hub without one).
                staffed=bool(team) or dispatched or row.site_id is None,
                pages=pages,
            )
            outcome = on_timer(
                facts,
                Timer(TimerKind(kind), due_at, assignee, set_at),
                now,
                self._policy.supervision,
            )
            match outcome:
                case Satisfied():
                    if not dispatched:
                        return None
                case Postpone(next=again):
                    # Their page has not gone out (the gateway is down) or went out late:
                    # they have not been asked yet, so they are not taken off for silence.
                    logger.info(
                        "case %s: %s's page went out at %s; acceptance deadline now %s",
                        row.id,
                        assignee,
                        facts.pages.get(assignee or ""),
                        again.due_at,
                    )
                    postpone(session, timer_id, again.due_at)
                    if not dispatched:
                        return None
                case Watch(next=again):
                    # Taken on, nobody going, nobody found now: look again, quietly, on this
                    # same row (a new row a look was 1,440 fired rows a day, never pruned).
                    rearm(session, timer_id, again, now)
                    return None
                case Reassign(silent=silent):
                    before = CaseStatus(row.status)
                    moved = transition(before, CaseAction.DECLINE, waiting=True)
                    gone = member(team, silent)
                    assert gone is not None
                    cancel_acceptances(session, row, team, without(team, gone), now)
                    team = without(team, gone)
                    row.declined = sorted({*row.declined, silent})
                    settle_team(
                        session,
                        self._policy,
                        row,
                        team,
                        before,
                        moved,
                        now,
                        CaseEventAction.DECLINED,
                        note=(
                            f"{silent} is off the roster"
                            if _off_the_roster(session, silent, row.site_id)
                            else f"{silent} could not be paged: the page was given up"
                            if unpaged
                            else f"{silent} did not accept in time"
                        ),
                        detail={"declined_by": silent, "by": SUPERVISION},
                    )
                    # Nobody left: escalate now, unless the case's acknowledgement chain
                    # runs (not taken on yet), which escalates it on its own schedule and
                    # asks the silent again (above): a second chain would page twice. A case
                    # taken on has no chain left, whatever deadline is pending: that one
                    # finds it acknowledged and does nothing, so waiting for it never ends.
                    if (
                        not auto_dispatch(session, self._policy, row, now)
                        and not team
                        and (facts.acknowledged or not acknowledgement_pending(session, row.id))
                    ):
                        self._escalate(
                            session,
                            row,
                            escalate_unassignable(facts, now, self._policy.supervision),
                            now,
                        )
                case Escalate():
                    self._escalate(session, row, outcome, now)
            session.flush()
            return case_view(row, location, members(session, [row.id])[row.id])

    def _escalate(
        self, session: Session, row: CaseRow, escalation: Escalate, now: datetime
    ) -> None:
        escalate(session, self._policy, row, escalation, now)


def escalate(
    session: Session,
    policy: CasePolicy,
    row: CaseRow,
    escalation: Escalate,
    now: datetime,
    *,
    why: str | None = None,
) -> None:
    """Move ``row`` up to the escalation's level, say so (and ``why``, if not a deadline) in
    its history, and start the next deadline of its chain."""
    row.escalation_level = escalation.level
    row.updated_at = now
    name = policy.supervision.level_name(escalation.level)
    late = "done" if escalation.overdue is TimerKind.RESOLVE else "taken on"
    if why is None:
        why = f"still not {late}" if escalation.repeated else f"not {late} in time"
    add_event(
        session,
        policy,
        row.id,
        now,
        CaseEventAction.ESCALATED,
        note=(
            f"{why}: notified the {name} level again"
            if escalation.repeated
            else f"{why}: escalated to the {name} level"
        ),
        detail={"level": str(escalation.level), "level_name": name},
    )
    if escalation.next.kind is TimerKind.ACKNOWLEDGE:
        # One acknowledgement chain per case: a case nobody could be found for escalates
        # from its acceptance deadline while its acknowledgement deadline may be pending.
        retire_acknowledgements(session, row.id, now)
    schedule(session, row.id, escalation.next, now)


def escalate_unassigned(session: Session, policy: CasePolicy, row: CaseRow, now: datetime) -> None:
    """Escalate a case taken on that has nobody on it and nobody on call to offer it to: the
    community cannot go, so the next level hears of it now, not at a deadline (there is none
    left for it: its acknowledgement deadline finds it taken on and does nothing)."""
    facts = SupervisedCase(
        status=CaseStatus(row.status),
        category=CaseCategory(row.category),
        acknowledged=row.acknowledged_at is not None,
        waiting=pending(team_of(row.team)),
        escalation_level=row.escalation_level,
    )
    escalation = escalate_unassignable(facts, now, policy.supervision)
    escalate(session, policy, row, escalation, now, why="nobody left on call to go")
