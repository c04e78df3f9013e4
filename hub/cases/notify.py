"""Notifications out, the pure core: what a case event tells a site's paging gateway, and
when a failed delivery is tried again.

Every case event the hub records (opened, dispatched, escalated, resolved, …) becomes one
``CaseNotice`` per configured channel — a webhook URL (HTTP POST of the JSON) or the hub's
MQTT broker (``linli/hub/cases/<case_id>/<event>``) — written to the ``notifications`` table
in the same transaction as the event, so nothing is lost and ingest never waits on a gateway.
A hub task delivers them (``hub.cases.notifier``); a failed attempt is tried again after
``retry_delay`` (exponential, capped: at most a minute apart for a life-safety case's), and
given up after ``MAX_ATTEMPTS`` — unless the notice still pages someone about a life-safety
case nobody has taken on (``still_paging``): that one is tried every minute until it is
delivered or it no longer asks anything of anyone; a failed one is given up as soon as a later
one of its event says it again (``hub.cases.notices``). Either way, a page whose copies
failed ``MAX_ATTEMPTS`` tries all told (``hub.cases.pages_failing``), or a notice given up, is
a line in its case's history, so an operator can phone instead (``failing_note``). One gateway
(``gateway_of``) gets at most ``MAX_PER_GATEWAY`` deliveries at once: one that hangs takes its
share of the notifier's slots, never the others' pages.

Nothing here does I/O or reads the clock.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseEventAction
from hub.settings import HubSettings

MAX_ATTEMPTS = 10
"""Tries of a notice before it is given up, or, one that must keep paging, said to be failing."""
FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(minutes=5)
LIFE_SAFETY_LONGEST_RETRY = timedelta(minutes=1)
"""The longest wait between tries of a life-safety case's notice: a gateway back from an outage
pages the fire within a minute, not five."""
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


def retry_delay(attempts: int, longest: timedelta = LONGEST_RETRY) -> timedelta:
    """Return how long to wait after the ``attempts``-th failed attempt (1, 2, 4 … s, capped
    at ``longest``)."""
    doublings = min(max(0, attempts - 1), 30)  # bounded: the cap is reached long before
    return min(longest, FIRST_RETRY * (1 << doublings))


def next_attempt(
    attempts: int, now: datetime, *, life_safety: bool = False, keep_paging: bool = False
) -> datetime | None:
    """Return when to try again after ``attempts`` failures, or None to give up: after
    ``MAX_ATTEMPTS`` only a notice that must keep paging (``still_paging``) is tried again."""
    if attempts >= MAX_ATTEMPTS and not keep_paging:
        return None
    return now + retry_delay(attempts, LIFE_SAFETY_LONGEST_RETRY if life_safety else LONGEST_RETRY)


CALLS_OUT: frozenset[CaseEventAction] = frozenset(
    {
        CaseEventAction.OPENED,
        CaseEventAction.REOPENED,
        CaseEventAction.PRIORITY_RAISED,
        CaseEventAction.ESCALATED,
    }
)
"""Notices that ask whoever watches a level to take the case on: needed until someone has."""
SENDS: frozenset[CaseEventAction] = frozenset(
    {CaseEventAction.DISPATCHED, CaseEventAction.HANDED_OVER}
)
"""Notices that send the team (``CaseNotice.team``): needed until those sent have answered."""


@dataclass(frozen=True, slots=True)
class PagedCase:
    """What a failing notice's case is now, for ``still_paging``."""

    active: bool
    """Not resolved, closed or taken into another case."""
    acknowledged: bool
    waiting: frozenset[str]
    """The members of its team who have not answered yet (``hub.cases.dispatch.pending``)."""
    superseded: bool = False
    """A later notice of the same event of the case (a dispatch or a hand-over: either), to the
    same target, went out or is still being tried: it says the same, as the case is now (a
    dispatch's or hand-over's names its whole team)."""


def still_paging(notice: CaseNotice, case: PagedCase | None) -> str | None:
    """Return why a notice that failed ``MAX_ATTEMPTS`` times may be given up, or None if it
    must be tried on: it pages about a life-safety case, the case is still open, and what it
    asks has not been done — taken on (a call-out: opened, escalated…) or answered by those it
    sent who are still on the team (a dispatch, a hand-over) — nor said again by a later notice
    (only the newest of each is tried on: a gateway back from an hour's outage gets one
    escalation, not eight).
    Other notices only inform, and keep their finite budget."""
    if notice.category != CaseCategory.LIFE_SAFETY.value:
        return "not a life-safety case"
    if case is None or not case.active:
        return "the case is over"
    if case.superseded:
        return "a later one says it again"
    if notice.event in CALLS_OUT:
        return "the case was taken on" if case.acknowledged else None
    if notice.event in SENDS:
        return None if case.waiting & set(notice.team) else "nobody it sent is waited for any more"
    return "it only informs"


def failing_note(
    notice: CaseNotice,
    channel: Channel,
    target: str,
    attempts: int,
    error: str | None,
    *,
    given_up: str | None,
) -> str:
    """Return the case history's line for a notice not delivered (``attempts``: its page's
    tries, all told): still tried (``given_up`` None) or given up, and why. It names the
    gateway by host only: a webhook URL may carry a token, and the history is in the audit
    trail."""
    what = failing_head(notice.event, notice.team, channel, target)
    why = f" ({error[:200]})" if error else ""
    if given_up is None:
        # A life-safety page is tried at most a minute apart; another keeps its own tries.
        how = (
            f"every {int(LIFE_SAFETY_LONGEST_RETRY.total_seconds())} s"
            if notice.category == CaseCategory.LIFE_SAFETY.value
            else "for now"
        )
        still = f"still trying {how}; phone instead"
        return f"{what} is not delivered after {attempts} tries{why}: {still}"
    return f"{what} was given up after {attempts} tries{why}: {given_up}"


def failing_head(event: CaseEventAction, team: Sequence[str], channel: Channel, target: str) -> str:
    """Return how ``failing_note`` starts for a notice: its event, whom it sends, and where."""
    whom = f" for {', '.join(team)}" if event in SENDS and team else ""
    return f"the {event.value} notice{whom} to {gateway_host(channel, target)}"


def gateway_host(channel: Channel, target: str) -> str:
    """Return a gateway as the hub names it to people: a webhook's host only (its URL may
    carry a token), or MQTT."""
    if channel is Channel.MQTT:
        return "MQTT"
    try:
        return httpx.URL(target).host or "a webhook"
    except httpx.InvalidURL:
        return "an invalid webhook URL"


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
