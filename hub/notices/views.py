"""What the hub takes and shows of notices (通知)."""

from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from devices.location import LocationText
from devices.registry import Identifier
from hub.http.views import View
from hub.notices.rules import Delivery, NoticeCategory, NoticeScope


class NewNotice(View):
    """Body of ``POST /api/v1/notices``."""

    scope: NoticeScope
    site_id: Identifier | None = None
    building: LocationText | None = None
    household_ids: list[int] = Field(default_factory=list, max_length=10_000)
    category: NoticeCategory = NoticeCategory.GENERAL
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class CopyView(View):
    """A copy of a notice sent through a notification channel, and where it stands."""

    contact: str
    """``household`` (through the messaging gateway or the broker), or a family contact."""
    channel: str
    status: Delivery
    attempts: int
    delivered_at: AwareDatetime | None
    last_error: str | None


class Receipt(View):
    """A household a notice went to, when it first read it, and its copies sent out."""

    household_id: int
    household_name: str
    read_at: AwareDatetime | None
    copies: list[CopyView] = Field(default_factory=list)


class CopyCounts(View):
    """How many of a notice's copies are waiting, delivered and given up."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0


class NoticeView(View):
    """A notice as operators see it: whom it went to and who has read it."""

    id: int
    category: NoticeCategory
    title: str
    body: str
    scope: NoticeScope
    site_id: str | None
    building: str | None
    created_at: AwareDatetime
    created_by: str | None
    recipients: int
    read: int
    copies: CopyCounts
    receipts: list[Receipt]


class HouseholdNotice(View):
    """A notice as a household's page shows it."""

    id: int
    category: NoticeCategory
    title: str
    body: str
    created_at: AwareDatetime
    read_at: AwareDatetime | None
    urgent: bool
