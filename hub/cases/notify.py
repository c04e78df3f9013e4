"""Notifications out, the pure core: what a case event tells a site's paging gateway, and
when a failed delivery is tried again.

Every case event the hub records (opened, dispatched, escalated, resolved, …) becomes one
``CaseNotice`` per configured channel — a webhook URL (HTTP POST of the JSON) or the hub's
MQTT broker (``linli/hub/cases/<case_id>/<event>``) — written to the ``notifications`` table
in the same transaction as the event, so nothing is lost and ingest never waits on a gateway.
A hub task delivers them (``hub.cases.notifier``); a failed attempt is tried again after
``retry_delay`` (exponential, capped), and given up after ``MAX_ATTEMPTS``. One gateway
(``gateway_of``) gets at most ``MAX_PER_GATEWAY`` deliveries at once: one that hangs takes its
share of the notifier's slots, never the others' pages.

Nothing here does I/O or reads the clock.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.cases.rules import CaseEventAction
from hub.settings import HubSettings

MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(minutes=5)
NOTICE_TOPIC_ROOT = "linli/hub/cases"
MAX_PER_GATEWAY = 8
"""Deliveries in flight to one gateway at most: half the notifier's 16 slots, so a gateway
that hangs (a family contact's webhook, an SMS provider stalling) leaves the other half to
every other gateway, and a healthy gateway under a burst still gets eight at a time."""

NOTIFIED_EVENTS: frozenset[CaseEventAction] = frozenset(
    {
        CaseEventAction.OPENED,
        CaseEventAction.REOPENED,
        CaseEventAction.PRIORITY_RAISED,
        CaseEventAction.CLAIMED,
        CaseEventAction.ACKNOWLEDGED,
        CaseEventAction.DISPATCHED,
        CaseEventAction.ACCEPTED,
        CaseEventAction.DECLINED,
        CaseEventAction.HANDED_OVER,
        CaseEventAction.ESCALATED,
        CaseEventAction.RESOLVED,
        CaseEventAction.CLOSED,
    }
)
"""Events someone may need paging about (an alert merely joining a case is not one)."""


class Channel(StrEnum):
    """Where a notice goes."""

    WEBHOOK = "webhook"
    MQTT = "mqtt"


class CaseNotice(BaseModel):
    """The JSON a gateway receives: what happened to which case, and the case as it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    event: CaseEventAction
    ts: AwareDatetime
    case_id: int
    status: str
    category: str
    priority: str
    place: str | None
    kinds: list[str]
    assignee: str | None
    """The lead member of the case's team."""
    team: list[str] = Field(default_factory=list)
    """Everyone the case is dispatched to (lead first): each is someone a gateway may page."""
    escalation_level: int
    note: str | None
    level_name: str | None = None
    """The name of ``escalation_level`` (community, street, district by default)."""
    site_id: str | None = None
    """The community the case is in, and its street (街道) and district (区): whom an
    escalation should reach up the chain. Added in place (``version`` 1): older gateways ignore
    them; None while the case has no site."""
    street: str | None = None
    district: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """Why one delivery attempt failed, and whether trying again could ever help."""

    error: str
    permanent: bool = False
    """The target can never take it (an invalid URL): give the notice up at once."""


MAX_TARGET_LENGTH = 2000
WEBHOOK_SCHEMES = frozenset({"http", "https"})


def webhook_target_problem(target: str) -> str | None:
    """Return what makes ``target`` unusable as a webhook URL, or None if it can be posted to.

    The notifier checks every webhook target with it before sending (and gives a notice to an
    unusable one up at once); whoever stores a target (a family contact's) should refuse it
    with the same check.
    """
    if not target or len(target) > MAX_TARGET_LENGTH:
        return f"a webhook URL has 1 to {MAX_TARGET_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in target):
        return "a webhook URL has no spaces or control characters"
    try:
        url = httpx.URL(target)  # the parser the notifier sends with; no I/O
    except httpx.InvalidURL as exc:
        return f"not a valid URL: {exc}"
    if url.scheme not in WEBHOOK_SCHEMES:
        return "a webhook URL starts with http:// or https://"
    if not url.host:
        return "a webhook URL names a host"
    return None


def gateway_of(channel: Channel, target: str) -> str:
    """Return the gateway a notice is delivered through, whose deliveries in flight are
    bounded together: a webhook's URL; every MQTT notice's is the hub's one broker link."""
    return Channel.MQTT.value if channel is Channel.MQTT else target


def notice_topic(notice: CaseNotice) -> str:
    """Return the MQTT topic of a notice."""
    return f"{NOTICE_TOPIC_ROOT}/{notice.case_id}/{notice.event}"


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the ``attempts``-th failed attempt (1, 2, 4 … s, capped)."""
    doublings = min(max(0, attempts - 1), 30)  # bounded: the cap is reached long before
    return min(LONGEST_RETRY, FIRST_RETRY * (1 << doublings))


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """Return when to try again after ``attempts`` failures, or None to give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + retry_delay(attempts)


def notify_targets(settings: HubSettings) -> list[tuple[Channel, str]]:
    """Return where case notices go: each webhook URL, and MQTT if asked for."""
    targets = [(Channel.WEBHOOK, str(url)) for url in settings.notify_webhook_urls]
    if settings.notify_mqtt:
        targets.append((Channel.MQTT, NOTICE_TOPIC_ROOT))
    return targets


def household_targets(settings: HubSettings) -> list[tuple[Channel, str]]:
    """Return where a household's copy of a notice goes: the messaging gateway, and MQTT if
    asked for (``hub.notices``)."""
    targets: list[tuple[Channel, str]] = []
    if settings.gateway_outbound_url is not None:
        targets.append((Channel.WEBHOOK, str(settings.gateway_outbound_url)))
    if settings.notify_mqtt:
        targets.append((Channel.MQTT, NOTICE_TOPIC_ROOT))
    return targets
