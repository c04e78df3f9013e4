"""What the door access API accepts: the request bodies of ``/api/v1/access``.

Card numbers and PINs arrive as ``SecretStr``: no repr, log line or error repeats them.
"""

from typing import Annotated

from pydantic import AwareDatetime, Field, SecretStr, StringConstraints

from devices.access import CredentialKind, TimeWindow
from devices.registry import Identifier
from hub.access.rules import CredentialImport, PersonImport
from hub.http.views import View

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class SiteRequest(View):
    """Body of ``POST /access/sites``."""

    edge_id: Identifier
    name: Name
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    """IANA time zone of the site's schedules, e.g. ``Asia/Shanghai``."""


class SiteUpdate(View):
    """Body of ``PUT /access/sites/{edge_id}``."""

    name: Name
    timezone: Annotated[str, Field(min_length=1, max_length=64)]


class ScheduleRequest(View):
    """Body of ``POST /access/schedules``."""

    name: Name
    windows: Annotated[list[TimeWindow], Field(min_length=1, max_length=50)]


class GroupRequest(View):
    """Body of ``POST /access/groups``."""

    edge_id: Identifier
    name: Name
    door_ids: list[Identifier]
    schedule_id: int | None = None


class GroupUpdate(View):
    """Body of ``PUT /access/groups/{id}``."""

    name: Name
    door_ids: list[Identifier]
    schedule_id: int | None = None


class PersonRequest(View):
    """Body of ``POST /access/people``."""

    edge_id: Identifier
    name: Name
    household_id: int | None = None
    group_ids: list[int] = Field(default_factory=list)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class PersonUpdate(View):
    """Body of ``PUT /access/people/{id}``: groups and validity, replaced."""

    group_ids: list[int] = Field(default_factory=list)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class CredentialRequest(View):
    """Body of ``POST /access/people/{id}/credentials``. ``value`` is secret."""

    kind: CredentialKind
    value: SecretStr
    label: Annotated[str, Field(max_length=128)] | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


MAX_IMPORT_PEOPLE = 20_000
MAX_CREDENTIALS_PER_PERSON = 10


class ImportCredential(CredentialRequest):
    """A credential of a bulk import row. ``value`` is secret."""


class ImportPerson(View):
    """One row of a bulk import: a person with groups and credentials."""

    name: Name
    household_id: int | None = None
    group_ids: list[int] = Field(default_factory=list)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    credentials: Annotated[list[ImportCredential], Field(max_length=MAX_CREDENTIALS_PER_PERSON)] = (
        Field(default_factory=list)
    )


class ImportRequest(View):
    """Body of ``POST /access/import``: people of one site, enrolled all or nothing."""

    edge_id: Identifier
    people: Annotated[list[ImportPerson], Field(max_length=MAX_IMPORT_PEOPLE)]

    def rows(self) -> list[PersonImport]:
        """Return the people as the import rules take them (secrets included)."""
        return [
            PersonImport(
                name=p.name,
                household_id=p.household_id,
                group_ids=frozenset(p.group_ids),
                valid_from=p.valid_from,
                valid_until=p.valid_until,
                credentials=tuple(
                    CredentialImport(
                        kind=c.kind,
                        value=c.value.get_secret_value(),
                        label=c.label,
                        valid_from=c.valid_from,
                        valid_until=c.valid_until,
                    )
                    for c in p.credentials
                ),
            )
            for p in self.people
        ]
