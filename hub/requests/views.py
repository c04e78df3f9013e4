"""What the hub shows of residents' requests: to operators, and to the household itself."""

from pydantic import AwareDatetime

from devices.kinds import Severity
from hub.cases.rules import CaseStatus
from hub.cases.views import TeamMemberView
from hub.http.views import View
from hub.requests.rules import RequestCategory, RequestSource, RequestStage


class PhotoView(View):
    """A photo of a request; ``phase`` is ``report`` (the resident's) or ``after`` (the work)."""

    id: int
    phase: str
    width: int
    height: int
    path: str
    """The photo, relative to the request's own URL (``…/requests/<id>/``)."""
    thumbnail_path: str


class UpdateView(View):
    """A responder's note to the household, or the visit they planned."""

    ts: AwareDatetime
    by: str
    """Operators see the account; a household a first name and a role (``王 · maintenance``)."""
    note: str | None
    visit_at: AwareDatetime | None


class RatingView(View):
    """A household's rating of one resolution (评价)."""

    score: int
    comment: str | None
    fixed: bool
    rated_at: AwareDatetime
    responders: list[str]


class RequestBasics(View):
    """What every view of a request shows, to operators and to the household alike."""

    id: int
    category: RequestCategory
    text: str
    place: str | None
    priority: Severity
    preferred_from: AwareDatetime | None
    preferred_until: AwareDatetime | None
    visit_at: AwareDatetime | None
    created_at: AwareDatetime
    stage: RequestStage
    photos: list[PhotoView]


class RequestView(RequestBasics):
    """A request as operators see it, with its case's state and team."""

    case_id: int
    household_id: int
    household_name: str
    source: RequestSource
    created_by: str | None
    volunteers: bool
    """A resident volunteer may be sent to help, beside the staff member."""
    case_status: CaseStatus
    site_id: str | None
    team: list[TeamMemberView]
    updates: list[UpdateView]
    ratings: list[RatingView]


class AssigneeView(View):
    """Who a household's request is with: a first name and a role, nothing more."""

    name: str
    role: str


class ResidentRequestView(RequestBasics):
    """A request as its household follows it on the phone page."""

    updated_at: AwareDatetime
    assigned: list[AssigneeView]
    updates: list[UpdateView]
    rating: RatingView | None
    """The rating of the latest resolution, once given."""
    can_rate: bool
    not_fixed_until: AwareDatetime | None
    """Until then the household may say "not fixed" and the case reopens."""


class ResponderScore(View):
    """The ratings a responder's work has had: kept for the statistics to come."""

    responder_id: str
    ratings: int
    average: float
    not_fixed: int
