"""The door monitor state machine, in simulated time."""

from datetime import UTC, datetime, timedelta

from devices.access import AccessEventKind, DoorConfig, ReaderAction
from devices.kinds import AlertKind, AlertState, Severity
from edge.access.decision import Direction
from edge.access.door import (
    BurstPhase,
    ContactChanged,
    Denied,
    DoorEvent,
    DoorPhase,
    DoorState,
    DoorStep,
    Granted,
    Tick,
    step,
)

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DOOR = DoorConfig(id="gate", reader_id="gate-reader", contact_id="gate-door", burst_count=8)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    events: list[DoorEvent], state: DoorState | None = None, door: DoorConfig = DOOR
) -> tuple[DoorState, list[DoorStep]]:
    steps = []
    state = state or DoorState()
    for event in events:
        result = step(state, event, door)
        steps.append(result)
        state = result.state
    return state, steps


def alerts(steps: list[DoorStep]) -> list[tuple[AlertKind, AlertState]]:
    return [(a.kind, a.state) for s in steps for a in s.alerts]


def notes(steps: list[DoorStep]) -> list[AccessEventKind]:
    return [n.kind for s in steps for n in s.notes]


def test_a_door_opened_with_no_grant_is_forced_after_the_debounce() -> None:
    state, steps = run([ContactChanged(t(0), open=True), Tick(t(0.9))])
    assert state.phase is DoorPhase.OPENING
    assert alerts(steps) == []
    state, more = run([Tick(t(1.0))], state)
    assert state.phase is DoorPhase.FORCED
    (alert,) = more[0].alerts
    assert (alert.kind, alert.state, alert.severity, alert.on_reader) == (
        AlertKind.DOOR_FORCED,
        AlertState.RAISED,
        Severity.HIGH,
        False,
    )
    assert alert.at == t(1.0)
    assert alert.values["door"] == "gate"
    state, closing = run([ContactChanged(t(60), open=False)], state)
    assert state.phase is DoorPhase.CLOSED
    assert alerts(closing) == [(AlertKind.DOOR_FORCED, AlertState.CLEARED)]
    assert notes([*steps, *more, *closing]) == [
        AccessEventKind.DOOR_OPENED,
        AccessEventKind.DOOR_FORCED,
        AccessEventKind.DOOR_CLOSED,
    ]


def test_a_contact_bounce_shorter_than_the_debounce_is_no_alarm() -> None:
    state, steps = run(
        [ContactChanged(t(0), open=True), ContactChanged(t(0.4), open=False), Tick(t(5))]
    )
    assert state.phase is DoorPhase.CLOSED
    assert alerts(steps) == []


def test_a_grant_that_arrives_just_after_the_contact_opened_is_legitimate() -> None:
    state, steps = run(
        [
            ContactChanged(t(0), open=True),
            Granted(t(0.3), person_id=5, direction=Direction.ENTRY),
            Tick(t(2)),
        ]
    )
    assert state.phase is DoorPhase.OPEN
    assert alerts(steps) == []


def test_a_granted_door_opened_in_time_is_not_forced_and_closing_relocks_it() -> None:
    state, steps = run(
        [
            Granted(t(0), person_id=5, direction=Direction.ENTRY),
            ContactChanged(t(2), open=True),
            Tick(t(4)),
            ContactChanged(t(6), open=False),
            ContactChanged(t(7), open=True),  # within the old grant: one grant, one passage
            Tick(t(8.5)),
        ]
    )
    assert alerts(steps) == [(AlertKind.DOOR_FORCED, AlertState.RAISED)]
    assert state.phase is DoorPhase.FORCED


def test_a_grant_runs_out_if_nobody_opens_the_door() -> None:
    state, _ = run([Granted(t(0), person_id=5, direction=Direction.ENTRY), Tick(t(4.9))])
    assert state.phase is DoorPhase.UNLOCKED
    state, steps = run([Tick(t(5)), ContactChanged(t(6), open=True), Tick(t(7.5))], state)
    assert state.phase is DoorPhase.FORCED
    assert alerts(steps) == [(AlertKind.DOOR_FORCED, AlertState.RAISED)]


def test_a_door_held_open_prewarns_then_alarms_then_clears_when_it_closes() -> None:
    granted: list[DoorEvent] = [Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True)]
    state, steps = run([*granted, Tick(t(20.9))])
    assert state.phase is DoorPhase.OPEN
    assert not steps[-1].commands
    state, warn = run([Tick(t(21))], state)
    assert state.phase is DoorPhase.PREWARNED
    assert warn[0].commands == (ReaderAction.WARN,)
    assert warn[0].alerts == ()
    assert notes(warn) == [AccessEventKind.HELD_OPEN_WARNING]
    state, alarm = run([Tick(t(30.9)), Tick(t(31))], state)
    assert alerts(alarm) == [(AlertKind.DOOR_HELD_OPEN, AlertState.RAISED)]
    assert alarm[1].alerts[0].values["open_s"] == 30.0
    state, close = run([ContactChanged(t(600), open=False)], state)
    assert alerts(close) == [(AlertKind.DOOR_HELD_OPEN, AlertState.CLEARED)]
    assert state.phase is DoorPhase.CLOSED


def test_held_open_timers_are_configurable() -> None:
    door = DOOR.model_copy(update={"held_open_s": 120.0, "prewarn_s": 90.0})
    opened: list[DoorEvent] = [Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(0), True)]
    _state, steps = run([*opened, Tick(t(89)), Tick(t(90)), Tick(t(119)), Tick(t(120))], door=door)
    assert [bool(s.commands) for s in steps] == [False, False, False, True, False, False]
    assert alerts(steps) == [(AlertKind.DOOR_HELD_OPEN, AlertState.RAISED)]
    assert steps[-1].alerts[0].at == t(120)


def test_a_held_open_deadline_passed_while_the_agent_was_down_alarms_at_the_first_tick() -> None:
    state, _ = run([Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True), Tick(t(10))])
    restored = DoorState.model_validate_json(state.model_dump_json())  # what a restart reads
    assert restored == state
    state, steps = run([Tick(t(300))], restored)
    assert notes(steps) == [AccessEventKind.HELD_OPEN_WARNING, AccessEventKind.DOOR_HELD_OPEN]
    assert alerts(steps) == [(AlertKind.DOOR_HELD_OPEN, AlertState.RAISED)]
    assert state.phase is DoorPhase.HELD_OPEN


def test_repeated_contact_reports_change_nothing() -> None:
    state, steps = run(
        [ContactChanged(t(0), False), ContactChanged(t(1), False)]  # closed, closed
    )
    assert state == DoorState()
    assert notes(steps) == []
    opened, _ = run([Granted(t(2), 5, Direction.ENTRY), ContactChanged(t(3), True)], state)
    again, more = run([ContactChanged(t(4), True)], opened)
    assert again == opened
    assert more[0].notes == ()


def test_eight_denials_in_a_minute_raise_one_burst_that_clears_after_a_quiet_minute() -> None:
    denials: list[DoorEvent] = [Denied(t(i * 7)) for i in range(8)]  # 0 .. 49 s
    state, steps = run(denials)
    assert alerts(steps) == [(AlertKind.ACCESS_DENIED_BURST, AlertState.RAISED)]
    assert steps[-1].alerts[0].on_reader
    assert steps[-1].alerts[0].values["denials"] == 8
    assert state.burst is BurstPhase.RAISED
    state, more = run([Denied(t(55)), Tick(t(114))], state)
    assert alerts(more) == []
    state, quiet = run([Tick(t(115))], state)
    assert alerts(quiet) == [(AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED)]
    assert state.burst is BurstPhase.QUIET
    assert state.denials == ()


def test_denials_spread_over_more_than_the_window_are_no_burst() -> None:
    _, steps = run([Denied(t(i * 9)) for i in range(20)])  # 8 denials span 63 s
    assert alerts(steps) == []


def test_every_alert_and_note_gets_the_next_number_so_a_replayed_step_has_the_same_ids() -> None:
    events: list[DoorEvent] = [ContactChanged(t(0), True), Tick(t(2)), ContactChanged(t(3), False)]
    state, steps = run(events)
    assert [a.episode for s in steps for a in s.alerts] == [1, 2]
    assert (state.episode, state.logged) == (2, 3)
    before = steps[0].state
    assert step(before, Tick(t(2)), DOOR) == step(before, Tick(t(2)), DOOR)


def test_anti_passback_tracks_who_is_inside_only_where_it_is_on() -> None:
    door = DOOR.model_copy(update={"anti_passback": True, "exit_reader_id": "gate-exit"})

    def through(at: float) -> list[DoorEvent]:  # the door opens during the grant, and closes
        return [ContactChanged(t(at + 1), open=True), ContactChanged(t(at + 2), open=False)]

    state, _ = run(
        [
            Granted(t(0), 5, Direction.ENTRY),
            *through(0),
            Granted(t(10), 6, Direction.ENTRY),
            *through(10),
        ],
        door=door,
    )
    assert state.inside == frozenset({5, 6})
    state, _ = run([Granted(t(20), 5, Direction.EXIT), *through(20)], state, door=door)
    assert state.inside == frozenset({6})
    plain, _ = run([Granted(t(0), 5, Direction.ENTRY)])
    assert plain.inside == frozenset()


def test_a_raised_burst_keeps_only_its_last_denial_and_clears_a_quiet_window_after_it() -> None:
    # A long attack: the state must not grow (it is copied per step and stored per commit).
    state, steps = run([Denied(t(i)) for i in range(200)])
    assert alerts(steps) == [(AlertKind.ACCESS_DENIED_BURST, AlertState.RAISED)]
    assert steps[7].alerts[0].values["denials"] == 8
    assert state.denials == (t(199),)
    state, more = run([Tick(t(258.9))], state)
    assert alerts(more) == []
    state, quiet = run([Tick(t(259))], state)
    assert alerts(quiet) == [(AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED)]
    assert (state.burst, state.denials) == (BurstPhase.QUIET, ())
