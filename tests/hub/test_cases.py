"""The pure case core: transitions, priorities and how an alert joins a case."""

import contextlib
from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, Severity
from hub.cases import (
    AttachToCase,
    CaseAction,
    CaseStatus,
    IncomingAlert,
    NoCase,
    OpenCaseState,
    OpenNewCase,
    decide,
    highest_severity,
    is_unresolved,
    more_severe,
    open_key,
    transition,
)
from hub.errors import HubError, IllegalTransitionError
from tests.hub.factories import T0

NOW = T0 + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (CaseStatus.OPEN, CaseAction.ACKNOWLEDGE, CaseStatus.ACKNOWLEDGED),
        (CaseStatus.OPEN, CaseAction.RESOLVE, CaseStatus.RESOLVED),
        (CaseStatus.ACKNOWLEDGED, CaseAction.RESOLVE, CaseStatus.RESOLVED),
    ],
)
def test_legal_transitions(status: CaseStatus, action: CaseAction, expected: CaseStatus) -> None:
    assert transition(status, action) is expected


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (CaseStatus.ACKNOWLEDGED, CaseAction.ACKNOWLEDGE),
        (CaseStatus.RESOLVED, CaseAction.ACKNOWLEDGE),
        (CaseStatus.RESOLVED, CaseAction.RESOLVE),
    ],
)
def test_illegal_transitions_are_refused(status: CaseStatus, action: CaseAction) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        transition(status, action)
    assert isinstance(caught.value, HubError)
    assert str(caught.value)


def test_every_pair_is_decided() -> None:
    for status in CaseStatus:
        for action in CaseAction:
            with contextlib.suppress(IllegalTransitionError):
                transition(status, action)


def test_only_resolved_cases_stop_collecting_alerts() -> None:
    assert is_unresolved(CaseStatus.OPEN)
    assert is_unresolved(CaseStatus.ACKNOWLEDGED)
    assert not is_unresolved(CaseStatus.RESOLVED)


def test_open_key_names_device_and_kind() -> None:
    assert open_key("b3-1201-smoke", AlertKind.SMOKE) == "b3-1201-smoke|smoke"
    assert open_key("d", AlertKind.SMOKE) != open_key("d", AlertKind.BATTERY_LOW)


def test_priority_is_the_highest_severity() -> None:
    assert highest_severity([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM]) is (
        Severity.CRITICAL
    )
    assert highest_severity([Severity.MEDIUM]) is Severity.MEDIUM
    assert more_severe(Severity.LOW, Severity.HIGH) is Severity.HIGH
    assert more_severe(Severity.HIGH, Severity.HIGH) is Severity.HIGH


def raised(severity: Severity = Severity.HIGH, seconds: float = 0) -> IncomingAlert:
    return IncomingAlert(AlertState.RAISED, severity, T0 + timedelta(seconds=seconds))


def cleared(severity: Severity = Severity.HIGH, seconds: float = 0) -> IncomingAlert:
    return IncomingAlert(AlertState.CLEARED, severity, T0 + timedelta(seconds=seconds))


def test_a_raised_alert_with_nothing_open_opens_a_case() -> None:
    decision = decide(raised(Severity.CRITICAL), None, NOW)
    assert decision == OpenNewCase(priority=Severity.CRITICAL, opened_at=NOW, last_alert_at=T0)


def test_a_raised_alert_joins_the_open_case() -> None:
    case = OpenCaseState(priority=Severity.HIGH, alert_count=3, last_alert_at=T0)
    decision = decide(raised(Severity.MEDIUM, seconds=10), case, NOW)
    assert decision == AttachToCase(
        updated=OpenCaseState(
            priority=Severity.HIGH, alert_count=4, last_alert_at=T0 + timedelta(seconds=10)
        ),
        priority_raised=False,
    )


def test_a_more_severe_alert_raises_the_priority() -> None:
    case = OpenCaseState(priority=Severity.MEDIUM, alert_count=1, last_alert_at=T0)
    decision = decide(raised(Severity.CRITICAL, seconds=1), case, NOW)
    assert isinstance(decision, AttachToCase)
    assert decision.updated.priority is Severity.CRITICAL
    assert decision.priority_raised


def test_a_late_alert_does_not_move_last_alert_at_back() -> None:
    case = OpenCaseState(priority=Severity.HIGH, alert_count=1, last_alert_at=T0)
    decision = decide(raised(seconds=-600), case, NOW)
    assert isinstance(decision, AttachToCase)
    assert decision.updated.last_alert_at == T0


def test_a_cleared_alert_never_opens_a_case() -> None:
    assert decide(cleared(), None, NOW) == NoCase()


def test_a_cleared_alert_joins_the_open_case_without_raising_priority() -> None:
    case = OpenCaseState(priority=Severity.LOW, alert_count=2, last_alert_at=T0)
    decision = decide(cleared(Severity.CRITICAL, seconds=30), case, NOW)
    assert decision == AttachToCase(
        updated=OpenCaseState(
            priority=Severity.LOW, alert_count=3, last_alert_at=T0 + timedelta(seconds=30)
        ),
        priority_raised=False,
    )


def test_a_thousand_alerts_count_up_on_one_case() -> None:
    decision = decide(raised(), None, NOW)
    assert isinstance(decision, OpenNewCase)
    case = OpenCaseState(decision.priority, 1, decision.last_alert_at)
    for i in range(1, 1000):
        step = decide(raised(seconds=i), case, NOW)
        assert isinstance(step, AttachToCase)
        case = step.updated
    assert case.alert_count == 1000
    assert case.last_alert_at == T0 + timedelta(seconds=999)
