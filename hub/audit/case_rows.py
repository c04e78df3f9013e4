"""The cases' own rows, checked against what the audit trail says happened to each case.

A case row (its status, resolution, priority, escalation level, team) is a summary the hub
rewrites at each action; the history lines and their entries are the record. Someone with
database access could ``UPDATE cases SET status = 'resolved'`` on an open fire or SOS case,
lower its priority or escalation level, empty its team or mark it taken on, write no history
line, and the check said "intact" while the console showed the alarm handled (found by an
outside review).
So each case's entries are replayed, in chain order, into the state the row must hold, and
the row's security-relevant fields are compared with it, field by field; a case the trail
opened that has no row (deleted), and a row the trail never opened (added), are findings too.
A third review found the counts, decliners and members left out: a press's member row
deleted from a fire case, its alert moved to another case, a responder added to ``declined``
(dispatch never asks them) verified intact. So the replay also counts the alerts each line
brings in, and the case's member rows and its alerts' ``case_id`` are compared with them.

What each history line's entry sets (the hub writes no case change without one):

- ``opened``: status open, its ``priority`` and ``category``, no team, level 0; with an
  alert (the intake's), that alert's device and kind, one alert, its last at the alert's
  time, the alert counted in its member row; without (a case the hub raises itself,
  ``hub.cases.raised``), no alert, its last at the line's time (its device and kind are not
  recorded: not compared).
- ``alert_attached``, and ``reopened`` from an alert: one alert more, the last alert's time
  the later of the two, the alert counted in its device's and kind's member row (first and
  last times, count) and its row in ``alerts`` naming the case; a raised alert attached
  raises the priority to its severity if more severe (``hub.cases.rules.decide``). An
  alert's time here is as the intake took it: its own, no later than
  ``CLOCK_AHEAD_ALLOWED`` after its receipt (``correlation_time``); the member rows keep it
  as stamped.
- ``declined`` (``declined_by``, a person's or the supervisor's for a silent responder):
  the responder joins ``declined``, whom dispatch passes over.
- any line with ``to`` in its detail (a person's action, a dispatch, a decline, a deadline
  taking a silent responder off): status ``to``; ``assignee`` adds those responders to the
  team, ``removed`` and ``declined_by`` take them off.
- ``resolved``: its ``resolution``, ``resolved_at`` its time.
- ``acknowledged`` or ``accepted``, the first since the case opened or reopened:
  ``acknowledged_at`` its time (a case taken on does not climb at its acknowledgement
  deadline: setting it by hand silences the escalation).
- ``reopened``: no resolution, no team, nobody declined, not taken on, level 0; from an alert
  (no ``to``: the intake), status open and the priority raised to the alert's severity if
  more severe (the intake's rule; the alert's row is vouched for by its own entry).
- ``priority_raised``: its detail's ``priority`` (added 2026-12-07); a line chained before
  it, the priority its note names (``priority raised to <severity>``).
- ``escalated``: its ``level``.
- ``merged``: status closed, no team, no alerts or members (moved), ``merged_into`` the
  detail's ``into``; ``merged_in``: the priority and level raised to those of the case taken
  in, as it stood when taken in, its alert count added, the later last alert, its members
  and alerts moved in.
- ``commented`` by the care watch for an SOS (``"care": "sos"``) on an active case: priority
  critical (``hub.care.family`` raises it with no line of its own).

Pure: the repository streams the entries (each with the alert it names), the rows, the
member rows and the alerts' cases, and answers the look-up of a case taken in.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from devices.kinds import AlertState, Severity
from hub.audit.chain import AuditEntry
from hub.cases.correlation import correlation_time
from hub.cases.rules import ACTIVE, CaseEventAction, CaseStatus

_EVENT_ACTIONS = frozenset(action.value for action in CaseEventAction)
_RAISED_TO = "priority raised to "
_RANKS = {severity.value: severity.rank for severity in Severity}
_ACTIVE = frozenset(status.value for status in ACTIVE)
_TAKING_ON = frozenset({CaseEventAction.ACKNOWLEDGED.value, CaseEventAction.ACCEPTED.value})
"""The lines of the actions that take a case on (``hub.cases.rules.ACKNOWLEDGING``)."""


def is_case_line(entry: AuditEntry) -> bool:
    """Return whether ``entry`` records a line of a case's history (it is replayed)."""
    return entry.case_id is not None and entry.action in _EVENT_ACTIONS


def joins(entry: AuditEntry) -> bool:
    """Return whether the line ``entry`` (of a case already open) brings its alert into the
    case: an alert attached, or a reopening by an alert (no ``to``: the intake's)."""
    if entry.alert_id is None:
        return False
    return entry.action == CaseEventAction.ALERT_ATTACHED or (
        entry.action == CaseEventAction.REOPENED and "to" not in entry.detail
    )


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """An alert a history line names, as its row in ``alerts`` holds it: vouched for by its
    ``alert_stored`` entry (the records check, which runs first, compared them)."""

    device_id: str
    kind: str
    state: str
    severity: str
    ts: datetime
    received_at: datetime

    @property
    def counted_at(self) -> datetime:
        """When the intake took it to have happened (``correlation_time``), in UTC."""
        return correlation_time(self.ts, self.received_at).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CaseState:
    """What a case's row must say, as its history in the trail left it."""

    status: str
    priority: str
    resolution: str | None = None
    resolved_at: datetime | None = None
    escalation_level: int = 0
    team: frozenset[str] = frozenset()
    merged_into: int | None = None
    acknowledged_at: datetime | None = None
    alert_count: int = 0
    last_alert_at: datetime | None = None
    declined: frozenset[str] = frozenset()
    category: str | None = None
    """From the opening line (None: it did not name it; not compared)."""
    device_id: str | None = None
    kind: str | None = None
    """The opening alert's device and kind (None: opened with no alert; not compared)."""


@dataclass(slots=True)
class MemberTally:
    """What a member row (a device and kind of the case) must say."""

    first_alert_at: datetime
    last_alert_at: datetime
    alert_count: int = 1


@dataclass(slots=True)
class CaseTally:
    """What a case's member rows and the ``case_id`` of the alerts' rows must say: the case's
    own alerts, counted as its lines bring them in (mutable: a case's thousands of alerts are
    not copied at each line)."""

    members: dict[tuple[str, str], MemberTally] = field(default_factory=dict)
    alerts: set[str] = field(default_factory=set)

    def join(self, alert_id: str, alert: AlertFacts | None) -> None:
        """Count an alert brought in (``MemberRows.count``: its time as stamped)."""
        self.alerts.add(alert_id)
        if alert is None:
            return  # no row: the records check names the alert
        ts = alert.ts.astimezone(UTC)
        member = self.members.get((alert.device_id, alert.kind))
        if member is None:
            self.members[(alert.device_id, alert.kind)] = MemberTally(ts, ts)
            return
        member.alert_count += 1
        member.first_alert_at = min(member.first_alert_at, ts)
        member.last_alert_at = max(member.last_alert_at, ts)

    def take_in(self, other: "CaseTally") -> None:
        """Move a merged case's members and alerts in (``hub.cases.merging._move``)."""
        self.alerts |= other.alerts
        for key, theirs in other.members.items():
            mine = self.members.get(key)
            if mine is None:
                self.members[key] = MemberTally(
                    theirs.first_alert_at, theirs.last_alert_at, theirs.alert_count
                )
                continue
            mine.alert_count += theirs.alert_count
            mine.first_alert_at = min(mine.first_alert_at, theirs.first_alert_at)
            mine.last_alert_at = max(mine.last_alert_at, theirs.last_alert_at)


@dataclass(frozen=True, slots=True)
class MemberFields:
    """What a member row says."""

    device_id: str
    kind: str
    first_alert_at: datetime
    last_alert_at: datetime
    alert_count: int


@dataclass(frozen=True, slots=True)
class CaseRowFields:
    """What a case row says: the fields the check compares."""

    id: int
    status: str
    priority: str
    category: str
    kind: str
    device_id: str
    resolution: str | None
    resolved_at: datetime | None
    escalation_level: int
    team: Any
    """The row's ``team`` JSON: a list of ``{"duty", "responder", "accepted"}``."""
    assignee: str | None
    merged_into: int | None
    acknowledged_at: datetime | None
    alert_count: int
    last_alert_at: datetime | None
    declined: Any
    """The row's ``declined`` JSON: a list of responder ids."""


def more_severe(one: str, other: str) -> str:
    """Return the more severe of two severities (an unknown one counts as the least)."""
    return other if _RANKS.get(other, 99) < _RANKS.get(one, 99) else one


def _names(value: object) -> list[str]:
    return [name for name in str(value).split(", ") if name] if value is not None else []


def _later(one: datetime | None, other: datetime | None) -> datetime | None:
    if one is None or other is None:
        return one or other
    return max(one, other)


def apply(
    state: CaseState | None,
    entry: AuditEntry,
    *,
    alert_severity: str | None = None,
    taken_in: CaseState | None = None,
    alert: AlertFacts | None = None,
) -> CaseState | None:
    """Return the case's state after the history line ``entry``.

    ``alert``: the alert the line names, as its row holds it (None: none, or not read);
    ``alert_severity``: for a ``reopened`` line from an alert (no ``to``), the alert's
    severity if ``alert`` is not given; ``taken_in``: for a ``merged_in`` line, the taken
    case's state when taken in.
    """
    detail = entry.detail
    action = entry.action
    if action == CaseEventAction.OPENED:
        if state is not None:
            return state  # an opening line of a case already open changes nothing
        last: datetime | None
        if entry.alert_id is None:  # raised by the hub itself: no alert (hub.cases.raised)
            counted, last = 0, entry.ts.astimezone(UTC)
        else:
            counted, last = 1, None if alert is None else alert.counted_at
        category = detail.get("category")
        return CaseState(
            status=CaseStatus.OPEN.value,
            priority=str(detail.get("priority")),
            alert_count=counted,
            last_alert_at=last,
            category=category if isinstance(category, str) else None,
            device_id=None if alert is None else alert.device_id,
            kind=None if alert is None else alert.kind,
        )
    if state is None:
        return None  # a line before any opening: the case's rows are found wanting
    team = set(state.team)
    team.update(_names(detail.get("assignee")))
    team.difference_update(_names(detail.get("removed")))
    team.difference_update(_names(detail.get("declined_by")))
    declined = state.declined.union(_names(detail.get("declined_by")))
    state = replace(state, team=frozenset(team), declined=declined)
    to = detail.get("to")
    if isinstance(to, str):
        state = replace(state, status=to)
    if action in _TAKING_ON and state.acknowledged_at is None:
        state = replace(state, acknowledged_at=entry.ts.astimezone(UTC))
    if joins(entry):
        state = _counted(state, action, alert)
    if alert_severity is None and alert is not None:
        alert_severity = alert.severity
    match action:
        case CaseEventAction.RESOLVED if "resolution" in detail:
            state = replace(
                state, resolution=str(detail["resolution"]), resolved_at=entry.ts.astimezone(UTC)
            )
        case CaseEventAction.REOPENED:
            state = replace(
                state,
                resolution=None,
                resolved_at=None,
                escalation_level=0,
                team=frozenset(),
                acknowledged_at=None,
                declined=frozenset(),
            )
            if to is None:
                state = replace(state, status=CaseStatus.OPEN.value)
                if alert_severity is not None:
                    state = replace(state, priority=more_severe(state.priority, alert_severity))
        case CaseEventAction.PRIORITY_RAISED:
            state = replace(state, priority=_raised_to(detail, state.priority))
        case CaseEventAction.ESCALATED:
            level = str(detail.get("level", ""))
            if level.isdigit():
                state = replace(state, escalation_level=int(level))
        case CaseEventAction.MERGED:
            into = str(detail.get("into", ""))
            state = replace(
                state,
                status=CaseStatus.CLOSED.value,
                team=frozenset(),
                merged_into=int(into) if into.isdigit() else None,
                alert_count=0,
            )
        case CaseEventAction.MERGED_IN if taken_in is not None:
            state = replace(
                state,
                priority=more_severe(state.priority, taken_in.priority),
                escalation_level=max(state.escalation_level, taken_in.escalation_level),
                alert_count=state.alert_count + taken_in.alert_count,
                last_alert_at=_later(state.last_alert_at, taken_in.last_alert_at),
            )
        case CaseEventAction.COMMENTED if detail.get("care") == "sos":
            if state.status in _ACTIVE:
                state = replace(state, priority=Severity.CRITICAL.value)
        case _:
            pass
    return state


def _counted(state: CaseState, action: str, alert: AlertFacts | None) -> CaseState:
    """Return ``state`` with the alert a line brings in counted (``joins``); a raised alert
    attached raises the priority (a reopening's raise is the ``reopened`` branch's)."""
    state = replace(state, alert_count=state.alert_count + 1)
    if alert is None:
        return state  # no row: the records check names the alert
    state = replace(state, last_alert_at=_later(state.last_alert_at, alert.counted_at))
    if action == CaseEventAction.ALERT_ATTACHED and alert.state == AlertState.RAISED.value:
        state = replace(state, priority=more_severe(state.priority, alert.severity))
    return state


def _raised_to(detail: dict[str, Any], priority: str) -> str:
    """Return the priority a ``priority_raised`` line sets: its detail's, or, chained before
    the detail named it, its note's (``priority raised to <severity>``)."""
    named = detail.get("priority")
    if isinstance(named, str):
        return named
    note = str(detail.get("note", ""))
    return note.removeprefix(_RAISED_TO).strip() if note.startswith(_RAISED_TO) else priority


def step(
    state: CaseState | None,
    tally: CaseTally,
    entry: AuditEntry,
    *,
    alert: AlertFacts | None = None,
    taken: "tuple[CaseState | None, CaseTally] | None" = None,
) -> CaseState | None:
    """Return the case's state after the line ``entry``, and count in ``tally`` the alert
    it brings in, or the members and alerts it moves (``taken``: for a ``merged_in`` line,
    the taken case's state and tally when taken in)."""
    after = apply(state, entry, alert=alert, taken_in=None if taken is None else taken[0])
    if after is None or after is state:
        return after
    if entry.alert_id is not None and (state is None or joins(entry)):
        tally.join(entry.alert_id, alert)
    elif entry.action == CaseEventAction.MERGED:
        tally.members.clear()
        tally.alerts.clear()
    elif entry.action == CaseEventAction.MERGED_IN and taken is not None:
        tally.take_in(taken[1])
    return after


def replay(entries: Iterable[AuditEntry]) -> CaseState | None:
    """Return the state a case's lines leave it in, without the look-ups (for a case taken
    in by another: its own merges and reopenings are not needed for its priority there)."""
    state: CaseState | None = None
    for entry in entries:
        state = apply(state, entry)
    return state


def _team(team: Any) -> tuple[list[str], bool]:
    """Return the responders of a row's team JSON, and whether it reads as one."""
    if not isinstance(team, list):
        return [], False
    names = [a.get("responder") for a in team if isinstance(a, dict)]
    well_formed = len(names) == len(team) and all(isinstance(n, str) for n in names)
    return [n for n in names if isinstance(n, str)], well_formed


def mismatches(state: CaseState | None, row: CaseRowFields | None, case_id: int) -> list[str]:
    """Return one finding per field in which the row parts from the trail (none: it agrees).

    ``state`` None: the trail never opened the case; ``row`` None: the case has no row.
    """
    if state is None and row is None:
        return []
    if state is None:
        return [f"case {case_id}: its row has no opening in the audit trail (added by hand)"]
    if row is None:
        return [f"case {case_id}: the audit trail opened it but its row is gone (deleted)"]
    found: list[str] = []

    def differs(field: str, held: object, said: object) -> None:
        if held != said:
            found.append(
                f"case {case_id}: {field} is {held!r} but its history in the trail says {said!r}"
            )

    differs("status", row.status, state.status)
    for name, held, said in (
        ("category", row.category, state.category),
        ("kind", row.kind, state.kind),
        ("device_id", row.device_id, state.device_id),
    ):
        if said is not None:  # named by its opening (the case's place follows its device)
            differs(name, held, said)
    differs("resolution", row.resolution, state.resolution)
    resolved_at = None if row.resolved_at is None else row.resolved_at.astimezone(UTC)
    differs("resolved_at", resolved_at, state.resolved_at)
    differs("priority", row.priority, state.priority)
    differs("escalation_level", row.escalation_level, state.escalation_level)
    names, well_formed = _team(row.team)
    if not well_formed:
        found.append(f"case {case_id}: team cannot be read as a team (edited)")
    differs("team", sorted(set(names)), sorted(state.team))
    differs("assignee", row.assignee, names[0] if names else None)
    differs("merged_into", row.merged_into, state.merged_into)
    acknowledged_at = None if row.acknowledged_at is None else row.acknowledged_at.astimezone(UTC)
    differs("acknowledged_at", acknowledged_at, state.acknowledged_at)
    differs("alert_count", row.alert_count, state.alert_count)
    last_alert_at = None if row.last_alert_at is None else row.last_alert_at.astimezone(UTC)
    differs("last_alert_at", last_alert_at, state.last_alert_at)
    declined = row.declined
    if not isinstance(declined, list) or not all(isinstance(n, str) for n in declined):
        found.append(f"case {case_id}: declined cannot be read as a list of responders (edited)")
        declined = []
    differs("declined", sorted(set(declined)), sorted(state.declined))
    return found


def member_mismatches(
    tally: CaseTally | None,
    members: Sequence[MemberFields],
    alerts: Collection[str],
    case_id: int,
) -> list[str]:
    """Return one finding per member row, and per alert's ``case_id``, that parts from what
    the case's history in the trail brought into it (``tally``; None: the trail never
    opened the case, so no member row or alert may name it)."""
    expected = CaseTally() if tally is None else tally
    found: list[str] = []
    held = {(m.device_id, m.kind): m for m in members}
    for key in sorted(expected.members.keys() - held.keys()):
        found.append(
            f"case {case_id}: member {key[0]} ({key[1]}) is missing but its history in the"
            f" trail counts {expected.members[key].alert_count} alert(s) of it (deleted)"
        )
    for key in sorted(held.keys() - expected.members.keys()):
        found.append(
            f"case {case_id}: member {key[0]} ({key[1]}) is in case_members but its history in"
            " the trail brought no alert of it in (added by hand)"
        )
    for key in sorted(held.keys() & expected.members.keys()):
        row, said = held[key], expected.members[key]
        for name, value, want in (
            ("alert_count", row.alert_count, said.alert_count),
            ("first_alert_at", row.first_alert_at.astimezone(UTC), said.first_alert_at),
            ("last_alert_at", row.last_alert_at.astimezone(UTC), said.last_alert_at),
        ):
            if value != want:
                found.append(
                    f"case {case_id}: member {key[0]} ({key[1]}) {name} is {value!r} but its"
                    f" history in the trail says {want!r}"
                )
    stored = set(alerts)
    for alert_id in sorted(expected.alerts - stored):
        found.append(
            f"case {case_id}: alert {alert_id} is the case's by its history in the trail but"
            " its row in alerts names another case or none (moved)"
        )
    for alert_id in sorted(stored - expected.alerts):
        found.append(
            f"case {case_id}: alert {alert_id} names the case in its row in alerts but the"
            " case's history in the trail never brought it in (moved)"
        )
    return found
