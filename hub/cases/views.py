"""What the hub shows of alerts and cases: the read models of the API and the live stream."""

from pydantic import AwareDatetime

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import AlertReason
from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.http.views import View


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
    silence_id: int | None = None
    """The silence (a drill, a maintenance window) that kept it out of every case: it is
    "on test", not an alarm to act on; None for every other alert."""


class CaseMemberView(View):
    """A device and alert kind that joined a case."""

    device_id: str
    kind: AlertKind
    alert_count: int
    first_alert_at: AwareDatetime
    last_alert_at: AwareDatetime


class TeamMemberView(View):
    """A responder a case is dispatched to, for one duty (``hub.cases.dispatch``)."""

    duty: str
    responder: str
    accepted: bool
    """They accepted (接单); until then the hub waits for their answer."""


class PageFailingView(View):
    """A page about a case that did not go out and still asks something of someone: whom to
    phone instead (``hub.cases.pages_failing``)."""

    event: CaseEventAction
    """What the page says: a call-out (``opened``, ``escalated``…) or a dispatch/hand-over."""
    whom: list[str]
    """The responders it sends (a dispatch's, a hand-over's) less those who declined
    themselves; empty for a call-out (whoever watches the case's level)."""
    gateway: str
    """The gateway's host (never its URL: it may carry a token), or ``MQTT``."""
    since: AwareDatetime
    """When the first copy of it not delivered was queued."""
    tries: int
    """Tries of its copies not delivered, all told."""
    error: str | None
    """What the gateway last answered."""
    still_tried: bool
    """It is still being tried (every minute); False: given up, never went out."""
    line_id: int | None = None
    """The case's ``notice_failed`` history line saying so, if one has (yet)."""


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
    """0 = the community; raised each time a deadline passes unmet (``hub.cases.supervision``)."""
    site_id: str | None
    grid_id: str | None
    merged_into: int | None = None
    """The case this one went into (closed then, its members and alerts moved there): an SOS
    press handled before the fire it was part of."""
    version: int = 1
    """Raised by every change of the case: of two views of one case, the higher version is the
    newer (live events of several hub workers may arrive out of order)."""
    actions: list[CaseAction]
    """What can be done to the case now."""
    pages_failing: list[PageFailingView] | None = None
    """Its pages that did not go out and are still needed now, computed by the hub; None in
    a view that does not say (one the alert intake put on the live stream): keep the last."""


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
