"""Firing due case deadlines, each exactly once across hub workers."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import member, pending, team_of, without
from hub.cases.records import CasePolicy, add_event, case_view, cases_query, members
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, transition
from hub.cases.staffing import auto_dispatch, settle_team
from hub.cases.supervision import (
    Escalate,
    Reassign,
    Satisfied,
    SupervisedCase,
    Timer,
    TimerKind,
    escalate_unassignable,
    on_timer,
)
from hub.cases.timers import cancel_acceptances, schedule
from hub.cases.views import CaseView
from hub.persistence.tables import CaseRow, CaseTimerRow
from hub.persistence.transactions import Database


class DeadlineRepository:
    """Fires due case deadlines; each firing is one transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy

    def fire_due_timers(self, now: datetime, *, limit: int = 100) -> list[CaseView]:
        """Fire the deadlines due at ``now``, each exactly once across hub workers; return the
        cases that changed (escalated or reassigned)."""
        with self._db.reading() as session:
            due = list(
                session.scalars(
                    select(CaseTimerRow.id)
                    .where(CaseTimerRow.fired_at.is_(None), CaseTimerRow.due_at <= now)
                    .order_by(CaseTimerRow.due_at, CaseTimerRow.id)
                    .limit(limit)
                )
            )
        changed: dict[int, CaseView] = {}
        for timer_id in due:
            view = self._fire(timer_id, now)
            if view is not None:
                changed[view.id] = view
        return list(changed.values())

    def _fire(self, timer_id: int, now: datetime) -> CaseView | None:
        with self._db.writing() as session:
            # Whoever sets fired_at first fires it; a worker that loses waits for the winner's
            # row lock, then finds fired_at set and updates nothing.
            claimed = session.execute(
                update(CaseTimerRow)
                .where(CaseTimerRow.id == timer_id, CaseTimerRow.fired_at.is_(None))
                .values(fired_at=now)
                .returning(
                    CaseTimerRow.case_id,
                    CaseTimerRow.kind,
                    CaseTimerRow.due_at,
                    CaseTimerRow.assignee,
                )
            ).one_or_none()
            if claimed is None:
                return None
            case_id, kind, due_at, assignee = claimed
            found = session.execute(
                cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
            ).one()
            row, location = found
            team = team_of(row.team)
            facts = SupervisedCase(
                status=CaseStatus(row.status),
                category=CaseCategory(row.category),
                acknowledged=row.acknowledged_at is not None,
                waiting=pending(team),
                escalation_level=row.escalation_level,
            )
            outcome = on_timer(
                facts, Timer(TimerKind(kind), due_at, assignee), now, self._policy.supervision
            )
            match outcome:
                case Satisfied():
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
                        note=f"{silent} did not accept in time",
                        detail={"declined_by": silent, "by": "supervision"},
                    )
                    if not auto_dispatch(session, self._policy, row, now) and not team:
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
        row.escalation_level = escalation.level
        row.updated_at = now
        name = self._policy.supervision.level_name(escalation.level)
        late = "done" if escalation.overdue is TimerKind.RESOLVE else "taken on"
        add_event(
            session,
            self._policy,
            row.id,
            now,
            CaseEventAction.ESCALATED,
            note=(
                f"still not {late}: notified the {name} level again"
                if escalation.repeated
                else f"not {late} in time: escalated to the {name} level"
            ),
            detail={"level": str(escalation.level), "level_name": name},
        )
        schedule(session, row.id, escalation.next, now)
