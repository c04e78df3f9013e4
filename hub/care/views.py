"""What the hub takes and shows of care households (独居老人): profile, contacts, last check."""

from datetime import time
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from devices.registry import Identifier
from hub.care.rules import CareStatus
from hub.cases.notify import Channel, webhook_target_problem
from hub.http.times import StorableDatetime
from hub.http.views import View

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Consent(View):
    """Who agreed to the home being watched, and how it was recorded."""

    by: Name
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class Contact(View):
    """A family member or guardian: notified of a wellbeing check and of an SOS."""

    name: Name
    relation: Name
    channel: Channel = Channel.WEBHOOK
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    """A webhook URL (a messaging gateway that texts or WeChats them), or any text for MQTT."""

    @model_validator(mode="after")
    def _usable_target(self) -> "Contact":
        # Refused here, not found out when a notice to them fails (a stored bad URL once
        # stopped every page: docs/cases.md, "Notifications").
        if self.channel is Channel.WEBHOOK:
            problem = webhook_target_problem(self.target)
            if problem is not None:
                raise ValueError(problem)
        return self


class CareSettings(View):
    """Body of ``PUT /api/v1/households/{id}/care``."""

    enabled: bool = True
    consent: Consent
    contacts: list[Contact] = Field(default_factory=list, max_length=10)
    device_ids: list[Identifier] = Field(default_factory=list, max_length=20)
    """The home's motion sensors and door contacts (its SOS buttons count already)."""
    quiet_hours: Annotated[float, Field(gt=0, le=48)] = 6.0
    waking_from: time = time(7, 0)
    waking_until: time = time(22, 0)
    away_until: StorableDatetime | None = None


class AwayRequest(View):
    """Body of ``POST /api/v1/households/{id}/care/away``: away until then (None: back)."""

    until: StorableDatetime | None


class CareView(View):
    """A care household: its settings and what the last look at its home found."""

    household_id: int
    household_name: str
    enabled: bool
    consent_by: str
    consent_at: AwareDatetime
    contacts: list[Contact]
    device_ids: list[str]
    quiet_hours: float
    waking_from: time
    waking_until: time
    away_until: AwareDatetime | None
    status: CareStatus
    last_activity: AwareDatetime | None
    quiet_hours_so_far: float
    silent_sensors: list[str]
    alarm_case_id: int | None
