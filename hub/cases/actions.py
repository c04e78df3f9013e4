"""People's actions on a case, the pure core: what an action does to a case and what must follow.

``decide_action(case, request, now, ...)`` takes the case as it is (its status, team, the
responders who declined it, whether someone has acknowledged it) and one person's action
(accept, decline, dispatch, hand over, resolve, reopen, comment, …), and returns an
``ActionOutcome``: the case's new status and team, the line for its history, and what the
repository must do next (retire deadlines of members who left, start acceptance deadlines,
free or reclaim the incident's correlation key, dispatch free duties again). It refuses an
illegal action with ``IllegalTransitionError``, bad input with ``InvalidInputError`` and an
action made on a version of the case it has moved on from (``PersonAction.if_match``) with
``StaleVersionError``, saying why; it reads nothing and writes nothing.

The few facts that live in the database are looked up by the repository first and passed
in: the responder a dispatch or hand-over names (``named``), and who the dispatch rules would
choose for the free duties (``on_call``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import (
    Assignment,
    Duty,
    Team,
    accepted,
    answering,
    duty_for,
    handing_over,
    member,
    ordered,
    pending,
    team_status,
    without,
)
from hub.cases.rules import (
    ACKNOWLEDGING,
    ACTION_EVENTS,
    CaseAction,
    CaseEventAction,
    CaseStatus,
    Resolution,
    transition,
)
from hub.errors import IllegalTransitionError, InvalidInputError, StaleVersionError
from hub.roster.rules import Responder


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What an action on a case is decided on."""

    id: int
    status: CaseStatus
    category: CaseCategory
    team: Team
    declined: tuple[str, ...]
    """Responders who declined the case (the dispatch rules pass them over)."""
    acknowledged_at: datetime | None
    site_id: str | None
    version: int = 1
    """The case's version as its row lock holds it (``CaseView.version``)."""


@dataclass(frozen=True, slots=True)
class PersonAction:
    """One person's action on a case."""

    action: CaseAction
    actor: str | None = None
    note: str | None = None
    resolution: Resolution | None = None
    assignee: str | None = None
    """The responder a dispatch or hand-over names (a dispatch without one: the rules choose)."""
    for_self: bool = False
    """The actor acts only for themselves (a responder's account): one of a member's own
    moves (``OWN_ACTIONS``) is refused unless they are on the case's team as it is now.
    Without it, an actor who is not on the team answers for a member, as an operator does."""
    if_match: frozenset[int] | None = None
    """The versions of the case the actor saw (an ``If-Match`` header): the action is refused
    unless the case is at one of them. None: whatever the case has become (no header, ``*``)."""


OWN_ACTIONS = frozenset(
    {CaseAction.ACCEPT, CaseAction.DECLINE, CaseAction.START, CaseAction.HAND_OVER}
)
"""The moves a member of a case's team makes for their own part of it."""


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What an action does to a case, and what the repository must do after it."""

    status: CaseStatus
    team: Team
    added: tuple[Assignment, ...]
    """Members who joined the team: each gets an acceptance deadline."""
    declined: tuple[str, ...]
    acknowledged_at: datetime | None
    event: CaseEventAction
    detail: dict[str, str]
    """The history line's audited detail (from, to, who joined or was removed, resolution)."""
    resolution: Resolution | None = None
    """Set: the case is resolved now, and its correlation key is freed for the next alert."""
    reclaim_key: bool = False
    """Reopening: take the incident's correlation key back (refused if another case holds it)."""
    reset_escalation: bool = False
    schedule_acknowledgement: bool = False
    redispatch: bool = False
    """Give the free duties to whoever is on call now (a decline passes the duty on at once)."""


def check_request(request: PersonAction) -> None:
    """Refuse an action whose input cannot make sense, whatever the case (InvalidInputError)."""
    note = request.note
    match request.action:
        case CaseAction.RESOLVE if request.resolution is None:
            raise InvalidInputError(
                "resolving a case needs a resolution code: "
                + ", ".join(code.value for code in Resolution)
            )
        case CaseAction.RESOLVE if note is None or not note.strip():
            raise InvalidInputError("resolving a case needs a note saying how it was resolved")
        case CaseAction.COMMENT if note is None or not note.strip():
            raise InvalidInputError("a comment needs a note")
        case CaseAction.HAND_OVER if request.assignee is None:
            raise InvalidInputError("handing a case over needs the responder it goes to")
        case _:
            pass
    if request.assignee is not None and not request.assignee.strip():
        raise InvalidInputError("the responder a case goes to cannot be blank")


def check_version(case: CaseFacts, request: PersonAction) -> None:
    """Refuse an action made on a view of the case it has moved on from (StaleVersionError):
    another person or the hub changed it since, and the action was meant for what it was."""
    if request.if_match is None or case.version in request.if_match:
        return
    seen = ", ".join(str(v) for v in sorted(request.if_match)) or "none"
    raise StaleVersionError(
        f"case {case.id} changed since it was read (version {seen}): it is now "
        f"{case.status.value}, version {case.version}; nothing was done: "
        "look at it again and act on it as it is",
        version=case.version,
        status=case.status.value,
    )


def decide_action(
    case: CaseFacts,
    request: PersonAction,
    now: datetime,
    *,
    named: Responder | None = None,
    on_call: Sequence[tuple[Duty, Responder]] = (),
) -> ActionOutcome:
    """Return what ``request`` does to ``case`` at ``now``, or raise saying why it cannot.

    ``named`` is the responder ``request.assignee`` names (None if there is no such
    responder); ``on_call`` whom the dispatch rules choose for the free duties.
    """
    check_request(request)
    check_version(case, request)
    action, team = request.action, case.team
    if request.for_self and action in OWN_ACTIONS and member(team, request.actor) is None:
        # Checked here, on the case as its row lock holds it: the route's check read the team
        # earlier, and a responder taken off since (their acceptance deadline passed) answered
        # for whoever took their place (outside review).
        raise IllegalTransitionError(
            f"case {case.id}: {request.actor} is not on its team (any more): "
            "only a member can answer for their part of it"
        )
    try:
        moved = transition(case.status, action, waiting=bool(pending(team)))
    except IllegalTransitionError as exc:
        raise IllegalTransitionError(f"case {case.id}: {exc}") from exc
    detail: dict[str, str] = {"from": case.status.value}
    added: tuple[Assignment, ...] = ()
    declined = case.declined
    acknowledged_at = case.acknowledged_at
    resolution: Resolution | None = None
    match action:
        case CaseAction.ACKNOWLEDGE if acknowledged_at is not None and moved is case.status:
            # A dispatched case takes an acknowledgement (the hub dispatched it itself), but
            # once: a retried or second one paged the whole team again (outside review). An
            # open one a last decline sent back may be acknowledged again: its status moves.
            raise IllegalTransitionError(
                f"case {case.id}: it was acknowledged already ({acknowledged_at.isoformat()}): "
                "add a comment instead"
            )
        case CaseAction.ACCEPT:
            answer = _answering(case, request.actor, "has already accepted it")
            team = accepted(team, answer)
            detail["responder"] = answer.responder
        case CaseAction.DECLINE:
            answer = _answering(case, request.actor, "has accepted it: hand it over instead")
            team = without(team, answer)
            detail["declined_by"] = answer.responder
            declined = tuple(sorted({*declined, answer.responder}))
        case CaseAction.START:
            own = member(team, request.actor)
            if own is not None and not own.accepted:
                # Someone else accepted: a member still asked has to accept it first.
                raise IllegalTransitionError(
                    f"case {case.id}: {own.responder} has not accepted it: accept it first"
                )
        case CaseAction.DISPATCH:
            team, added = _dispatching(case, request.assignee, named, on_call)
        case CaseAction.HAND_OVER:
            team, added = _handing_over(case, request.actor, request.assignee, named)
        case CaseAction.RESOLVE:
            resolution = request.resolution
            assert resolution is not None  # check_request
            detail["resolution"] = resolution.value
        case CaseAction.REOPEN:
            team, declined, acknowledged_at = (), (), None
        case _:
            pass
    if added:
        detail["assignee"] = ", ".join(a.responder for a in added)
    removed = [a.responder for a in case.team if member(team, a.responder) is None]
    if removed and action is not CaseAction.DECLINE:
        # Who was taken off (a named dispatch takes a held duty, a hand-over passes a part on,
        # a reopening lets the team go): the trail said only who joined (outside review).
        detail["removed"] = ", ".join(removed)
    status = team_status(case.status, moved, team)
    detail["to"] = status.value
    if action in ACKNOWLEDGING and acknowledged_at is None:
        acknowledged_at = now
    return ActionOutcome(
        status=status,
        team=team,
        added=added,
        declined=declined,
        acknowledged_at=acknowledged_at,
        event=ACTION_EVENTS[action],
        detail=detail,
        resolution=resolution,
        reclaim_key=action is CaseAction.REOPEN,
        reset_escalation=action is CaseAction.REOPEN,
        schedule_acknowledgement=action is CaseAction.REOPEN,
        redispatch=action in (CaseAction.DECLINE, CaseAction.REOPEN),
    )


def _answering(case: CaseFacts, actor: str | None, accepted_already: str) -> Assignment:
    """Return the assignment ``actor`` answers for; raise if they have accepted already."""
    answer = answering(case.team, actor)
    if answer is None:
        raise IllegalTransitionError(f"case {case.id}: {actor} {accepted_already}")
    return answer


def _checked(case: CaseFacts, assignee: str, named: Responder | None) -> Responder:
    """Return the responder a dispatch or hand-over names, if they may take the case."""
    if named is None:
        raise InvalidInputError(f"responder {assignee.strip()} does not exist")
    if case.site_id is not None and named.site_id != case.site_id:
        raise InvalidInputError(
            f"responder {named.id} works at site {named.site_id}, "
            f"not at the case's site {case.site_id}"
        )
    if member(case.team, named.id) is not None:
        raise IllegalTransitionError(f"case {case.id}: {named.id} is already on it")
    return named


def _dispatching(
    case: CaseFacts,
    assignee: str | None,
    named: Responder | None,
    on_call: Sequence[tuple[Duty, Responder]],
) -> tuple[Team, tuple[Assignment, ...]]:
    """Return the team after an operator's dispatch, and who joined it: the responder named
    (in the duty their role fits, replacing whoever held it), or whoever the rules choose
    for the duties nobody holds."""
    team = case.team
    if assignee is None:
        if not on_call:
            held = ", ".join(a.responder for a in team)
            raise IllegalTransitionError(
                f"case {case.id}: no responder is on call for it: name one"
                if not team
                else f"case {case.id}: nobody else is on call for it (it is with {held}): "
                "name a responder to send it to"
            )
        added = tuple(Assignment(duty.name, responder.id) for duty, responder in on_call)
        return ordered(case.category, (*team, *added)), added
    responder = _checked(case, assignee, named)
    duty = duty_for(case.category, team, responder.role)
    joined = Assignment(duty, responder.id)
    kept = [a for a in team if a.duty != duty]
    return ordered(case.category, (*kept, joined)), (joined,)


def _handing_over(
    case: CaseFacts, actor: str | None, assignee: str | None, named: Responder | None
) -> tuple[Team, tuple[Assignment, ...]]:
    """Return the team after ``actor`` handed their part of the case (an operator: the
    lead's) to the responder named, and who joined it."""
    assert assignee is not None  # check_request
    responder = _checked(case, assignee, named)
    leaving = handing_over(case.team, actor)
    duty = (
        leaving.duty if leaving is not None else duty_for(case.category, case.team, responder.role)
    )
    joined = Assignment(duty, responder.id)
    kept = [a for a in case.team if a != leaving]
    return ordered(case.category, (*kept, joined)), (joined,)
