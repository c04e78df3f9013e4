"""The cases' repository: reading alerts and cases, and people's actions on a case."""

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.cases.actions import ActionOutcome, CaseFacts, PersonAction, check_request, decide_action
from hub.cases.correlation import CaseCategory
from hub.cases.deadlines import escalate_unassigned
from hub.cases.dispatch import Duty, team_of
from hub.cases.records import (
    CasePolicy,
    add_event,
    alert_view,
    case_view,
    cases_query,
    event_view,
    members,
    store_team,
)
from hub.cases.rules import ACTIVE, CaseAction, CaseStatus, Resolution
from hub.cases.staffing import auto_dispatch, fill
from hub.cases.timers import (
    cancel_acceptances,
    retire_acknowledgements,
    schedule_acceptance,
    schedule_acknowledgement,
    schedule_resolution,
)
from hub.cases.views import AlertView, CaseDetail, CaseView
from hub.errors import IllegalTransitionError, NotFoundError
from hub.persistence.tables import AlertRow, CaseEventRow, CaseRow, ResponderRow
from hub.persistence.transactions import Database
from hub.roster.repository import responder_from_row
from hub.roster.rules import Responder


class CaseRepository:
    """Reads alerts and cases and applies people's actions; a public method is a transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy

    def list_alerts(
        self,
        *,
        device_id: str | None = None,
        kind: AlertKind | None = None,
        case_id: int | None = None,
        limit: int = 100,
        device_ids: frozenset[str] | None = None,
    ) -> list[AlertView]:
        """Return alerts, newest event time first (only of ``device_ids``, if given)."""
        query = select(AlertRow).order_by(AlertRow.ts.desc(), AlertRow.id.desc()).limit(limit)
        if device_ids is not None:
            query = query.where(AlertRow.device_id.in_(sorted(device_ids)))
        if device_id is not None:
            query = query.where(AlertRow.device_id == device_id)
        if kind is not None:
            query = query.where(AlertRow.kind == kind.value)
        if case_id is not None:
            query = query.where(AlertRow.case_id == case_id)
        with self._db.reading() as session:
            return [alert_view(row) for row in session.scalars(query)]

    def list_cases(
        self,
        *,
        status: CaseStatus | None = None,
        limit: int = 100,
        sites: frozenset[str] | None = None,
    ) -> list[CaseView]:
        """Return cases, most recently updated first (only those of ``sites``, if given)."""
        query = cases_query().order_by(CaseRow.updated_at.desc(), CaseRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(CaseRow.status == status.value)
        if sites is not None:
            query = query.where(CaseRow.site_id.in_(sorted(sites)))
        with self._db.reading() as session:
            found = list(session.execute(query))
            joined = members(session, [row.id for row, _ in found])
            return [case_view(row, location, joined[row.id]) for row, location in found]

    def case_scope(self, case_id: int) -> tuple[str | None, frozenset[str]] | None:
        """Return a case's site id and the responders on its team, or None if there is no
        such case."""
        with self._db.reading() as session:
            found = session.execute(
                select(CaseRow.site_id, CaseRow.team).where(CaseRow.id == case_id)
            ).one_or_none()
        if found is None:
            return None
        return found[0], frozenset(a.responder for a in team_of(found[1]))

    def get_case(self, case_id: int) -> CaseDetail:
        """Return one case with its alerts (oldest first) and history, or raise NotFoundError."""
        with self._db.reading() as session:
            found = session.execute(cases_query().where(CaseRow.id == case_id)).one_or_none()
            if found is None:
                raise NotFoundError(f"case {case_id} does not exist")
            row, location = found
            alerts = session.scalars(
                select(AlertRow)
                .where(AlertRow.case_id == case_id)
                .order_by(AlertRow.ts, AlertRow.id)
            )
            events = session.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case_id)
                .order_by(CaseEventRow.id)
            )
            joined = members(session, [row.id])[row.id]
            return CaseDetail(
                **case_view(row, location, joined).model_dump(),
                alerts=[alert_view(a) for a in alerts],
                events=[event_view(e) for e in events],
            )

    def acknowledge(
        self, case_id: int, note: str | None = None, *, actor: str | None = None
    ) -> CaseView:
        """Acknowledge a case: someone has seen it and is on it."""
        return self.act(case_id, CaseAction.ACKNOWLEDGE, note=note, actor=actor)

    def resolve(
        self, case_id: int, note: str, *, resolution: Resolution, actor: str | None = None
    ) -> CaseView:
        """Resolve a case with its resolution code; the note saying how is required."""
        return self.act(case_id, CaseAction.RESOLVE, note=note, actor=actor, resolution=resolution)

    def act(
        self,
        case_id: int,
        action: CaseAction,
        *,
        note: str | None = None,
        actor: str | None = None,
        resolution: Resolution | None = None,
        assignee: str | None = None,
        for_self: bool = False,
        if_match: frozenset[int] | None = None,
    ) -> CaseView:
        """Apply a person's action to a case, or raise IllegalTransitionError saying why not.

        Resolving needs a resolution code and a note; handing over needs an assignee.
        ``for_self``: the actor (a responder's account) acts only for themselves, checked on
        the team as the case's row lock holds it (``PersonAction.for_self``). ``if_match``:
        the versions of the case the actor saw; at another, StaleVersionError and nothing
        changes, checked on the version as the row lock holds it (a second worker acting at
        once sees the first's). What the action does is
        ``hub.cases.actions.decide_action``'s; this loads what it needs and stores what it
        returns.
        """
        request = PersonAction(action, actor, note, resolution, assignee, for_self, if_match)
        check_request(request)
        with self._db.writing() as session:
            found = _locked(session, case_id)
            # Read once the case is locked (and, on SQLite, the write turn taken): a time read
            # before the wait could be earlier than the line another action chained meanwhile,
            # and a resolution earlier than the case's last history line (outside review).
            return self._apply(session, found, request, self._db.clock())

    def act_in(
        self, session: Session, case_id: int, request: PersonAction, now: datetime
    ) -> CaseView:
        """Apply a person's action to a case inside the caller's transaction (``act``'s core,
        for a feature whose own change must commit together with the case's)."""
        check_request(request)
        return self._apply(session, _locked(session, case_id), request, now)

    def _apply(
        self,
        session: Session,
        found: tuple[CaseRow, str | None],
        request: PersonAction,
        now: datetime,
    ) -> CaseView:
        """Decide a person's action on the locked case ``found`` and store what it does."""
        row, location = found
        # As locked: placing the case for a dispatch (``fill``) may write it, and raise it.
        version = row.version
        team = team_of(row.team)
        named: Responder | None = None
        on_call: list[tuple[Duty, Responder]] = []
        if request.assignee is not None:
            named_row = session.get(ResponderRow, request.assignee.strip())
            named = None if named_row is None else responder_from_row(named_row)
        elif request.action is CaseAction.DISPATCH:
            on_call = fill(session, row, team, now)
        facts = replace(facts_of(row), version=version)
        outcome = decide_action(facts, request, now, named=named, on_call=on_call)
        if outcome.reclaim_key and not self._claim_key(session, row):
            raise IllegalTransitionError(
                f"case {row.id} cannot be reopened: another case is active for the same incident"
            )
        self._store(session, row, outcome, now, note=request.note, actor=request.actor)
        session.flush()
        joined = members(session, [row.id])[row.id]
        return case_view(row, location, joined)

    def _store(
        self,
        session: Session,
        row: CaseRow,
        outcome: ActionOutcome,
        now: datetime,
        *,
        note: str | None,
        actor: str | None,
    ) -> None:
        """Write an action's outcome to the case row and carry out what follows it."""
        if outcome.resolution is not None:
            # Frees the correlation key: the next alert reopens or opens a case.
            row.open_key = None
            row.resolution = outcome.resolution.value
            row.resolved_at = now
        if outcome.status not in ACTIVE:
            retire_acknowledgements(session, row.id, now)  # ended: nothing left to escalate
        if outcome.reset_escalation:
            row.escalation_level = 0
        row.declined = list(outcome.declined)
        cancel_acceptances(session, row, team_of(row.team), outcome.team, now)
        store_team(row, outcome.team)
        row.status = outcome.status.value
        row.updated_at = now
        row.acknowledged_at = outcome.acknowledged_at
        add_event(
            session,
            self._policy,
            row.id,
            now,
            outcome.event,
            note=note or None,
            actor=actor,
            detail=outcome.detail,
        )
        for assignment in outcome.added:
            schedule_acceptance(session, self._policy, row, assignment.responder, now)
        if outcome.schedule_acknowledgement:
            # Reopened: both clocks start again (a request's 48 h too; the first attempt's
            # deadline retired, else it fired on top of the new one, or, fired while the case
            # was resolved, left the reopened one never to climb).
            schedule_acknowledgement(session, self._policy, row, now)
            schedule_resolution(session, self._policy, row, now)
        if (
            outcome.redispatch
            and not auto_dispatch(session, self._policy, row, now)
            and outcome.acknowledged_at is not None
            and outcome.status in ACTIVE
            and not team_of(row.team)
        ):
            # Its last responder declined, nobody else is on call, and it was taken on: as
            # when the last one lets the acceptance deadline pass, the next level hears of it
            # now (before, it sat with nobody on it and no deadline left to climb).
            escalate_unassigned(session, self._policy, row, now)

    def _claim_key(self, session: Session, row: CaseRow) -> bool:
        try:
            with session.begin_nested():
                row.open_key = row.correlation_key
                row.resolution = None
                row.resolved_at = None
                session.flush()
        except IntegrityError:
            return False
        return True


def _locked(session: Session, case_id: int) -> tuple[CaseRow, str | None]:
    """Return the case ``case_id`` and its location, its row locked for the transaction."""
    found = session.execute(
        cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"case {case_id} does not exist")
    row, location = found
    return row, location


def facts_of(row: CaseRow) -> CaseFacts:
    """Return what an action on the case in ``row`` is decided on."""
    return CaseFacts(
        id=row.id,
        status=CaseStatus(row.status),
        category=CaseCategory(row.category),
        team=team_of(row.team),
        declined=tuple(row.declined),
        acknowledged_at=row.acknowledged_at,
        site_id=row.site_id,
        version=row.version,
    )
