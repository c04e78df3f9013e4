"""What the hub shows of households and of a resident's SOS."""

from pydantic import AwareDatetime

from hub.http.views import View
from hub.residents.rules import ResidentStage


class HouseholdView(View):
    """A household and its SOS buttons (never its token)."""

    id: int
    name: str
    location: str
    device_ids: list[str]
    created_at: AwareDatetime


class IssuedHousehold(HouseholdView):
    """A household with its new access token and page link: shown once, never again."""

    token: str
    link: str


class ResidentStatus(View):
    """What a household's page shows: the stage of its most recent SOS case."""

    stage: ResidentStage
    case_id: int | None
    updated_at: AwareDatetime | None
