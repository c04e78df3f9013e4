"""What the care watch tells, within a household's transaction: the family of an SOS, and an
open wellbeing check (and the family told of it) of what has happened at the home since it was
raised — a sign of life, or an SOS. ``hub.care.repository`` decides when; this module writes
the case lines and queues the notices.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, Severity
from hub.cases.notices import enqueue_notices
from hub.cases.notify import Channel
from hub.cases.records import CasePolicy, add_event, case_view, members
from hub.cases.rules import ACTIVE, CaseEventAction, CaseStatus
from hub.cases.views import CaseView
from hub.persistence.community import CareProfileRow
from hub.persistence.tables import (
    CaseEventRow,
    CaseMemberRow,
    CaseRow,
    HouseholdRow,
    NotificationRow,
)
from hub.residents.repository import buttons
from hub.residents.rules import web_device_id

logger = logging.getLogger(__name__)

SOS_TOLD_WITHIN = timedelta(hours=1)
"""How recent an SOS the family was not told of is told although it is no longer open: one
the patrol closed before the next round (a minute) reaches them too; older ones are not told
now (those closed before this rule was written, or while care was off)."""

SEEN_AGAIN = "a sign of life"
"""How the note on an open wellbeing check that a sign of life has been seen since begins."""

SOS_ON_CHECK = "an SOS"
"""How the note on an open wellbeing check that the resident has pressed SOS since begins."""

Targets = list[tuple[Channel, str]]


def sos_devices(session: Session, household_id: int) -> list[str]:
    """Return the devices a household's SOS comes from: its buttons and its phone page."""
    return [*buttons(session, household_id).get(household_id, []), web_device_id(household_id)]


def withdraw_from_removed(
    session: Session, household_id: int, removed: set[str], alarm_case_id: int | None, now: datetime
) -> int:
    """Give up the family notices not yet delivered to contacts just removed from a household
    (its SOS cases' and its wellbeing check's): a contact taken off (a family that fell out, a
    number that changed hands) hears nothing more, also of what was queued before. Return how
    many were given up."""
    if not removed:
        return 0
    household_cases = select(CaseMemberRow.case_id).where(
        CaseMemberRow.kind == AlertKind.SOS.value,
        CaseMemberRow.device_id.in_(sos_devices(session, household_id)),
    )
    of_household: ColumnElement[bool] = NotificationRow.case_id.in_(household_cases)
    if alarm_case_id is not None:
        of_household = of_household | (NotificationRow.case_id == alarm_case_id)
    withdrawn = session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.target.in_(sorted(removed)),
            of_household,
            NotificationRow.delivered_at.is_(None),
            NotificationRow.failed_at.is_(None),
        )
        .values(
            next_attempt_at=None,
            failed_at=now,
            last_error="the contact was removed from the household's care",
        )
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(withdrawn, "rowcount", 0))
    if count:
        logger.info("household %s: %d notices to removed contacts given up", household_id, count)
    return count


def sos_to_family(
    session: Session,
    policy: CasePolicy,
    row: CareProfileRow,
    household: HouseholdRow,
    targets: Targets,
    now: datetime,
) -> list[CaseView]:
    """Give a care household's active SOS cases the highest priority and tell the family
    (once per case and contact), also of one handled before this round came to it."""
    cases = (
        session.scalars(
            select(CaseRow)
            .join(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
            .where(
                CaseMemberRow.kind == AlertKind.SOS.value,
                CaseMemberRow.device_id.in_(sos_devices(session, household.id)),
                or_(
                    CaseRow.status.in_([s.value for s in ACTIVE]),
                    CaseRow.opened_at >= now - SOS_TOLD_WITHIN,
                ),
                CaseRow.opened_at >= row.watched_since,
            )
            .with_for_update(of=CaseRow)
        )
        .unique()
        .all()
    )
    changed: list[CaseView] = []
    for case in cases:
        told = set(
            session.scalars(
                select(NotificationRow.target).where(NotificationRow.case_id == case.id)
            )
        )
        fresh = [(channel, target) for channel, target in targets if target not in told]
        active = CaseStatus(case.status) in ACTIVE
        raised = active and case.priority != Severity.CRITICAL.value
        if not fresh and not raised:
            continue
        if raised:
            case.priority = Severity.CRITICAL.value
            case.updated_at = now
        handled = "" if active else f", already handled ({case.status})"
        note = f"SOS from {household.name}, a care household{handled}: family notified"
        event = CaseEventAction.OPENED if active else CaseEventAction.RESOLVED
        tell(session, policy, case.id, note, "sos", fresh, event, now)
        changed.append(case_view(case, household.location, members(session, [case.id])[case.id]))
    return changed


def check_to_new_contacts(
    session: Session,
    policy: CasePolicy,
    row: CareProfileRow,
    household: HouseholdRow,
    targets: Targets,
    now: datetime,
) -> list[CaseView]:
    """Send the open wellbeing check's opening notice to the family contacts not yet told of
    it (one added, or whose target was corrected, while it is open), once each.

    As an SOS reaches a contact added while it is open (``sos_to_family``): the son added
    because the daughter cannot be reached would otherwise hear nothing until the check ends.
    """
    told = set(
        session.scalars(
            select(NotificationRow.target).where(NotificationRow.case_id == row.alarm_case_id)
        )
    )
    fresh = [(channel, target) for channel, target in targets if target not in told]
    if not fresh:
        return []
    case = session.get_one(CaseRow, row.alarm_case_id, with_for_update=True)
    opened = session.scalar(
        select(CaseEventRow.note)
        .where(
            CaseEventRow.case_id == case.id,
            CaseEventRow.action == CaseEventAction.OPENED.value,
        )
        .order_by(CaseEventRow.id)
        .limit(1)
    )
    enqueue_notices(
        session,
        fresh,
        case.id,
        CaseEventAction.OPENED,
        now,
        opened,
        supervision=policy.supervision,
    )
    session.flush()
    logger.info("household %s: check %s told to %d new contacts", household.id, case.id, len(fresh))
    return [_as_it_stands(session, case, household)]


def check_told(session: Session, case_id: int, opening: str) -> bool:
    """Return whether the care watch has already added a line beginning ``opening`` to the
    case."""
    told = session.scalar(
        select(func.count())
        .select_from(CaseEventRow)
        .where(
            CaseEventRow.case_id == case_id,
            CaseEventRow.actor == "hub-care",
            CaseEventRow.note.startswith(opening),
        )
    )
    return bool(told)


def seen_again(
    session: Session,
    policy: CasePolicy,
    row: CareProfileRow,
    household: HouseholdRow,
    targets: Targets,
    last: datetime,
    now: datetime,
) -> list[CaseView]:
    """Tell the open wellbeing check, and the family told of it, that a sign of life has
    been seen since (a late one too: an edge's backlog after an outage), once per check;
    the check stays open until the person who goes closes it."""
    case = session.get_one(CaseRow, row.alarm_case_id, with_for_update=True)
    if check_told(session, case.id, SEEN_AGAIN):
        return []
    note = (
        f"{SEEN_AGAIN} at {household.name} at {last.isoformat()}, learnt after this check was "
        "raised: it stays open until whoever checks closes it"
    )
    tell(session, policy, case.id, note, "seen_again", targets, CaseEventAction.COMMENTED, now)
    logger.info("household %s: a sign of life at %s, check %s", household.id, last, case.id)
    return [_as_it_stands(session, case, household)]


def sos_on_check(
    session: Session,
    policy: CasePolicy,
    row: CareProfileRow,
    household: HouseholdRow,
    pressed: datetime,
    now: datetime,
) -> list[CaseView]:
    """Tell the open wellbeing check that the resident pressed SOS since it was raised, and
    which case that is, once per SOS case; the family is not sent it as a sign of life.

    A press proves someone was there, but it is a call for help, not news that all is well:
    the family hears of it as an SOS (``sos_to_family``), and whoever goes to the check reads
    here that an SOS case stands beside it.
    """
    case = session.get_one(CaseRow, row.alarm_case_id, with_for_update=True)
    sos = session.scalar(
        select(CaseMemberRow.case_id)
        .where(
            CaseMemberRow.kind == AlertKind.SOS.value,
            CaseMemberRow.device_id.in_(sos_devices(session, household.id)),
        )
        .order_by(CaseMemberRow.last_alert_at.desc(), CaseMemberRow.case_id.desc())
        .limit(1)
    )
    # An SOS case is found for every press the intake kept; should none be, the press is named.
    opening = f"{SOS_ON_CHECK} (case {sos})" if sos is not None else f"{SOS_ON_CHECK} press"
    if check_told(session, case.id, opening):
        return []
    note = (
        f"{opening} from {household.name} at {pressed.isoformat()}, after this check was "
        "raised: see that case; this check stays open until whoever checks closes it"
    )
    tell(session, policy, case.id, note, "sos_on_check", [], CaseEventAction.COMMENTED, now)
    logger.info("household %s: an SOS (case %s) during check %s", household.id, sos, case.id)
    return [_as_it_stands(session, case, household)]


def _as_it_stands(session: Session, case: CaseRow, household: HouseholdRow) -> CaseView:
    """Return the household's check (or SOS) case as it stands now, for the live stream."""
    return case_view(case, household.location, members(session, [case.id])[case.id])


def tell(
    session: Session,
    policy: CasePolicy,
    case_id: int,
    note: str,
    why: str,
    targets: Targets,
    event: CaseEventAction,
    now: datetime,
) -> None:
    """Add the care watch's ``commented`` line to a case (``"care": why``) and send its
    note to ``targets`` (the family) as a notice of ``event``."""
    add_event(
        session,
        policy,
        case_id,
        now,
        CaseEventAction.COMMENTED,
        note=note,
        actor="hub-care",
        detail={"care": why},
    )
    if targets:
        enqueue_notices(session, targets, case_id, event, now, note, supervision=policy.supervision)
    session.flush()
