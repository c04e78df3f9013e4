"""What the hub shows of a silence."""

from pydantic import AwareDatetime

from devices.kinds import AlertKind
from hub.http.views import View
from hub.silences.rules import SilenceScope


class SilenceView(View):
    """A maintenance window or fire drill: alerts recorded, no case, no pages."""

    id: int
    scope: SilenceScope
    target: str
    kinds: list[AlertKind]
    """Empty: every kind but the life-safety ones (``devices.kinds.LIFE_SAFETY``)."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str
    created_by: str | None
    created_at: AwareDatetime
    ended_by: str | None
    ended_at: AwareDatetime | None
    site_id: str | None = None
    """The site it belongs to (its device's, its edge's, its place's grid's; None: none), on
    whose clock its times are shown."""
