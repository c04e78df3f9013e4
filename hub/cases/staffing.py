"""Filling a case's team from the roster: the hub's own dispatch."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import (
    NEIGHBOUR_HELP,
    Assignment,
    Duty,
    Team,
    fill_team,
    ordered,
    pending,
    team_of,
    team_status,
)
from hub.cases.records import CasePolicy, add_event, store_team
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, transition
from hub.cases.timers import schedule_acceptance
from hub.persistence.community import RequestRow
from hub.persistence.tables import AuditEntryRow, CaseRow, DeviceRow, ResponderRow, SiteRow
from hub.positions.repository import latest_positions
from hub.positions.rules import distances, parse_map, place_coordinates
from hub.roster.repository import placement, responder_from_row
from hub.roster.rules import Responder


def fill(
    session: Session,
    row: CaseRow,
    team: Team,
    now: datetime,
    *,
    placed: bool = False,
    offer_again: bool = False,
) -> list[tuple[Duty, Responder]]:
    """Return whom the dispatch rules add to the case's team now, one per free duty.

    ``placed``: the case was placed in this transaction (opened), so a case without a site
    has none to find yet. ``offer_again``: responders who let their acceptance deadline pass
    may be chosen again (``declined_in_person``); those who declined it never are.
    """
    if row.site_id is None:
        if placed:
            return []
        # Opened before its site was on the roster: place it now.
        site, grid = placement(session, row.device_id)
        if site is None:
            return []
        row.site_id, row.grid_id = site.id, None if grid is None else grid.id
    site_row = session.get(SiteRow, row.site_id)
    if site_row is None:
        return []
    responders = [
        responder_from_row(r)
        for r in session.scalars(select(ResponderRow).where(ResponderRow.site_id == row.site_id))
    ]
    category = CaseCategory(row.category)
    welcome = category is CaseCategory.REQUEST and session.scalar(
        select(RequestRow.volunteers).where(RequestRow.case_id == row.id)
    )
    return fill_team(
        category,
        team,
        row.site_id,
        row.grid_id,
        responders,
        now,
        site_row.timezone,
        declined=declined_in_person(session, row) if offer_again else row.declined,
        extra=(NEIGHBOUR_HELP,) if welcome else (),
        distances=_distances(session, row, site_row, responders, now),
    )


def _distances(
    session: Session, row: CaseRow, site: SiteRow, responders: list[Responder], now: datetime
) -> dict[str, float] | None:
    """Return how far each responder with a fresh position is from the case's place, metres;
    None where the site has no map or the case's place is not on it (nothing more is read)."""
    if not site.map:
        return None
    location = row.place or session.scalar(
        select(DeviceRow.location).where(DeviceRow.id == row.device_id)
    )
    target = place_coordinates(parse_map(site.map), location or "")
    if target is None:
        return None
    return distances(target, latest_positions(session, [r.id for r in responders]), now)


SUPERVISION = "supervision"
"""The ``by`` of a ``declined`` line the supervisor writes for a responder who let the
acceptance deadline pass: silence, not a decline (``declined_in_person``)."""


def declined_in_person(session: Session, row: CaseRow) -> list[str]:
    """Return those of the case's decliners who declined it: themselves, or an operator on
    their behalf (the responder rang the control room). The others only let their acceptance
    deadline pass (the supervisor's ``declined`` lines, ``"by": "supervision"``). Read from
    the audit trail, whose declined lines name the responder (``declined_by``) whoever acted."""
    said = {
        detail.get("declined_by")
        for detail in session.scalars(
            select(AuditEntryRow.detail).where(
                AuditEntryRow.case_id == row.id,
                AuditEntryRow.action == CaseEventAction.DECLINED.value,
            )
        )
        if detail.get("by") != SUPERVISION
    }
    return [responder for responder in row.declined if responder in said]


def auto_dispatch(
    session: Session,
    policy: CasePolicy,
    row: CaseRow,
    now: datetime,
    *,
    placed: bool = False,
    offer_again: bool = False,
) -> bool:
    """Give each free duty of an active case to the responder the rules choose, if anyone
    is on call; return whether anyone was added (``placed``, ``offer_again`` as for
    ``fill``)."""
    team = team_of(row.team)
    found = fill(session, row, team, now, placed=placed, offer_again=offer_again)
    if not found:
        return False
    before = CaseStatus(row.status)
    moved = transition(before, CaseAction.DISPATCH, waiting=bool(pending(team)))
    added = [Assignment(duty.name, responder.id) for duty, responder in found]
    team = ordered(CaseCategory(row.category), (*team, *added))
    names = ", ".join(
        f"{responder.name} ({responder.role}, {duty.name})" for duty, responder in found
    )
    settle_team(
        session,
        policy,
        row,
        team,
        before,
        moved,
        now,
        CaseEventAction.DISPATCHED,
        note=f"dispatched by the hub to {names}, grid {row.grid_id}",
        detail={"assignee": ", ".join(a.responder for a in added)},
    )
    for assignment in added:
        schedule_acceptance(session, policy, row, assignment.responder, now)
    session.flush()
    return True


def settle_team(
    session: Session,
    policy: CasePolicy,
    row: CaseRow,
    team: Team,
    before: CaseStatus,
    moved: CaseStatus,
    now: datetime,
    event: CaseEventAction,
    *,
    note: str,
    detail: dict[str, str],
) -> None:
    """Store a case's new team and the status it settles at after a move from ``before`` to
    ``moved``; add the history line (``detail`` after the move's ``from`` and ``to``)."""
    store_team(row, team)
    status = team_status(before, moved, team)
    row.status = status.value
    row.updated_at = now
    add_event(
        session,
        policy,
        row.id,
        now,
        event,
        note=note,
        detail={"from": before.value, "to": status.value, **detail},
    )
