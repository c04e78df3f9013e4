"""Cases, the pure core: their states, the moves between them, and how an alert joins one.

A case is one problem — one device, one alert kind — from the first alert until an operator
resolves it. While it is not resolved, every further alert of that device and kind joins it;
the database enforces "one unresolved case per (device, kind)" with a unique ``open_key``
(see ``hub.db``), and this module decides what each alert does to that case.

Nothing here does I/O or reads the clock: ``now`` and the current case are passed in.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import FeedbackStage
from hub.errors import IllegalTransitionError


class CaseStatus(StrEnum):
    """Where a case is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class CaseAction(StrEnum):
    """What an operator can do to a case."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class CaseEventAction(StrEnum):
    """What a line of a case's append-only history records."""

    OPENED = "opened"
    ALERT_ATTACHED = "alert_attached"
    PRIORITY_RAISED = "priority_raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ACTION_EVENTS: dict[CaseAction, CaseEventAction] = {
    CaseAction.ACKNOWLEDGE: CaseEventAction.ACKNOWLEDGED,
    CaseAction.RESOLVE: CaseEventAction.RESOLVED,
}
"""The history line each operator action writes."""


def transition(status: CaseStatus, action: CaseAction) -> CaseStatus:
    """Return the status ``action`` moves a case to, or raise ``IllegalTransitionError``."""
    match status, action:
        case CaseStatus.OPEN, CaseAction.ACKNOWLEDGE:
            return CaseStatus.ACKNOWLEDGED
        case CaseStatus.OPEN | CaseStatus.ACKNOWLEDGED, CaseAction.RESOLVE:
            return CaseStatus.RESOLVED
        case CaseStatus.ACKNOWLEDGED, CaseAction.ACKNOWLEDGE:
            raise IllegalTransitionError("the case is already acknowledged")
        case CaseStatus.RESOLVED, _:
            raise IllegalTransitionError(f"the case is resolved: it cannot be {action}d any more")
        case _:  # pragma: no cover - every pair is listed above
            raise IllegalTransitionError(f"cannot {action} a case that is {status}")


def feedback_stage(status: CaseStatus) -> FeedbackStage:
    """Return what a resident is told about a case in ``status``."""
    match status:
        case CaseStatus.OPEN:
            return FeedbackStage.CASE_OPENED
        case CaseStatus.ACKNOWLEDGED:
            return FeedbackStage.ACKNOWLEDGED
        case CaseStatus.RESOLVED:
            return FeedbackStage.RESOLVED
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def is_unresolved(status: CaseStatus) -> bool:
    """Return whether alerts of the case's device and kind still join it."""
    return status is not CaseStatus.RESOLVED


def open_key(device_id: str, kind: AlertKind) -> str:
    """Return the key that is unique among unresolved cases: one per (device, kind)."""
    return f"{device_id}|{kind}"


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
    """The facts of an unresolved case that an incoming alert may change."""

    priority: Severity
    alert_count: int
    last_alert_at: datetime


@dataclass(frozen=True, slots=True)
class OpenNewCase:
    """Open a case for the alert's (device, kind)."""

    priority: Severity
    opened_at: datetime
    last_alert_at: datetime


@dataclass(frozen=True, slots=True)
class AttachToCase:
    """Join the alert to the unresolved case, which becomes ``updated``."""

    updated: OpenCaseState
    priority_raised: bool


@dataclass(frozen=True, slots=True)
class NoCase:
    """Store the alert without a case (a clearance with nothing open to clear)."""


CaseDecision = OpenNewCase | AttachToCase | NoCase


def decide(alert: IncomingAlert, open_case: OpenCaseState | None, now: datetime) -> CaseDecision:
    """Decide what a new alert does, given the unresolved case of its (device, kind), if any.

    A raised alert opens a case when none is open and joins it otherwise, raising its priority
    if the alert is more severe. A cleared alert joins the open case as evidence but never
    raises its priority — the condition ended — and never opens a case on its own.
    """
    match alert.state, open_case:
        case AlertState.RAISED, None:
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
