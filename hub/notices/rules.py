"""Notices, the pure core: which households a notice goes to.

A notice goes to a whole **site** (every household placed there), a **building** (every
household whose home lies in that place, within the site if one is named), or a list of
**households**. The list is fixed when the notice is sent: a household that moves in later
does not get an old water shut-off, and each recipient's read receipt is its own row.

Each recipient also gets its **copy** through the notification channels (``copies``): one to
the messaging gateway (and the hub's broker, if asked for) for the household itself, one to
each family or guardian contact of a care household. The copies are queued with the notice,
in its transaction, and delivered by the case notifier with its retries.

Nothing here does I/O.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from devices.location import Location
from hub.cases.notify import Channel
from hub.errors import InvalidInputError

NOTICE_TOPIC_ROOT = "linli/hub/notices"
HOUSEHOLD_CONTACT = "household"
"""The contact of a household's own copy (through the gateway), as the receipts show it."""


class NoticeScope(StrEnum):
    """Who a notice is for."""

    SITE = "site"
    BUILDING = "building"
    HOUSEHOLDS = "households"


class NoticeCategory(StrEnum):
    """What a notice is about (the page shows it with its own colour)."""

    GENERAL = "general"
    WATER_SHUTOFF = "water_shutoff"
    POWER_CUT = "power_cut"
    FIRE_DRILL = "fire_drill"
    EVACUATION = "evacuation"


URGENT: frozenset[NoticeCategory] = frozenset({NoticeCategory.EVACUATION})
"""Notices a household must not miss: shown first and in red."""


@dataclass(frozen=True, slots=True)
class Home:
    """A household as a notice's audience is chosen from."""

    id: int
    location: str
    site_id: str | None


def audience(
    homes: Iterable[Home],
    scope: NoticeScope,
    *,
    site_id: str | None = None,
    building: str | None = None,
    household_ids: Iterable[int] = (),
) -> list[int]:
    """Return the households a notice goes to, by id; refuse a scope without its target."""
    homes = list(homes)
    match scope:
        case NoticeScope.SITE:
            if site_id is None:
                raise InvalidInputError("a notice to a site needs its site_id")
            chosen = [h.id for h in homes if h.site_id == site_id]
        case NoticeScope.BUILDING:
            if building is None:
                raise InvalidInputError("a notice to a building needs the building's place")
            place = Location.parse(building)
            chosen = [
                h.id
                for h in homes
                if Location.parse(h.location).within(place)
                and (site_id is None or h.site_id == site_id)
            ]
        case NoticeScope.HOUSEHOLDS:
            wanted = set(household_ids)
            if not wanted:
                raise InvalidInputError("a notice to households needs their ids")
            known = {h.id for h in homes}
            unknown = sorted(wanted - known)
            if unknown:
                raise InvalidInputError(f"no such households: {', '.join(map(str, unknown))}")
            chosen = sorted(wanted)
    if not chosen:
        raise InvalidInputError("no household would get this notice")
    return sorted(chosen)


class Delivery(StrEnum):
    """Where a copy of a notice stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def delivery(delivered_at: datetime | None, failed_at: datetime | None) -> Delivery:
    """Return where a queued copy stands from its delivery and give-up times."""
    if delivered_at is not None:
        return Delivery.DELIVERED
    if failed_at is not None:
        return Delivery.FAILED
    return Delivery.PENDING


@dataclass(frozen=True, slots=True)
class FamilyContact:
    """A family member or guardian of a care household, as a notice's copy is sent to them."""

    name: str
    relation: str
    channel: Channel
    target: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """A household a notice went to, with what its copy names."""

    id: int
    name: str
    token_hash: str


class NoticeMessage(BaseModel):
    """The JSON a gateway (or a family contact's webhook) receives for a notice: which
    household it is for and what it says. ``household_token_sha256`` is the hex SHA-256 of the
    household's page token, which a gateway that bound the household by its link can match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    type: Literal["notice"] = "notice"
    notice_id: int
    ts: AwareDatetime
    category: NoticeCategory
    urgent: bool
    title: str
    body: str
    household_id: int
    household_name: str
    household_token_sha256: str
    contact: str
    """``household`` for the household's own copy, else the family contact's name and relation."""


@dataclass(frozen=True, slots=True)
class Copy:
    """One copy of a notice to send: for which household, to whom, where."""

    household_id: int
    contact: str
    channel: Channel
    target: str
    message: NoticeMessage


def notice_topic(notice_id: int, household_id: int) -> str:
    """Return the MQTT topic of a household's copy of a notice."""
    return f"{NOTICE_TOPIC_ROOT}/{notice_id}/{household_id}"


def copies(
    *,
    notice_id: int,
    ts: datetime,
    category: NoticeCategory,
    title: str,
    body: str,
    recipients: Sequence[Recipient],
    household_targets: Sequence[tuple[Channel, str]],
    family: Mapping[int, Sequence[FamilyContact]],
) -> list[Copy]:
    """Return the copies of a notice to queue: per recipient, one to each household target and
    one to each of its family contacts; a target named twice for one household gets one."""
    found: list[Copy] = []
    for home in recipients:
        reached: set[tuple[Channel, str]] = set()
        wanted = [(HOUSEHOLD_CONTACT, channel, target) for channel, target in household_targets]
        wanted += [
            (f"{c.name} ({c.relation})", c.channel, c.target) for c in family.get(home.id, ())
        ]
        for contact, channel, target in wanted:
            where = notice_topic(notice_id, home.id) if channel is Channel.MQTT else target
            if (channel, where) in reached:
                continue
            reached.add((channel, where))
            message = NoticeMessage(
                notice_id=notice_id,
                ts=ts,
                category=category,
                urgent=category in URGENT,
                title=title,
                body=body,
                household_id=home.id,
                household_name=home.name,
                household_token_sha256=home.token_hash,
                contact=contact,
            )
            found.append(Copy(home.id, contact, channel, where, message))
    return found
