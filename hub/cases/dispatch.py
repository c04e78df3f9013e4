"""Dispatch, the pure core: which responders a case goes to, and what their answers do.

A case is dispatched to a **team**: one responder for each **duty** its category needs. A
life-safety case (fire, CO, gas, SOS) needs someone for the place — the grid worker, else
property staff — *and* the security patrol, who go together (PRODUCT.md scenario 1); a
security case needs the patrol (else the grid worker); property damage the property staff
(else maintenance, else the grid worker); maintenance the maintenance staff (else property);
a resident's request (``hub.requests``) maintenance, else property staff, else the grid worker;
a wellbeing check on a care household (``hub.care``) the grid worker, else property staff,
and a volunteer neighbour beside them. A volunteer is never chosen for any other duty: an
operator may send one to any case as extra help (``HELPER_DUTY``), never instead of staff.

For each duty the hub picks an on-call responder of the case's site whose role fits the
duty (earlier roles first), preferring those who cover the case's grid over site-wide ones,
then the nearest to the case's place where the site's map and their phones tell
(``hub.positions``: a fresh position, as far as its fix could place them, its distance plus
its reported accuracy; one without counts as farther than any with), never
someone who declined the case and never someone already on its team. Ties go to the lowest
responder id, so every hub worker makes the same choice. A duty nobody fits stays
empty; the case is then with the rest of its team, or, with nobody at all, waits for an
operator (and its deadlines escalate it).

Each member answers for themself: accepting marks their own assignment, declining (or not
answering in time) frees their duty for the next responder. The case's status follows its
team (``hub.cases.settle``).

Nothing here does I/O or reads the clock.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseStatus, settle
from hub.roster.rules import Responder, ResponderRole, on_call


@dataclass(frozen=True, slots=True)
class Duty:
    """One job on a case's team and the roles that can do it, most suitable first."""

    name: str
    roles: tuple[ResponderRole, ...]


DUTIES_FOR: dict[CaseCategory, tuple[Duty, ...]] = {
    CaseCategory.LIFE_SAFETY: (
        Duty("area", (ResponderRole.GRID_WORKER, ResponderRole.PROPERTY)),
        Duty("patrol", (ResponderRole.SECURITY,)),
    ),
    CaseCategory.SECURITY: (Duty("patrol", (ResponderRole.SECURITY, ResponderRole.GRID_WORKER)),),
    CaseCategory.PROPERTY: (
        Duty(
            "property",
            (ResponderRole.PROPERTY, ResponderRole.MAINTENANCE, ResponderRole.GRID_WORKER),
        ),
    ),
    CaseCategory.MAINTENANCE: (
        Duty("maintenance", (ResponderRole.MAINTENANCE, ResponderRole.PROPERTY)),
    ),
    CaseCategory.REQUEST: (
        Duty(
            "service",
            (ResponderRole.MAINTENANCE, ResponderRole.PROPERTY, ResponderRole.GRID_WORKER),
        ),
    ),
    CaseCategory.SUPERVISION: (
        Duty(
            "site", (ResponderRole.MAINTENANCE, ResponderRole.PROPERTY, ResponderRole.GRID_WORKER)
        ),
    ),
    CaseCategory.WELLBEING: (
        Duty("check", (ResponderRole.GRID_WORKER, ResponderRole.PROPERTY)),
        Duty("neighbour", (ResponderRole.VOLUNTEER,)),
    ),
}
"""The team each category of case is dispatched to, lead duty first. A volunteer fills only
the wellbeing check's ``neighbour`` duty, beside the staff member who leads it."""

NEIGHBOUR_HELP = Duty("neighbour", (ResponderRole.VOLUNTEER,))
"""The extra duty of a request that welcomes a volunteer (``hub.requests``): filled only once
every staff duty of the case is, so a volunteer helps and never stands in for staff."""

HELPER_DUTY = "helper"
"""The duty of a volunteer an operator sends to a case whose duties are all staff's: extra
help beside the team, never in a staff member's place (and never chosen by the hub)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """A responder on a case's team, for one duty; ``accepted`` once they said yes (接单)."""

    duty: str
    responder: str
    accepted: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the assignment as stored in the case row."""
        return {"duty": self.duty, "responder": self.responder, "accepted": self.accepted}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Assignment":
        """Return the assignment stored as ``data``."""
        return cls(str(data["duty"]), str(data["responder"]), bool(data.get("accepted", False)))


Team = tuple[Assignment, ...]


def choose_responder(
    roles: Sequence[ResponderRole],
    site_id: str,
    grid_id: str | None,
    responders: Iterable[Responder],
    now: datetime,
    timezone: str,
    *,
    exclude: Iterable[str] = (),
    distances: Mapping[str, float] | None = None,
) -> Responder | None:
    """Return the responder with one of ``roles`` a case should go to now, or None.

    ``distances``: metres from each responder whose position is known to the case's place.
    """
    excluded = set(exclude)
    far = math.inf
    ranked: list[tuple[int, int, float, str, Responder]] = []
    for responder in responders:
        if responder.site_id != site_id or responder.id in excluded:
            continue
        if responder.role not in roles:
            continue
        if responder.grid_ids and (grid_id is None or grid_id not in responder.grid_ids):
            continue
        if not on_call(responder, now, timezone):
            continue
        site_wide = 0 if responder.grid_ids else 1
        distance = far if distances is None else distances.get(responder.id, far)
        ranked.append((roles.index(responder.role), site_wide, distance, responder.id, responder))
    return min(ranked, key=lambda r: r[:4])[4] if ranked else None


def fill_team(
    category: CaseCategory,
    team: Team,
    site_id: str,
    grid_id: str | None,
    responders: Sequence[Responder],
    now: datetime,
    timezone: str,
    *,
    declined: Iterable[str] = (),
    extra: Sequence[Duty] = (),
    distances: Mapping[str, float] | None = None,
) -> list[tuple[Duty, Responder]]:
    """Return who to add for each duty of the case's team that nobody holds, lead first.

    Nobody who declined the case, and nobody already on its team, is chosen. ``extra`` duties
    (``NEIGHBOUR_HELP``) come after the category's, and only once all of those are held.
    """
    held = {a.duty for a in team}
    busy = {*declined, *(a.responder for a in team)}
    added: list[tuple[Duty, Responder]] = []

    def fill(duties: Iterable[Duty]) -> None:
        for duty in duties:
            if duty.name in held:
                continue
            chosen = choose_responder(
                duty.roles,
                site_id,
                grid_id,
                responders,
                now,
                timezone,
                exclude=busy,
                distances=distances,
            )
            if chosen is not None:
                added.append((duty, chosen))
                busy.add(chosen.id)

    fill(DUTIES_FOR[category])
    staffed = {*held, *(duty.name for duty, _ in added)}
    if all(duty.name in staffed for duty in DUTIES_FOR[category]):
        fill(extra)
    return added


def duty_for(category: CaseCategory, team: Team, role: ResponderRole) -> str:
    """Return the duty a responder named by an operator takes on: the first duty their role
    fits that nobody holds, else the first their role fits, else (a volunteer) extra help,
    else the lead duty."""
    duties = DUTIES_FOR[category]
    fitting = [d.name for d in duties if role in d.roles]
    if not fitting and role is ResponderRole.VOLUNTEER:
        return HELPER_DUTY
    held = {a.duty for a in team}
    free = [name for name in fitting if name not in held]
    return (free or fitting or [duties[0].name])[0]


def ordered(category: CaseCategory, team: Iterable[Assignment]) -> Team:
    """Return the team in duty order (lead duty first), as it is stored and shown."""
    rank = {d.name: i for i, d in enumerate(DUTIES_FOR[category])}
    return tuple(sorted(team, key=lambda a: (rank.get(a.duty, len(rank)), a.duty, a.responder)))


def member(team: Team, responder: str | None) -> Assignment | None:
    """Return ``responder``'s assignment on the team, if they are on it."""
    return next((a for a in team if a.responder == responder), None)


def answering(team: Team, actor: str | None) -> Assignment | None:
    """Return the assignment an accept or decline by ``actor`` answers: their own if they
    are on the team and have not accepted yet, else (an operator answering on someone's
    behalf) the first one still waiting. None if nobody is waiting for an answer.

    A responder's account is no operator: its move is refused before this when it is not on
    the team (``hub.cases.actions.PersonAction.for_self``)."""
    own = member(team, actor)
    if own is not None:
        return None if own.accepted else own
    return next((a for a in team if not a.accepted), None)


def handing_over(team: Team, actor: str | None) -> Assignment | None:
    """Return the assignment a hand-over by ``actor`` passes on: their own if they are on
    the team, else (an operator; a responder's account is refused before this, see
    ``answering``) the first accepted one, else the lead one."""
    own = member(team, actor)
    if own is not None:
        return own
    return next((a for a in team if a.accepted), team[0] if team else None)


def without(team: Team, gone: Assignment) -> Team:
    """Return the team without ``gone``."""
    return tuple(a for a in team if a != gone)


def accepted(team: Team, who: Assignment) -> Team:
    """Return the team with ``who``'s assignment accepted."""
    return tuple(replace(a, accepted=True) if a == who else a for a in team)


def pending(team: Team) -> frozenset[str]:
    """Return the members who have not answered yet."""
    return frozenset(a.responder for a in team if not a.accepted)


def team_status(before: CaseStatus, moved: CaseStatus, team: Team) -> CaseStatus:
    """Return a case's status after an action moved it from ``before`` to ``moved`` and left
    it with ``team`` (``hub.cases.settle``)."""
    return settle(
        before,
        moved,
        anyone_accepted=any(a.accepted for a in team),
        anyone_waiting=bool(pending(team)),
    )


def team_of(stored: Iterable[Mapping[str, Any]] | None) -> Team:
    """Return a case's team as its row stores it."""
    return tuple(Assignment.from_json(a) for a in stored or ())
