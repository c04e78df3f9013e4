"""Supervision of the link to each edge, the pure core: when an edge's outage begins and ends.

An edge lost (its last will, its clean goodbye, or no status for longer than
``edge_silent_after_s``) leaves every device it serves unwatched: a smoke detector or an SOS
button whose alarm reaches nobody. The hub then raises an ``edge_offline`` alert of its own,
about the edge's own row in the devices table (``edge_device_id``), and clears it at the
edge's next ``online`` status; the case intake makes one case of them per edge.

An outage is open from its raised alert until its cleared one (``OpenOutage``, read from the
alerts stored): so a second ``offline`` (a retained will handed over again, another hub
worker's copy) raises nothing more, and a second outage after the return raises again, into
the same case while an operator has not resolved it. A revoked edge is no outage: it was taken
out of service on purpose (``linli broker revoke``).

An edge says how often it sends its status (``EdgeStatus.heartbeat_s``), and is judged silent
by its own rhythm (``EdgeRhythm``): an edge that beats every 300 s on a metered uplink is not
lost after 120 s (a false case every few minutes, and operators who learn to ignore the real
one), one that beats every 5 s at a critical site is lost after 20 s, not 120 s. The rhythm the
hub takes is bounded: a forged or absurd one can neither silence supervision nor make it raise
at every round.

Each alert's id is made from the edge and the outage's start, so hub workers deciding the same
outage at once store one alert (``hub.cases.copies``). Nothing here reads the clock or the
database.
"""

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, AlertReason

EDGE_DEVICE_PREFIX = "edge."
"""The id of an edge's row in the devices table is the edge's id after this prefix: a case
and an alert name a device row, and the prefix keeps an edge apart from a device of the same
id."""

EDGE_ROW_KIND = "edge"
"""The ``devices.kind`` of an edge's own row: not a ``DeviceKind``, never an edge's device
(``hub.fleet.outages``)."""

_ID_LENGTH = 64


class OutageCause(StrEnum):
    """How the hub learned the edge was gone."""

    OFFLINE = "offline"
    """Its status said so: the broker published its last will, or it said goodbye."""
    SILENT = "silent"
    """It stayed ``online`` but sent no status for longer than its rhythm allows (``EdgeRhythm``;
    ``edge_silent_after_s`` for an edge that does not say its heartbeat)."""


@dataclass(frozen=True, slots=True)
class EdgeRhythm:
    """How long an edge may stay silent, by the heartbeat it says it keeps.

    An edge that says its ``heartbeat_s`` is lost once silent for longer than ``missed`` of its
    heartbeats, never sooner than ``floor`` (a status late on a poor uplink, the rounds' own
    pace), its heartbeat taken as at most ``heartbeat_cap`` (an edge that says a day, or 1e9,
    is judged as if it said the cap: it cannot silence its supervision). One that does not
    say (an edge before 2026-12-07), or says what no edge can mean (zero, negative, NaN,
    infinite: ``EdgeStatus`` refuses them, a row may still hold one), is lost after
    ``default``, the hub's ``edge_silent_after_s``.
    """

    default: timedelta = timedelta(seconds=120)
    missed: float = 4.0
    floor: timedelta = timedelta(seconds=15)
    heartbeat_cap: timedelta = timedelta(seconds=450)

    def capped(self, heartbeat_s: float | None) -> bool:
        """Return whether the edge says a heartbeat longer than the hub takes."""
        if heartbeat_s is None or not _sane(heartbeat_s):
            return False
        return heartbeat_s > self.heartbeat_cap.total_seconds()

    def silent_after(self, heartbeat_s: float | None) -> timedelta:
        """Return how long an edge that says ``heartbeat_s`` may stay silent."""
        if heartbeat_s is None or not _sane(heartbeat_s):
            return self.default
        taken = min(heartbeat_s, self.heartbeat_cap.total_seconds())
        return max(timedelta(seconds=self.missed * taken), self.floor)


def _sane(heartbeat_s: float) -> bool:
    return math.isfinite(heartbeat_s) and heartbeat_s > 0


@dataclass(frozen=True, slots=True)
class OpenOutage:
    """An outage raised and not yet cleared: its alert's id and when it began."""

    alert_id: str
    since: datetime


@dataclass(frozen=True, slots=True)
class EdgeWatch:
    """What the hub holds of one edge, for judging whether it is lost."""

    edge_id: str
    state: Literal["online", "offline"] | str
    last_seen: datetime
    """When the hub received its last status."""
    revoked: bool = False
    outage: OpenOutage | None = None
    heartbeat_s: float | None = None
    """How often it said it sends its status (``EdgeStatus.heartbeat_s``); None: not said."""


@dataclass(frozen=True, slots=True)
class Unwatched:
    """What an edge's outage leaves unwatched: its site (if the roster names one) and the
    devices in service it serves."""

    site_id: str | None
    site_name: str | None
    devices: int


@dataclass(frozen=True, slots=True)
class RaiseOutage:
    """The edge is lost since ``since``: raise its ``edge_offline`` alert."""

    edge_id: str
    cause: OutageCause
    since: datetime
    silent_after: timedelta | None = field(default=None, compare=False)
    """With cause ``silent``: how long the edge could stay silent (``EdgeRhythm``); what the
    alert says, not what the outage is (the same outage, whoever judged it)."""


@dataclass(frozen=True, slots=True)
class ClearOutage:
    """The edge is back at ``back_at``: clear the outage raised at ``outage.since``."""

    edge_id: str
    outage: OpenOutage
    back_at: datetime

    @property
    def blind(self) -> timedelta:
        """Return how long the edge's site went unwatched."""
        return max(self.back_at - self.outage.since, timedelta(0))


OutageDecision = RaiseOutage | ClearOutage


def edge_device_id(edge_id: str) -> str:
    """Return the id of the devices-table row that stands for an edge (always a valid id:
    a long edge id is shortened with a digest of it)."""
    plain = f"{EDGE_DEVICE_PREFIX}{edge_id}"
    if len(plain) <= _ID_LENGTH:
        return plain
    digest = hashlib.sha256(edge_id.encode()).hexdigest()[:16]
    return f"{EDGE_DEVICE_PREFIX}{edge_id[: _ID_LENGTH - len(EDGE_DEVICE_PREFIX) - 17]}.{digest}"


def on_status(
    watch: EdgeWatch,
    state: str,
    received_at: datetime,
    offline_grace: timedelta = timedelta(0),
) -> OutageDecision | None:
    """Decide what an edge's status, just taken, does to its outage.

    ``offline`` opens one unless one is open, since it was received (the time ``on_tick``
    would give it too: a last will carries none) — at once only without an ``offline_grace``:
    with one, ``on_tick`` opens it once the edge has stayed offline that long (a restart or an
    upgrade is back before and opens none); ``online`` clears the open one."""
    if watch.revoked:
        return None
    if state == "offline":
        if watch.outage is not None or offline_grace > timedelta(0):
            return None
        return RaiseOutage(watch.edge_id, OutageCause.OFFLINE, received_at)
    if state == "online" and watch.outage is not None:
        return ClearOutage(watch.edge_id, watch.outage, received_at)
    return None


def on_tick(
    watches: list[EdgeWatch],
    now: datetime,
    silent_after: timedelta | EdgeRhythm,
    listening_since: datetime | None = None,
    offline_grace: timedelta = timedelta(0),
) -> list[RaiseOutage]:
    """Decide which edges are lost at ``now`` with no status to say so: an ``online`` edge
    silent for longer than its rhythm allows (``EdgeRhythm``; a bare ``silent_after``: that
    for an edge that does not say its heartbeat), and an ``offline`` one whose outage was not raised
    yet, once it has been offline for ``offline_grace`` (or its alert could not be written when
    the status came).

    Silent since its last status, or since the hub has been listening (``listening_since``:
    its ingest connected without a break since then; None: for as long as it matters), if
    later: a hub that was down, or cut from its broker, heard no edge, and blaming every edge
    for it would open a case per edge at each restart."""
    rhythm = silent_after if isinstance(silent_after, EdgeRhythm) else EdgeRhythm(silent_after)
    raised: list[RaiseOutage] = []
    for watch in sorted(watches, key=lambda w: w.edge_id):
        if watch.revoked or watch.outage is not None:
            continue
        heard = watch.last_seen
        if listening_since is not None:
            heard = max(heard, listening_since)
        if watch.state == "offline":
            if now - watch.last_seen >= offline_grace:
                raised.append(RaiseOutage(watch.edge_id, OutageCause.OFFLINE, watch.last_seen))
        elif now - heard > (allowed := rhythm.silent_after(watch.heartbeat_s)):
            raised.append(RaiseOutage(watch.edge_id, OutageCause.SILENT, watch.last_seen, allowed))
    return raised


def outage_alert(decision: OutageDecision, unwatched: Unwatched) -> Alert:
    """Return the hub's own alert for a decision, about the edge's row (``edge_device_id``).

    Its times are the outage's (its start, or the return), never the moment a worker decided,
    so that every worker deciding it makes the same alert."""
    values: dict[str, float | bool | str] = {"devices_unwatched": unwatched.devices}
    if unwatched.site_id is not None:
        values["site_id"] = unwatched.site_id
    if unwatched.site_name is not None:
        values["site"] = unwatched.site_name
    match decision:
        case RaiseOutage(edge_id=edge_id, cause=cause, since=since):
            state, at = AlertState.RAISED, since
            values["cause"] = cause.value
            if decision.silent_after is not None:
                values["silent_after_s"] = round(decision.silent_after.total_seconds(), 1)
            key = f"raised|{since.isoformat()}"
        case ClearOutage(edge_id=edge_id, outage=outage, back_at=back_at):
            state, at = AlertState.CLEARED, back_at
            values["blind_s"] = round(decision.blind.total_seconds(), 1)
            values["raised_alert"] = outage.alert_id
            key = f"cleared|{outage.alert_id}"
    return Alert(
        id=_alert_id(edge_id, key),
        edge_id=edge_id,
        device_id=edge_device_id(edge_id),
        kind=AlertKind.EDGE_OFFLINE,
        state=state,
        severity=Severity.HIGH,
        ts=at,
        detected_at=at,
        location=None,
        reason=AlertReason(rule="edge_supervision", values=values),
    )


def outage_note(decision: OutageDecision, unwatched: Unwatched) -> str:
    """Return the case history's line for a decision: which site, how many devices, and on
    the return how long the site was blind."""
    site = (
        f"site {unwatched.site_name or unwatched.site_id}"
        if unwatched.site_id is not None
        else "no site in the roster"
    )
    devices = f"{unwatched.devices} device{'' if unwatched.devices == 1 else 's'}"
    match decision:
        case RaiseOutage(edge_id=edge_id, cause=OutageCause.OFFLINE):
            return f"edge {edge_id} went offline: {site}, {devices} unwatched"
        case RaiseOutage(edge_id=edge_id):
            return f"edge {edge_id} fell silent (no status): {site}, {devices} unwatched"
        case ClearOutage(edge_id=edge_id, outage=outage, back_at=back_at):
            return (
                f"edge {edge_id} back online: {site} was blind for "
                f"{_duration(decision.blind)} ({outage.since.isoformat()} to "
                f"{back_at.isoformat()})"
            )
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _alert_id(edge_id: str, key: str) -> str:
    return "edge-offline-" + hashlib.sha256(f"{edge_id}|{key}".encode()).hexdigest()[:32]
