"""Cases, the pure core: their lifecycle, resolution codes, and what an alert does to one.

A case is one incident — possibly many devices and alert kinds at one place, see
``hub.cases.correlation`` — from its first alert until it is closed. Its life is an explicit state
machine (``CaseStatus``, one ``transition``)::

    open ──acknowledge──▶ acknowledged ──dispatch──▶ dispatched ──accept──▶ accepted
      │                                                 │ ▲ ▲                 │ start
      └──────────────────dispatch───────────────────────┘ │ └───hand_over──── ▼
                     dispatched ──decline──▶ open      re-dispatch        in_progress
                     dispatched ──acknowledge──▶ dispatched (the hub dispatched it itself)
    any active status ──resolve (code + note)──▶ resolved ──close──▶ closed
                                                  │ reopen (operator, or the problem came back)
                                                  ▼
                                                 open

A case goes to a team (``hub.cases.dispatch``), whose members answer one by one: the first to
accept makes the case accepted, and while a member is still waiting to answer, an accepted
or in-progress case may still be accepted or declined (by them), and an operator may
dispatch more people to it. ``settle`` then derives the status from the team: accepted while
someone accepted, dispatched while someone is waiting, open with nobody.

While a case is active (not resolved or closed), every alert routed to its correlation key
joins it; the database enforces one active case per key with the unique ``open_key``
(``hub.persistence``). This module decides what each alert does to that case.

Nothing here does I/O or reads the clock: ``now`` and the current case are passed in.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import FeedbackStage
from hub.errors import IllegalTransitionError


class CaseStatus(StrEnum):
    """Where a case is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    COMMENTED = "commented"


class CaseAction(StrEnum):
    """What a person (or the hub, for ``reopen``) can do to a case."""

    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    DECLINE = "decline"
    HAND_OVER = "hand_over"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    COMMENT = "comment"


class Resolution(StrEnum):
    """How a case ended: required to resolve it, and what the nuisance rate is made of."""

    REAL = "real"
    FALSE_ALARM = "false_alarm"
    NUISANCE = "nuisance"
    TEST = "test"
    FAULT = "fault"


class CaseEventAction(StrEnum):
    """What a line of a case's append-only history records."""

    OPENED = "opened"
    ALERT_ATTACHED = "alert_attached"
    PRIORITY_RAISED = "priority_raised"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    HANDED_OVER = "handed_over"
    ESCALATED = "escalated"
    ON_SITE = "on_site"
    """A member of the team reached the case's place (their phone's position, ``hub.positions``)."""
    STARTED = "started"
    RESOLVED = "resolved"
    CLOSED = "closed"
    COMMENTED = "commented"
    MERGED = "merged"
    """The case went into another one (``merged_into``), with its members and alerts."""
    MERGED_IN = "merged_in"
    """Another case went into this one: a press handled before the incident it is part of."""
    CLAIMED = "claimed"
    """An edge spoke for the case's device, registered to another edge (``hub.fleet.claims``)."""
    NOTICE_FAILED = "notice_failed"
    """A notice of the case (a page) could not be delivered: still failing after
    ``MAX_ATTEMPTS`` tries, or given up (``hub.cases.notices``): someone should phone."""
    NOTICE_DELIVERED = "notice_delivered"
    """A notice the history said was failing went out at last."""


ACTION_EVENTS: dict[CaseAction, CaseEventAction] = {
    CaseAction.ACKNOWLEDGE: CaseEventAction.ACKNOWLEDGED,
    CaseAction.DISPATCH: CaseEventAction.DISPATCHED,
    CaseAction.ACCEPT: CaseEventAction.ACCEPTED,
    CaseAction.DECLINE: CaseEventAction.DECLINED,
    CaseAction.HAND_OVER: CaseEventAction.HANDED_OVER,
    CaseAction.START: CaseEventAction.STARTED,
    CaseAction.RESOLVE: CaseEventAction.RESOLVED,
    CaseAction.CLOSE: CaseEventAction.CLOSED,
    CaseAction.REOPEN: CaseEventAction.REOPENED,
    CaseAction.COMMENT: CaseEventAction.COMMENTED,
}
"""The history line each action writes."""

ACTIVE: frozenset[CaseStatus] = frozenset(
    {
        CaseStatus.OPEN,
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.DISPATCHED,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_PROGRESS,
    }
)
"""Statuses in which new alerts of the incident join the case."""


def _move(status: CaseStatus, action: CaseAction, waiting: bool) -> CaseStatus | None:
    """Return where ``action`` takes a case in ``status``, or None if it may not.

    ``waiting``: someone on the case's team has not answered yet.
    """
    match status, action:
        case CaseStatus.OPEN, CaseAction.ACKNOWLEDGE:
            return CaseStatus.ACKNOWLEDGED
        case CaseStatus.DISPATCHED, CaseAction.ACKNOWLEDGE:
            # The hub dispatched it on its own; an operator saying "seen" does not undo that.
            return CaseStatus.DISPATCHED
        case CaseStatus.OPEN | CaseStatus.ACKNOWLEDGED | CaseStatus.DISPATCHED, CaseAction.DISPATCH:
            # Dispatching a dispatched case sends it to more (or other) people.
            return CaseStatus.DISPATCHED
        case CaseStatus.ACCEPTED | CaseStatus.IN_PROGRESS, CaseAction.DISPATCH:
            # Someone is on it; an operator may still send more help.
            return status
        case CaseStatus.DISPATCHED, CaseAction.ACCEPT:
            return CaseStatus.ACCEPTED
        case CaseStatus.ACCEPTED | CaseStatus.IN_PROGRESS, CaseAction.ACCEPT if waiting:
            # Another member of the team joins who is already on it.
            return status
        case CaseStatus.DISPATCHED, CaseAction.DECLINE:
            # Nobody has it any more (unless others of the team do: see ``settle``).
            return CaseStatus.OPEN
        case CaseStatus.ACCEPTED | CaseStatus.IN_PROGRESS, CaseAction.DECLINE if waiting:
            return status
        case CaseStatus.ACCEPTED, CaseAction.START:
            return CaseStatus.IN_PROGRESS
        case CaseStatus.ACCEPTED | CaseStatus.IN_PROGRESS, CaseAction.HAND_OVER:
            # The new responder has to accept it in turn.
            return CaseStatus.DISPATCHED
        case active, CaseAction.RESOLVE if active in ACTIVE:
            return CaseStatus.RESOLVED
        case CaseStatus.RESOLVED, CaseAction.CLOSE:
            return CaseStatus.CLOSED
        case CaseStatus.RESOLVED, CaseAction.REOPEN:
            return CaseStatus.OPEN
        case _, CaseAction.COMMENT:
            # A note on the record, at any point in the case's life; the status stays.
            return status
        case _:
            return None


def transition(status: CaseStatus, action: CaseAction, *, waiting: bool = False) -> CaseStatus:
    """Return the status ``action`` moves a case to, or raise ``IllegalTransitionError``.

    ``waiting``: someone on the case's team has not answered yet. The error names the
    case's status, the refused action and what would be allowed.
    """
    moved = _move(status, action, waiting)
    if moved is not None:
        return moved
    match status:
        case CaseStatus.CLOSED:
            raise IllegalTransitionError(f"the case is closed: it cannot be {_past(action)}")
        case CaseStatus.RESOLVED:
            raise IllegalTransitionError(
                f"the case is resolved: it can only be closed or reopened, not {_past(action)}"
            )
        case CaseStatus.ACCEPTED | CaseStatus.IN_PROGRESS if action in (
            CaseAction.ACCEPT,
            CaseAction.DECLINE,
        ):
            raise IllegalTransitionError(
                f"cannot {action} a case that is {status}: nobody on its team is waiting to "
                "answer (hand it over instead)"
            )
        case _:
            allowed = ", ".join(a.value for a in allowed_actions(status, waiting=waiting))
            raise IllegalTransitionError(
                f"cannot {action} a case that is {status} (allowed: {allowed})"
            )


def _past(action: CaseAction) -> str:
    return {
        CaseAction.ACKNOWLEDGE: "acknowledged",
        CaseAction.DISPATCH: "dispatched",
        CaseAction.ACCEPT: "accepted",
        CaseAction.DECLINE: "declined",
        CaseAction.HAND_OVER: "handed over",
        CaseAction.START: "started",
        CaseAction.RESOLVE: "resolved",
        CaseAction.CLOSE: "closed",
        CaseAction.REOPEN: "reopened",
        CaseAction.COMMENT: "commented on",
    }[action]


def allowed_actions(
    status: CaseStatus, *, waiting: bool = False, acknowledged: bool = False
) -> list[CaseAction]:
    """Return the actions a case in ``status`` accepts, in declaration order (``waiting``:
    someone on its team has not answered yet; ``acknowledged``: someone has, and an
    acknowledgement that would not move the case is spent, ``hub.cases.actions``)."""
    return [
        action
        for action in CaseAction
        if (moved := _move(status, action, waiting)) is not None
        and not (acknowledged and action is CaseAction.ACKNOWLEDGE and moved is status)
    ]


def settle(
    before: CaseStatus, moved: CaseStatus, *, anyone_accepted: bool, anyone_waiting: bool
) -> CaseStatus:
    """Return a case's status after an action moved it from ``before`` to ``moved`` and its
    team became what it is now.

    Accepted (or still in progress) while a member has accepted; dispatched while a member
    is waiting to answer; otherwise where the action took it (open with nobody left).
    """
    if moved not in ACTIVE:
        return moved
    if anyone_accepted:
        in_progress = CaseStatus.IN_PROGRESS in (before, moved)
        return CaseStatus.IN_PROGRESS if in_progress else CaseStatus.ACCEPTED
    if anyone_waiting:
        return CaseStatus.DISPATCHED
    if moved in (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED):
        return moved
    return CaseStatus.OPEN


ACKNOWLEDGING: frozenset[CaseAction] = frozenset({CaseAction.ACKNOWLEDGE, CaseAction.ACCEPT})
"""Actions by which a person takes the case on: from then on, someone is coming."""


def feedback_stage(status: CaseStatus, acknowledged: bool) -> FeedbackStage:
    """Return what a resident is told about a case in ``status``.

    Someone is coming (``acknowledged``) once a person has taken the case on — an operator
    acknowledged it or a responder accepted it — and stays so while the case is active, even
    if it is dispatched to someone else. A case the hub dispatched on its own, that nobody
    has accepted yet, is only ``case_opened``.
    """
    match status:
        case CaseStatus.RESOLVED | CaseStatus.CLOSED:
            return FeedbackStage.RESOLVED
        case _ if acknowledged:
            return FeedbackStage.ACKNOWLEDGED
        case _:
            return FeedbackStage.CASE_OPENED


def is_unresolved(status: CaseStatus) -> bool:
    """Return whether alerts of the case's incident still join it."""
    return status in ACTIVE


def open_key(device_id: str, kind: AlertKind) -> str:
    """Return the correlation key of an alert no rule groups: one per (device, kind)."""
    return f"{device_id}|{kind}"


NUISANCE_CODES: frozenset[Resolution] = frozenset({Resolution.FALSE_ALARM, Resolution.NUISANCE})
"""Resolutions that count against a device: it alarmed and nothing was wrong."""


def nuisance_rate(resolutions: Mapping[Resolution, int]) -> float | None:
    """Return the share of a device's judged cases that were false or nuisance alarms.

    Tests are left out (a drill says nothing about the device), and so is nothing else:
    a real event or a fault is a case the device was right to raise. ``None`` until a
    case has been judged.
    """
    judged = sum(n for code, n in resolutions.items() if code is not Resolution.TEST)
    if judged == 0:
        return None
    return sum(resolutions.get(code, 0) for code in NUISANCE_CODES) / judged


def more_severe(a: Severity, b: Severity) -> Severity:
    """Return the more severe of two severities."""
    return a if a.rank <= b.rank else b


def highest_severity(severities: Iterable[Severity]) -> Severity:
    """Return the most severe of some severities (a case's priority over its alerts)."""
    return min(severities, key=lambda s: s.rank)


@dataclass(frozen=True, slots=True)
class IncomingAlert:
    """The facts of a new alert that decide what it does to a case."""

    state: AlertState
    severity: Severity
    ts: datetime


@dataclass(frozen=True, slots=True)
class OpenCaseState:
    """The facts of an active case that an incoming alert may change."""

    priority: Severity
    alert_count: int
    last_alert_at: datetime


@dataclass(frozen=True, slots=True)
class ResolvedCaseState:
    """The most recent resolved (not closed) case of the same correlation key."""

    priority: Severity
    alert_count: int
    last_alert_at: datetime
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class OpenNewCase:
    """Open a case for the alert's correlation key."""

    priority: Severity
    opened_at: datetime
    last_alert_at: datetime


@dataclass(frozen=True, slots=True)
class AttachToCase:
    """Join the alert to the active case, which becomes ``updated``."""

    updated: OpenCaseState
    priority_raised: bool


@dataclass(frozen=True, slots=True)
class ReopenCase:
    """The problem came back soon after its case was resolved: reopen it as ``updated``."""

    updated: OpenCaseState


@dataclass(frozen=True, slots=True)
class NoCase:
    """Store the alert without a case (a clearance with nothing open to clear)."""


CaseDecision = OpenNewCase | AttachToCase | ReopenCase | NoCase


def decide(
    alert: IncomingAlert,
    open_case: OpenCaseState | None,
    now: datetime,
    *,
    recently_resolved: ResolvedCaseState | None = None,
    reopen_within: timedelta = timedelta(0),
) -> CaseDecision:
    """Decide what a new alert does, given the active case of its correlation key, if any.

    A raised alert joins the active case, raising its priority if the alert is more severe.
    With no active case it reopens the key's last resolved case if that was resolved less
    than ``reopen_within`` before the alert happened (its time, never later than ``now``: an
    alarm raised during an outage and delivered after it belongs with the case it came back
    to, however long the uplink was cut), and opens a new case otherwise. A cleared alert joins the
    active case as evidence but never raises its priority — the condition ended — and never
    opens or reopens a case on its own.
    """
    match alert.state, open_case:
        case AlertState.RAISED, None:
            # Resolved after the alarm happened (it waited at the edge or in a backlog while
            # the case was resolved, or a worker's clock is behind): as recent as can be.
            happened = min(alert.ts, now)
            if recently_resolved is not None and (
                max(happened - recently_resolved.resolved_at, timedelta(0)) < reopen_within
            ):
                return ReopenCase(
                    updated=OpenCaseState(
                        priority=more_severe(recently_resolved.priority, alert.severity),
                        alert_count=recently_resolved.alert_count + 1,
                        last_alert_at=max(recently_resolved.last_alert_at, alert.ts),
                    )
                )
            return OpenNewCase(priority=alert.severity, opened_at=now, last_alert_at=alert.ts)
        case AlertState.CLEARED, None:
            return NoCase()
        case state, OpenCaseState() as case:
            priority = case.priority
            if state is AlertState.RAISED:
                priority = more_severe(case.priority, alert.severity)
            updated = OpenCaseState(
                priority=priority,
                alert_count=case.alert_count + 1,
                last_alert_at=max(case.last_alert_at, alert.ts),
            )
            return AttachToCase(updated=updated, priority_raised=priority != case.priority)
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


@dataclass(frozen=True, slots=True)
class StrayClearance:
    """A clearance stored without a case: nothing of its incident was open when it came."""

    alert_id: str
    ts: datetime


def clearances_to_adopt(raised: IncomingAlert, strays: Iterable[StrayClearance]) -> list[str]:
    """Return the ids of the stray clearances (same device and kind) that the case a raised
    alert opened or joined takes in as evidence, oldest first.

    Several hub workers take a device's messages in turn, so a clearance can be stored before
    the alarm it ends. Handled in event-time order it would have joined the alarm's case: so
    every clearance at or after the alarm's ``ts`` that came in with nothing open joins it
    now. With this, a device's alarms and clearances leave its case the same (members, count,
    priority, last alert) whatever order they arrive in.
    """
    if raised.state is not AlertState.RAISED:
        return []
    joining = sorted((s for s in strays if s.ts >= raised.ts), key=lambda s: (s.ts, s.alert_id))
    return [stray.alert_id for stray in joining]
