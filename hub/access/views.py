"""What the door access API shows of its records: sites, doors, schedules, groups, people,
credentials (never their secrets), bulk imports and the access log.
"""

from pydantic import AwareDatetime

from devices.access import CredentialKind, DoorConfig, TimeWindow
from hub.http.views import View
from hub.persistence.access import (
    AccessCredentialRow,
    AccessEventRow,
    AccessGroupRow,
    AccessSiteRow,
)


class SiteView(View):
    """A site's door access settings (the hash key is never shown)."""

    edge_id: str
    name: str
    timezone: str
    version: int


class DoorView(View):
    """A door and the site it belongs to."""

    edge_id: str
    door: DoorConfig


class ScheduleView(View):
    """A named set of weekly windows."""

    id: int
    name: str
    windows: list[TimeWindow]


class GroupView(View):
    """A group of a site: its doors and schedule."""

    id: int
    edge_id: str
    name: str
    door_ids: list[str]
    schedule_id: int | None


class CredentialView(View):
    """A credential without its secret."""

    id: int
    person_id: int
    kind: CredentialKind
    label: str | None
    valid_from: AwareDatetime | None
    valid_until: AwareDatetime | None
    revoked_at: AwareDatetime | None
    created_at: AwareDatetime


class PersonView(View):
    """A person, their groups and credentials."""

    id: int
    edge_id: str
    name: str
    household_id: int | None
    group_ids: list[int]
    valid_from: AwareDatetime | None
    valid_until: AwareDatetime | None
    credentials: list[CredentialView]


class ImportView(View):
    """What a bulk import enrolled: the people's ids in row order, the new version."""

    edge_id: str
    version: int
    people: int
    credentials: int
    person_ids: list[int]


class AccessEventView(View):
    """One stored access log record."""

    id: str
    edge_id: str
    door_id: str
    kind: str
    ts: AwareDatetime
    reader_id: str | None
    credential_id: int | None
    person_id: int | None
    reason: str | None
    fingerprint: str | None
    received_at: AwareDatetime


class ImportProblemView(View):
    """One reason a bulk import was refused: the row (0-based), the field, what is wrong."""

    row: int
    field: str
    error: str


class ImportRejection(View):
    """A refused bulk import: a summary and every problem found."""

    detail: str
    errors: list[ImportProblemView]


class AccessLinkStatus(View):
    """Whether the hub's access link is connected, and its counters."""

    connected: bool
    counters: dict[str, int]


def site_view(row: AccessSiteRow) -> SiteView:
    """Return the view of a site row."""
    return SiteView.model_validate(row, from_attributes=True)


def group_view(row: AccessGroupRow) -> GroupView:
    """Return the view of a group row."""
    return GroupView.model_validate(row, from_attributes=True)


def credential_view(row: AccessCredentialRow) -> CredentialView:
    """Return the view of a credential row (its hash stays behind)."""
    return CredentialView.model_validate(row, from_attributes=True)


def event_view(row: AccessEventRow) -> AccessEventView:
    """Return the view of an access log row."""
    return AccessEventView.model_validate(row, from_attributes=True)
