"""Residents' requests, the pure core: categories, priority, what a household sees, ratings.

A request (点单) is a resident's everyday problem — a leaking pipe, a broken stair light, a
blocked fire exit — reported from the phone page, by an operator on the household's behalf,
or through a messaging gateway. It becomes a case of its own (category ``request``, kind
``resident_request``): dispatched by the roster like any other case (派单, 接单), never joined to
an incident, so a hazard report can never be mixed into a fire. A safety hazard (隐患) is high
priority; the rest by ``REQUEST_PRIORITY``.

What the household sees is ``request_stage``, a function of the case's status and team and of
the visit the responder planned: received → assigned → visit planned → in progress → done.
On resolution it rates the work 1–5 (评价); ``decide_feedback`` says whether a rating is taken
and whether "not fixed" reopens the case (only within ``NOT_FIXED_WITHIN`` of the resolution).

Nothing here does I/O or reads the clock.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from devices.kinds import Severity
from hub.cases.dispatch import Team
from hub.cases.rules import CaseStatus
from hub.errors import IllegalTransitionError, InvalidInputError


class RequestCategory(StrEnum):
    """What a resident's request is about."""

    REPAIR = "repair"
    UTILITIES = "utilities"
    """Water or electricity (水电)."""
    SANITATION = "sanitation"
    NOISE = "noise"
    ELEVATOR = "elevator"
    HAZARD = "hazard"
    """A safety hazard (隐患): a blocked fire exit, a loose railing. High priority."""
    OTHER = "other"


REQUEST_PRIORITY: dict[RequestCategory, Severity] = {
    RequestCategory.HAZARD: Severity.HIGH,
    RequestCategory.ELEVATOR: Severity.MEDIUM,
    RequestCategory.UTILITIES: Severity.MEDIUM,
    RequestCategory.REPAIR: Severity.LOW,
    RequestCategory.SANITATION: Severity.LOW,
    RequestCategory.NOISE: Severity.LOW,
    RequestCategory.OTHER: Severity.LOW,
}
"""The priority of a request's case: a hazard comes first; nothing here is life safety."""

VOLUNTEER_CATEGORIES: frozenset[RequestCategory] = frozenset(
    {
        RequestCategory.REPAIR,
        RequestCategory.SANITATION,
        RequestCategory.NOISE,
        RequestCategory.OTHER,
    }
)
"""Requests a resident volunteer (邻里守望) may help with, beside the staff member who does the
work: never a hazard, an elevator or water and electricity (safety or licensed work)."""

VOLUNTEERS_BY_DEFAULT: frozenset[RequestCategory] = frozenset(
    {RequestCategory.SANITATION, RequestCategory.OTHER}
)
"""Requests a volunteer is sent to unless the request says otherwise (rubbish, an errand)."""


def volunteers_welcome(category: RequestCategory, asked: bool | None) -> bool:
    """Return whether a volunteer may be sent to help with a request (``asked``: what the
    request said, None for the category's default); refuse one for a category that takes none."""
    if asked is None:
        return category in VOLUNTEERS_BY_DEFAULT
    if asked and category not in VOLUNTEER_CATEGORIES:
        raise InvalidInputError(f"a volunteer cannot be sent to a {category.value} request")
    return asked


class RequestSource(StrEnum):
    """How a request reached the hub."""

    PAGE = "page"
    """The household's own phone page."""
    OPERATOR = "operator"
    """An operator logged a phone call or a walk-in."""
    GATEWAY = "gateway"
    """A messaging gateway (WeChat, SMS) through the signed webhook."""


class RequestStage(StrEnum):
    """How far a request has come, as its household sees it."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    VISIT_PLANNED = "visit_planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"


MAX_PHOTOS = 3
"""Photos per report (and per responder update)."""

MAX_TEXT = 2000

NOTHING_VISIBLE = "请简单描述问题 (describe the problem: the text shows nothing)"

NOTE_SHOWS_NOTHING = "the note shows nothing: only spaces or invisible characters"
"""Refusal of a responder's or operator's note (a case action's, a request's update)."""

COMMENT_SHOWS_NOTHING = "评价内容看不到文字，请留空或写几个字 (the comment shows nothing)"
"""Refusal of a household's rating comment: leave it empty or write something."""


MAX_WINDOW = timedelta(days=30)
"""How far ahead a preferred visit window may reach."""

NOT_FIXED_WITHIN = timedelta(days=7)
"""A household may say "not fixed" this long after the resolution: the case reopens."""


def request_stage(status: CaseStatus, team: Team, visit_at: datetime | None) -> RequestStage:
    """Return the stage a household sees of its request's case."""
    match status:
        case CaseStatus.RESOLVED | CaseStatus.CLOSED:
            return RequestStage.DONE
        case CaseStatus.IN_PROGRESS:
            return RequestStage.IN_PROGRESS
        case _ if visit_at is not None and team:
            return RequestStage.VISIT_PLANNED
        case _ if team:
            return RequestStage.ASSIGNED
        case _:
            return RequestStage.RECEIVED


def public_name(name: str) -> str:
    """Return how a responder is named to a household: the first word of a Latin name, the
    surname (first character) of a Chinese one; never the full name."""
    words = name.split()
    if not words:
        return ""
    first = words[0]
    if len(words) == 1 and not first.isascii():
        return first[0]
    return first


def check_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """Return the preferred visit window, or None; refuse one that is not a window ahead."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidInputError(
            "a preferred visit window needs both its start and its end", code="window_half"
        )
    if end <= start:
        raise InvalidInputError(
            "the preferred visit window ends before it starts", code="window_backwards"
        )
    if end <= now:
        raise InvalidInputError("the preferred visit window is already over", code="window_over")
    if start - now > MAX_WINDOW:
        raise InvalidInputError(
            f"the preferred visit window starts more than {MAX_WINDOW.days} days ahead",
            code="window_far",
        )
    return start, end


def resolution_starts(opened: datetime, preferred: tuple[datetime, datetime] | None) -> datetime:
    """Return when a request's time to be done (48 h, ``resolve_within_s``) starts: when it
    was reported, or when the window the household chose for the visit begins, if later.

    A household away until Thursday asks for Thursday: the work cannot be done before, so a
    request that climbed to the street on Wednesday, and counted among the street's overdue
    ones, would blame the community for doing as it was asked. Only this deadline moves:
    taking the request on (acknowledged, accepted) is due at once, whatever day the visit."""
    if preferred is None:
        return opened
    return max(opened, preferred[0])


VISIT_LATE_BY = timedelta(hours=1)
"""How long after it a planned visit may still be written down (the note typed on the way)."""


SUBMISSION_ID = r"^[A-Za-z0-9_-]{8,40}$"
"""The page's own id of one report (drawn when the form opens, kept until it is sent): a
second tap, or a send retried after a lost answer, is the same request, not a second one."""


def submission_key(household_id: int, submission_id: str | None) -> str | None:
    """Return the key a page's report is known by (a request's ``external_id``): namespaced
    by household, so that one household's id can never name another's request."""
    return None if submission_id is None else f"h{household_id}-{submission_id}"


def check_visit(visit_at: datetime | None, now: datetime) -> datetime | None:
    """Return the visit a responder plans, or None; refuse one already past (a wrong day, or
    a local time sent as another zone's) or more than ``MAX_WINDOW`` ahead: the household
    would be told to wait for a visit that is never coming."""
    if visit_at is None:
        return None
    if visit_at < now - VISIT_LATE_BY:
        raise InvalidInputError(
            f"the visit time {visit_at.isoformat()} is already past: plan a visit ahead"
        )
    if visit_at - now > MAX_WINDOW:
        raise InvalidInputError(f"the visit time is more than {MAX_WINDOW.days} days ahead")
    return visit_at


@dataclass(frozen=True, slots=True)
class Feedback:
    """A household's rating: 1–5, an optional comment, and whether the problem is fixed."""

    score: int
    comment: str | None
    fixed: bool = True


@dataclass(frozen=True, slots=True)
class RatingFacts:
    """What a household's rating of a request is decided on."""

    status: CaseStatus
    resolved_at: datetime | None
    already_rated: bool
    """This resolution has been rated already."""
    last: Feedback | None = None
    """The request's latest rating, if it has one."""
    last_resolved_at: datetime | None = None
    """When the resolution the latest rating rated was made."""


@dataclass(frozen=True, slots=True)
class FeedbackOutcome:
    """Store the rating; ``reopen``: the household says it is not fixed, reopen the case;
    ``repeat``: it is the rating taken already, sent again: nothing to store or do."""

    reopen: bool
    repeat: bool = False


def _stands(facts: RatingFacts) -> bool:
    """Return whether the latest rating is this attempt's: it rated the resolution there is
    now, or it said "not fixed" and so reopened the case, which is being worked on again."""
    if facts.last is None:
        return False
    if facts.resolved_at is not None:
        return facts.last_resolved_at == facts.resolved_at
    return not facts.last.fixed


def decide_feedback(facts: RatingFacts, feedback: Feedback, now: datetime) -> FeedbackOutcome:
    """Return what a household's rating does, or raise saying why it is not taken; the rating
    taken for this attempt, sent again, is answered as taken and changes nothing."""
    if not 1 <= feedback.score <= 5:
        raise InvalidInputError("a rating is a score from 1 to 5", code="bad_score")
    if feedback == facts.last and _stands(facts):
        # The page sends a rating again when its answer was lost (a weak line): it was
        # heard. Refused, the resident read "not sent" for a rating, or a "not fixed",
        # the hub had taken and acted on.
        return FeedbackOutcome(reopen=False, repeat=True)
    if facts.resolved_at is None or facts.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise IllegalTransitionError(
            "the request is not done yet: it can be rated once it is", code="not_done"
        )
    if facts.already_rated:
        raise IllegalTransitionError("this request has been rated already", code="rated_already")
    if feedback.fixed:
        return FeedbackOutcome(reopen=False)
    if now - facts.resolved_at > NOT_FIXED_WITHIN:
        raise IllegalTransitionError(
            f"it is more than {NOT_FIXED_WITHIN.days} days since it was done: "
            "please report it again as a new request",
            code="report_again",
        )
    if facts.status is CaseStatus.CLOSED:
        raise IllegalTransitionError(
            "the case is closed already: please report it again as a new request",
            code="report_again",
        )
    return FeedbackOutcome(reopen=True)
