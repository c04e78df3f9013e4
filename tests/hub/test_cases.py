"""The pure case core: transitions, priorities and how an alert joins a case."""

from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, Severity
from hub.cases.rules import (
    AttachToCase,
    CaseAction,
    CaseStatus,
    IncomingAlert,
    NoCase,
    OpenCaseState,
    OpenNewCase,
    ReopenCase,
    Resolution,
    ResolvedCaseState,
    allowed_actions,
    decide,
    highest_severity,
    is_unresolved,
    more_severe,
    nuisance_rate,
    open_key,
    settle,
    transition,
)
from hub.errors import HubError, IllegalTransitionError
from tests.hub.factories import T0

NOW = T0 + timedelta(seconds=2)


S = CaseStatus
A = CaseAction

LEGAL = {
    (S.OPEN, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.OPEN, A.DISPATCH): S.DISPATCHED,
    (S.OPEN, A.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, A.DISPATCH): S.DISPATCHED,
    (S.ACKNOWLEDGED, A.RESOLVE): S.RESOLVED,
    (S.DISPATCHED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, A.DECLINE): S.OPEN,
    (S.DISPATCHED, A.ACKNOWLEDGE): S.DISPATCHED,
    (S.DISPATCHED, A.RESOLVE): S.RESOLVED,
    (S.ACCEPTED, A.START): S.IN_PROGRESS,
    (S.ACCEPTED, A.RESOLVE): S.RESOLVED,
    (S.ACCEPTED, A.HAND_OVER): S.DISPATCHED,
    (S.ACCEPTED, A.DISPATCH): S.ACCEPTED,  # more help for a case someone is on
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.IN_PROGRESS, A.HAND_OVER): S.DISPATCHED,
    (S.IN_PROGRESS, A.DISPATCH): S.IN_PROGRESS,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.OPEN,
    # A comment is a note on the record at any point: the status stays.
    **{(status, A.COMMENT): status for status in CaseStatus},
}
"""The whole state machine: every other (status, action) pair is refused."""


@pytest.mark.parametrize(("status", "action"), list(LEGAL))
def test_legal_transitions(status: CaseStatus, action: CaseAction) -> None:
    assert transition(status, action) is LEGAL[status, action]


ILLEGAL = [(s, a) for s in CaseStatus for a in CaseAction if (s, a) not in LEGAL]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_other_pair_is_refused_naming_state_and_action(
    status: CaseStatus, action: CaseAction
) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        transition(status, action)
    assert isinstance(caught.value, HubError)
    message = str(caught.value)
    assert status.value in message
    # "accept" / "accepted", "close" / "closed", "hand_over" / "handed over"
    assert action.value.rstrip("e").replace("hand_over", "hand") in message


WHILE_WAITING = {
    (S.ACCEPTED, A.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, A.DECLINE): S.ACCEPTED,
    (S.IN_PROGRESS, A.ACCEPT): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.DECLINE): S.IN_PROGRESS,
}
"""While a member of the team has not answered, they may still accept or decline."""


@pytest.mark.parametrize(("status", "action"), list(WHILE_WAITING))
def test_a_waiting_team_member_answers_a_case_others_took(
    status: CaseStatus, action: CaseAction
) -> None:
    assert transition(status, action, waiting=True) is WHILE_WAITING[status, action]
    with pytest.raises(IllegalTransitionError, match="nobody on its team is waiting"):
        transition(status, action)
    assert action in allowed_actions(status, waiting=True)
    assert action not in allowed_actions(status)


@pytest.mark.parametrize(
    ("before", "moved", "accepted", "waiting", "expected"),
    [
        (S.DISPATCHED, S.ACCEPTED, True, True, S.ACCEPTED),  # the first of two accepts
        (S.DISPATCHED, S.OPEN, False, True, S.DISPATCHED),  # one declined, one still asked
        (S.DISPATCHED, S.OPEN, False, False, S.OPEN),  # the last one declined
        (S.ACCEPTED, S.ACCEPTED, True, False, S.ACCEPTED),
        (S.IN_PROGRESS, S.DISPATCHED, True, True, S.IN_PROGRESS),  # one hands over, one works
        (S.IN_PROGRESS, S.DISPATCHED, False, True, S.DISPATCHED),  # the only worker hands over
        (S.ACCEPTED, S.IN_PROGRESS, True, False, S.IN_PROGRESS),
        (S.OPEN, S.ACKNOWLEDGED, False, False, S.ACKNOWLEDGED),
        (S.ACKNOWLEDGED, S.DISPATCHED, False, True, S.DISPATCHED),
        (S.ACCEPTED, S.RESOLVED, True, True, S.RESOLVED),
    ],
)
def test_a_case_status_follows_its_team(
    before: CaseStatus, moved: CaseStatus, accepted: bool, waiting: bool, expected: CaseStatus
) -> None:
    assert settle(before, moved, anyone_accepted=accepted, anyone_waiting=waiting) is expected


def test_the_refusal_says_what_is_allowed() -> None:
    with pytest.raises(
        IllegalTransitionError,
        match=r"allowed: acknowledge, dispatch, accept, decline, resolve, comment",
    ):
        transition(S.DISPATCHED, A.START)
    assert allowed_actions(S.OPEN) == [A.ACKNOWLEDGE, A.DISPATCH, A.RESOLVE, A.COMMENT]
    assert allowed_actions(S.CLOSED) == [A.COMMENT]


def test_only_active_cases_collect_alerts() -> None:
    active = {S.OPEN, S.ACKNOWLEDGED, S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS}
    assert {s for s in CaseStatus if is_unresolved(s)} == active


@pytest.mark.parametrize(
    ("counts", "rate"),
    [
        ({}, None),
        ({Resolution.TEST: 3}, None),
        ({Resolution.REAL: 1}, 0.0),
        ({Resolution.NUISANCE: 1, Resolution.FALSE_ALARM: 1, Resolution.REAL: 2}, 0.5),
        ({Resolution.NUISANCE: 3, Resolution.TEST: 5, Resolution.FAULT: 1}, 0.75),
    ],
)
def test_the_nuisance_rate_counts_false_and_nuisance_alarms_and_ignores_tests(
    counts: dict[Resolution, int], rate: float | None
) -> None:
    assert nuisance_rate(counts) == rate


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


@pytest.mark.parametrize(
    ("incoming", "case", "updated"),
    [
        pytest.param(
            raised(Severity.MEDIUM, seconds=10),
            OpenCaseState(priority=Severity.HIGH, alert_count=3, last_alert_at=T0),
            OpenCaseState(
                priority=Severity.HIGH, alert_count=4, last_alert_at=T0 + timedelta(seconds=10)
            ),
            id="a raised alert",
        ),
        pytest.param(
            cleared(Severity.CRITICAL, seconds=30),
            OpenCaseState(priority=Severity.LOW, alert_count=2, last_alert_at=T0),
            OpenCaseState(
                priority=Severity.LOW, alert_count=3, last_alert_at=T0 + timedelta(seconds=30)
            ),
            id="a cleared alert, more severe, without raising priority",
        ),
    ],
)
def test_an_alert_joins_the_open_case(
    incoming: IncomingAlert, case: OpenCaseState, updated: OpenCaseState
) -> None:
    decision = decide(incoming, case, NOW)
    assert decision == AttachToCase(updated=updated, priority_raised=False)


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


def resolved_case(minutes_ago: float) -> ResolvedCaseState:
    return ResolvedCaseState(
        priority=Severity.MEDIUM,
        alert_count=4,
        last_alert_at=T0 - timedelta(minutes=minutes_ago + 1),
        resolved_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_a_problem_back_within_the_window_reopens_its_case() -> None:
    decision = decide(
        raised(Severity.CRITICAL),
        None,
        NOW,
        recently_resolved=resolved_case(minutes_ago=10),
        reopen_within=timedelta(minutes=30),
    )
    assert decision == ReopenCase(
        updated=OpenCaseState(priority=Severity.CRITICAL, alert_count=5, last_alert_at=T0)
    )


@pytest.mark.parametrize("minutes_ago", [30, 31])
def test_after_the_window_a_new_case_opens(minutes_ago: float) -> None:
    decision = decide(
        raised(seconds=2),  # happened now
        None,
        NOW,
        recently_resolved=resolved_case(minutes_ago),
        reopen_within=timedelta(minutes=30),
    )
    assert isinstance(decision, OpenNewCase)


def test_the_window_is_counted_from_when_the_problem_came_back_not_when_it_arrived() -> None:
    """An alarm raised 5 minutes after its case was resolved, held at the edge by a 40-minute
    cut of the uplink (PRODUCT.md scenario 8), came back within the window: it reopens the
    case. Counted from its arrival, it opened a second case of the incident; one raised 31
    minutes after the resolution is a new case either way."""
    resolved = ResolvedCaseState(Severity.HIGH, 2, T0, resolved_at=T0)
    arrived = T0 + timedelta(minutes=45)
    # Raised 5 min after the resolution: back; 31 min after: new; stamped 3 h after (an edge
    # clock ahead of the arrival): counted as the arrival, new.
    for raised_after_s, decision in (
        (5 * 60, ReopenCase),
        (31 * 60, OpenNewCase),
        (3 * 3600, OpenNewCase),
    ):
        decided = decide(
            raised(seconds=raised_after_s),
            None,
            arrived,
            recently_resolved=resolved,
            reopen_within=timedelta(minutes=30),
        )
        assert isinstance(decided, decision), raised_after_s


def test_a_clearance_never_reopens() -> None:
    decision = decide(
        cleared(),
        None,
        NOW,
        recently_resolved=resolved_case(minutes_ago=1),
        reopen_within=timedelta(minutes=30),
    )
    assert decision == NoCase()


def test_a_spent_acknowledgement_is_not_offered() -> None:
    """A dispatched case acknowledged once refuses another (hub.cases.actions): its actions
    must not offer one; an open case a last decline sent back may be acknowledged again."""
    assert A.ACKNOWLEDGE in allowed_actions(S.DISPATCHED, waiting=True)
    assert A.ACKNOWLEDGE not in allowed_actions(S.DISPATCHED, waiting=True, acknowledged=True)
    assert A.ACKNOWLEDGE in allowed_actions(S.OPEN, acknowledged=True)
