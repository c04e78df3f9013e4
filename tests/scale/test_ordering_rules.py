"""Pure: a device's alarms and clearances leave its case the same in every arrival order.

Several hub workers take a device's messages in turn (Mosquitto deals a shared subscription's
messages round-robin), so they can be handled in any order. The rules of ``hub.cases.rules``
(``decide`` and ``clearances_to_adopt``) are run here on plain values, as the intake runs
them, for every permutation of each scenario, and the outcome is compared with the one of
handling the alerts in event-time order.
"""

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from devices.kinds import AlertState, Severity
from hub.cases.rules import (
    AttachToCase,
    IncomingAlert,
    NoCase,
    OpenCaseState,
    OpenNewCase,
    ReopenCase,
    StrayClearance,
    clearances_to_adopt,
    decide,
)
from tests.hub.factories import T0

RAISED, CLEARED = AlertState.RAISED, AlertState.CLEARED


@dataclass(frozen=True)
class Given:
    """One alert of the device: an id, its state and severity, seconds after T0."""

    id: str
    state: AlertState
    severity: Severity
    at_s: int

    def incoming(self) -> IncomingAlert:
        return IncomingAlert(self.state, self.severity, T0 + timedelta(seconds=self.at_s))


@dataclass
class Handled:
    """What the intake keeps of one correlation key: its case and the stray clearances."""

    case: OpenCaseState | None = None
    on_case: set[str] = field(default_factory=set)
    strays: dict[str, datetime] = field(default_factory=dict)

    def take(self, alert: Given, now: datetime) -> None:
        """Handle one arriving alert as ``CaseIntake._join_cases`` does."""
        incoming = alert.incoming()
        decision = decide(incoming, self.case, now)
        match decision:
            case OpenNewCase(priority=priority, last_alert_at=last):
                self.case = OpenCaseState(priority, 1, last)
            case AttachToCase(updated=updated) | ReopenCase(updated=updated):
                self.case = updated
            case NoCase():
                self.strays[alert.id] = incoming.ts
                return
        self.on_case.add(alert.id)
        strays = [StrayClearance(i, ts) for i, ts in self.strays.items()]
        for stray_id in clearances_to_adopt(incoming, strays):
            ts = self.strays.pop(stray_id)
            clearance = IncomingAlert(CLEARED, Severity.LOW, ts)
            adopted = decide(clearance, self.case, now)
            assert isinstance(adopted, AttachToCase)
            assert not adopted.priority_raised
            self.case = adopted.updated
            self.on_case.add(stray_id)

    def outcome(self) -> tuple[object, ...]:
        """Return what must not depend on the arrival order."""
        return (self.case, frozenset(self.on_case), frozenset(self.strays))


def handled(alerts: tuple[Given, ...]) -> Handled:
    state = Handled()
    for n, alert in enumerate(alerts):
        state.take(alert, T0 + timedelta(minutes=10, seconds=n))
    return state


SCENARIOS = {
    "alarm-clear-alarm": [
        Given("a1", RAISED, Severity.HIGH, 0),
        Given("c2", CLEARED, Severity.LOW, 5),
        Given("a3", RAISED, Severity.CRITICAL, 9),
    ],
    "alarm-clear": [Given("a1", RAISED, Severity.HIGH, 0), Given("c2", CLEARED, Severity.LOW, 5)],
    "alarm-clear-alarm-clear-alarm": [
        Given("a1", RAISED, Severity.MEDIUM, 0),
        Given("c2", CLEARED, Severity.LOW, 5),
        Given("a3", RAISED, Severity.CRITICAL, 9),
        Given("c4", CLEARED, Severity.LOW, 12),
        Given("a5", RAISED, Severity.HIGH, 20),
    ],
    "two alarms at once": [
        Given("a1", RAISED, Severity.HIGH, 0),
        Given("a1b", RAISED, Severity.HIGH, 0),
        Given("c2", CLEARED, Severity.LOW, 3),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_arrival_order_leaves_the_case_as_event_time_order_does(name: str) -> None:
    alerts = SCENARIOS[name]
    in_order = handled(tuple(sorted(alerts, key=lambda a: (a.at_s, a.id))))
    assert in_order.case is not None
    assert in_order.on_case == {a.id for a in alerts}  # the baseline: everything joined
    orders = list(itertools.permutations(alerts))
    assert len(orders) > 1
    for order in orders:
        assert handled(order).outcome() == in_order.outcome(), [a.id for a in order]


def test_without_adoption_a_clearance_first_is_left_out() -> None:
    """The difference the adoption makes: ``decide`` alone leaves a clearance that came
    before its alarm without a case (so the permutation test above can fail)."""
    clear, alarm = SCENARIOS["alarm-clear"][1], SCENARIOS["alarm-clear"][0]
    assert isinstance(decide(clear.incoming(), None, T0), NoCase)
    assert isinstance(decide(alarm.incoming(), None, T0), OpenNewCase)


def test_an_alarm_takes_in_only_later_clearances_oldest_first() -> None:
    alarm = IncomingAlert(RAISED, Severity.HIGH, T0 + timedelta(seconds=10))
    strays = [
        StrayClearance("late", T0 + timedelta(seconds=30)),
        StrayClearance("before", T0 + timedelta(seconds=5)),
        StrayClearance("same-instant", T0 + timedelta(seconds=10)),
        StrayClearance("later", T0 + timedelta(seconds=20)),
    ]
    assert clearances_to_adopt(alarm, strays) == ["same-instant", "later", "late"]
    clearance = IncomingAlert(CLEARED, Severity.LOW, T0)
    assert clearances_to_adopt(clearance, strays) == []
