"""What the hub shows of its records: the read models of the API and of the live stream."""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import AlertReason
from devices.registry import Device
from hub.cases import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.correlation import CaseCategory
from hub.resident import ResidentStage
from hub.silences import SilenceScope


class View(BaseModel):
    """Base of the read models: immutable, and exactly the fields listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceView(View):
    """A registered device and what the hub last heard from it."""

    id: str
    kind: DeviceKind
    location: str
    edge_id: str | None
    zigbee_name: str | None
    created_at: AwareDatetime
    last_seen: AwareDatetime | None
    last_readings: dict[str, float | bool | str] | None
    case_resolutions: dict[Resolution, int] = {}
    """How the cases this device took part in were resolved (issue 6)."""
    nuisance_rate: float | None = None
    """Share of its judged cases that were false or nuisance alarms; None before any."""

    def to_device(self) -> Device:
        """Return the registration alone, as sent to edges."""
        return Device(
            id=self.id,
            kind=self.kind,
            location=self.location,
            edge_id=self.edge_id,
            zigbee_name=self.zigbee_name,
        )


class AlertView(View):
    """A stored alert."""

    id: str
    edge_id: str
    device_id: str
    kind: AlertKind
    state: AlertState
    severity: Severity
    ts: AwareDatetime
    detected_at: AwareDatetime
    received_at: AwareDatetime
    case_id: int | None
    location: str | None
    reason: AlertReason


class CaseMemberView(View):
    """A device and alert kind that joined a case."""

    device_id: str
    kind: AlertKind
    alert_count: int
    first_alert_at: AwareDatetime
    last_alert_at: AwareDatetime


class TeamMemberView(View):
    """A responder a case is dispatched to, for one duty (``hub.dispatch``)."""

    duty: str
    responder: str
    accepted: bool
    """They accepted (接单); until then the hub waits for their answer."""


class CaseView(View):
    """A case as the operator list shows it."""

    id: int
    status: CaseStatus
    kind: AlertKind
    priority: Severity
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    last_alert_at: AwareDatetime
    alert_count: int
    device_ids: list[str]
    location: str | None
    category: CaseCategory
    rule: str | None
    """The correlation rule that grouped the incident (None: one device, one kind)."""
    place: str | None
    """Where the incident is (the location cut to the rule's depth); None per device."""
    kinds: list[AlertKind]
    members: list[CaseMemberView]
    assignee: str | None
    """The lead member of its team (the first duty's responder)."""
    team: list[TeamMemberView]
    """Everyone it is dispatched to, lead duty first."""
    resolution: Resolution | None
    resolved_at: AwareDatetime | None
    acknowledged_at: AwareDatetime | None
    """When a person first took the case on: from then on the resident hears someone is coming."""
    escalation_level: int
    """0 = the community; raised each time a deadline passes unmet (``hub.supervision``)."""
    site_id: str | None
    grid_id: str | None
    actions: list[CaseAction]
    """What can be done to the case now."""


class CaseEventView(View):
    """One line of a case's history."""

    id: int
    case_id: int
    ts: AwareDatetime
    action: CaseEventAction
    note: str | None
    actor: str | None
    alert_id: str | None


class CaseDetail(CaseView):
    """A case with its evidence and its history."""

    alerts: list[AlertView]
    events: list[CaseEventView]


class EdgeView(View):
    """The last status an edge reported."""

    id: str
    state: Literal["online", "offline"]
    last_seen: datetime
    outbox_depth: int
    counters: dict[str, int]


T = TypeVar("T")


class Items(View, Generic[T]):
    """A list response: ``{"items": [...]}``."""

    items: list[T]


class Health(View):
    """Whether the hub is up, and its ingest counters."""

    status: Literal["ok"] = "ok"
    mqtt_connected: bool
    counters: dict[str, int]


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


class SilenceView(View):
    """A maintenance window or fire drill: alerts recorded, no case, no pages."""

    id: int
    scope: SilenceScope
    target: str
    kinds: list[AlertKind]
    """Empty: every kind but ``sos``."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str
    created_by: str | None
    created_at: AwareDatetime
    ended_by: str | None
    ended_at: AwareDatetime | None


class AuditEntryView(View):
    """One link of the audit chain."""

    seq: int
    ts: AwareDatetime
    action: str
    case_id: int | None
    alert_id: str | None
    actor: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerdictView(View):
    """Whether the audit chain is intact, and its first broken link if not."""

    intact: bool
    checked: int
    broken_seq: int | None
    reason: str | None


class ResidentStatus(View):
    """What a household's page shows: the stage of its most recent SOS case."""

    stage: ResidentStage
    case_id: int | None
    updated_at: AwareDatetime | None
