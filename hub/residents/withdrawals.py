"""The residents' take-backs of an SOS, stored: ``POST /r/<token>/sos/<case_id>/withdraw``.

What a take-back does is ``hub.residents.withdrawal``'s; this checks that the case is the
household's own (one of its SOS buttons, or its page's virtual one, is among the case's
members; otherwise the same bare 404 as an unknown token), reads whether a take-back already
stands, and writes the line through ``CaseRepository.act_in`` in the same transaction, with
the case row locked: two take-backs at once write one line.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.cases.actions import PersonAction
from hub.cases.repository import CaseRepository
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus
from hub.cases.views import CaseView
from hub.errors import NotFoundError
from hub.persistence.tables import CaseEventRow, CaseMemberRow, CaseRow
from hub.persistence.transactions import Database
from hub.residents.rules import web_device_id
from hub.residents.views import HouseholdView
from hub.residents.withdrawal import (
    WITHDRAWAL_NOTE,
    decide_withdrawal,
    stands,
    withdrawal_actor,
    withdrawal_note,
)


def household_devices(household: HouseholdView) -> list[str]:
    """Return the devices a household's SOS is raised on: its buttons and its page's."""
    return [*household.device_ids, web_device_id(household.id)]


def withdrawal_stands(session: Session, case_id: int, household_id: int) -> bool:
    """Return whether the household's latest take-back of the case is still its latest word
    (False if it never took it back)."""
    last = session.scalar(
        select(CaseEventRow.id)
        .where(
            CaseEventRow.case_id == case_id,
            CaseEventRow.action == CaseEventAction.COMMENTED.value,
            CaseEventRow.actor == withdrawal_actor(household_id),
            CaseEventRow.note.startswith(WITHDRAWAL_NOTE, autoescape=True),
        )
        .order_by(CaseEventRow.id.desc())
        .limit(1)
    )
    if last is None:
        return False
    later = session.scalars(
        select(CaseEventRow.action).where(CaseEventRow.case_id == case_id, CaseEventRow.id > last)
    )
    return stands(later)


class SosWithdrawals:
    """Writes a household's take-back of its SOS on the case; one method, one transaction."""

    def __init__(self, db: Database, cases: CaseRepository) -> None:
        self._db = db
        self._cases = cases

    def withdraw(self, household: HouseholdView, case_id: int) -> CaseView | None:
        """Write the household's take-back on case ``case_id`` and return the case as it now
        is, or None when one already stands (nothing changed). Another household's case, or
        none, is NotFoundError saying nothing more; a resolved or closed one
        IllegalTransitionError."""
        with self._db.writing() as session:
            row = session.get(CaseRow, case_id, with_for_update=True, populate_existing=True)
            kinds = session.scalars(
                select(CaseMemberRow.kind).where(CaseMemberRow.case_id == case_id)
            ).all()
            owned = session.scalar(
                select(CaseMemberRow.case_id).where(
                    CaseMemberRow.case_id == case_id,
                    CaseMemberRow.kind == AlertKind.SOS.value,
                    CaseMemberRow.device_id.in_(household_devices(household)),
                )
            )
            if row is None or owned is None:
                raise NotFoundError("not found")
            # Read once the case is locked, as a person's action reads it (``CaseRepository.act``).
            now = self._db.clock()
            standing = withdrawal_stands(session, case_id, household.id)
            if not decide_withdrawal(case_id, CaseStatus(row.status), standing):
                return None
            action = PersonAction(
                CaseAction.COMMENT,
                actor=withdrawal_actor(household.id),
                note=withdrawal_note(now, kinds),
            )
            return self._cases.act_in(session, case_id, action, now)
