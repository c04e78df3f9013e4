"""The access decision: may this credential open this door now? A pure function.

Inputs are plain values: the allow-list entry found for the presented credential's keyed hash
(None when unknown), the door, whether the reader is the door's entry or exit reader, the
instant, the site's time zone (None when the edge cannot read it: scheduled rules then
never match), and the people the door has seen enter (anti-passback). Nothing
here reads a clock, a database or a broker.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.access import AllowEntry, DoorConfig, EntryStatus


class Direction(StrEnum):
    """Which of a door's readers the credential was presented at."""

    ENTRY = "entry"
    EXIT = "exit"


class Verdict(StrEnum):
    """Why a credential was granted or denied (the log's ``reason``)."""

    GRANTED = "granted"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    NO_ACCESS_TO_DOOR = "no_access_to_door"
    OUTSIDE_SCHEDULE = "outside_schedule"
    ANTI_PASSBACK = "anti_passback"
    STALE_FRAME = "stale_frame"
    """The reader presented the credential too long ago (a frame the broker kept while the
    edge was away): nobody is at the door any more, so it opens nothing."""
    MALFORMED_FRAME = "malformed_frame"
    """The reader's frame was not a credential (malformed or oversized): a garbled read, a
    failing reader or someone feeding it garbage. Denied, and counted towards a burst."""


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The outcome for one presented credential."""

    verdict: Verdict
    credential_id: int | None = None
    person_id: int | None = None

    @property
    def granted(self) -> bool:
        """Return whether the door opens."""
        return self.verdict is Verdict.GRANTED


def decide(
    entry: AllowEntry | None,
    door: DoorConfig,
    direction: Direction,
    now: datetime,
    zone: ZoneInfo | None,
    inside: frozenset[int] = frozenset(),
) -> AccessDecision:
    """Decide whether ``entry`` opens ``door`` at the aware instant ``now``.

    Checks in order: known, not revoked, within its validity window (``valid_from``
    inclusive, ``valid_until`` exclusive), allowed at this door, inside one of the rule's
    schedule windows in the site's local time, and, with anti-passback on, not entering twice
    without leaving. Without a time zone (``zone`` None) no scheduled rule matches: a
    schedule read in another zone (UTC) would open hours early or late.
    """
    if entry is None:
        return _UNKNOWN
    who = (entry.credential_id, entry.person_id)
    if entry.status is EntryStatus.REVOKED:
        return AccessDecision(Verdict.REVOKED, *who)
    if entry.valid_from is not None and now < entry.valid_from:
        return AccessDecision(Verdict.NOT_YET_VALID, *who)
    if entry.valid_until is not None and now >= entry.valid_until:
        return AccessDecision(Verdict.EXPIRED, *who)
    rules = [rule for rule in entry.rules if door.id in rule.doors]
    if not rules:
        return AccessDecision(Verdict.NO_ACCESS_TO_DOOR, *who)
    if all(rule.windows for rule in rules):  # a rule without windows allows at any time
        local = now.astimezone(zone) if zone is not None else None
        if local is None or not any(w.contains(local) for rule in rules for w in rule.windows):
            return AccessDecision(Verdict.OUTSIDE_SCHEDULE, *who)
    if passback_applies(door) and direction is Direction.ENTRY and entry.person_id in inside:
        return AccessDecision(Verdict.ANTI_PASSBACK, *who)
    return AccessDecision(Verdict.GRANTED, *who)


def passback_applies(door: DoorConfig) -> bool:
    """Return whether anti-passback is in force at ``door``: on, and with an exit reader.

    Without an exit reader nobody can be seen leaving: each person would be let in once, then
    refused at that door for ever (the hub refuses the configuration; a list stored before it
    did must not lock anyone out).
    """
    return door.anti_passback and door.exit_reader_id is not None


CLOCK_NOT_SET_S = 86_400.0
"""A reader time more than this behind the edge's is a clock never set (no real-time clock:
1970 plus its uptime), not a frame held that long: judged as presented now, as a frame
without a time is (``devices.observations.DEVICE_CLOCK_BEHIND_S`` for the same reason)."""


def presented_too_long_ago(presented_at: datetime | None, now: datetime, max_age_s: float) -> bool:
    """Return whether a frame the reader stamped ``presented_at`` is too old to open a door.

    A frame without a time, or with a time more than ``CLOCK_NOT_SET_S`` behind, is judged as
    presented now. A reader clock ahead of the edge's is no reason to refuse anyone; one more
    than ``max_age_s`` behind is (keep readers on NTP: such a refusal is logged as
    ``stale_frame``, so a reader whose clock drifted shows in the access log at once).
    """
    if presented_at is None:
        return False
    behind = (now - presented_at).total_seconds()
    return max_age_s < behind <= CLOCK_NOT_SET_S


_UNKNOWN = AccessDecision(Verdict.UNKNOWN_CREDENTIAL)
