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

What each history line's entry sets (the hub writes no case change without one):

- ``opened``: status open, its ``priority``, no team, level 0.
- any line with ``to`` in its detail (a person's action, a dispatch, a decline, a deadline
  taking a silent responder off): status ``to``; ``assignee`` adds those responders to the
  team, ``removed`` and ``declined_by`` take them off.
- ``resolved``: its ``resolution``, ``resolved_at`` its time.
- ``acknowledged`` or ``accepted``, the first since the case opened or reopened:
  ``acknowledged_at`` its time (a case taken on does not climb at its acknowledgement
  deadline: setting it by hand silences the escalation).
- ``reopened``: no resolution, no team, not taken on, level 0; from an alert (no ``to``: the
  intake), status open and the priority raised to the alert's severity if more severe (the
  intake's rule; the alert's row is vouched for by its own entry).
- ``priority_raised``: the priority its note names (``priority raised to <severity>``).
- ``escalated``: its ``level``.
- ``merged``: status closed, no team, ``merged_into`` the detail's ``into``; ``merged_in``:
  the priority and level raised to those of the case taken in, as it stood when taken in.
- ``commented`` by the care watch for an SOS (``"care": "sos"``) on an active case: priority
  critical (``hub.care.family`` raises it with no line of its own).

Pure: the repository streams the entries and the rows and answers the two look-ups.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from devices.kinds import Severity
from hub.audit.chain import AuditEntry
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


@dataclass(frozen=True, slots=True)
class CaseRowFields:
    """What a case row says: the fields the check compares."""

    id: int
    status: str
    priority: str
    resolution: str | None
    resolved_at: datetime | None
    escalation_level: int
    team: Any
    """The row's ``team`` JSON: a list of ``{"duty", "responder", "accepted"}``."""
    assignee: str | None
    merged_into: int | None
    acknowledged_at: datetime | None


def more_severe(one: str, other: str) -> str:
    """Return the more severe of two severities (an unknown one counts as the least)."""
    return other if _RANKS.get(other, 99) < _RANKS.get(one, 99) else one


def _names(value: object) -> list[str]:
    return [name for name in str(value).split(", ") if name] if value is not None else []


def apply(
    state: CaseState | None,
    entry: AuditEntry,
    *,
    alert_severity: str | None = None,
    taken_in: CaseState | None = None,
) -> CaseState | None:
    """Return the case's state after the history line ``entry``.

    ``alert_severity``: for a ``reopened`` line from an alert (no ``to``), the alert's
    severity; ``taken_in``: for a ``merged_in`` line, the taken case's state when taken in.
    """
    detail = entry.detail
    action = entry.action
    if action == CaseEventAction.OPENED:
        if state is not None:
            return state  # an opening line of a case already open changes nothing
        return CaseState(status=CaseStatus.OPEN.value, priority=str(detail.get("priority")))
    if state is None:
        return None  # a line before any opening: the case's rows are found wanting
    team = set(state.team)
    team.update(_names(detail.get("assignee")))
    team.difference_update(_names(detail.get("removed")))
    team.difference_update(_names(detail.get("declined_by")))
    state = replace(state, team=frozenset(team))
    to = detail.get("to")
    if isinstance(to, str):
        state = replace(state, status=to)
    if action in _TAKING_ON and state.acknowledged_at is None:
        state = replace(state, acknowledged_at=entry.ts.astimezone(UTC))
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
            )
            if to is None:
                state = replace(state, status=CaseStatus.OPEN.value)
                if alert_severity is not None:
                    state = replace(state, priority=more_severe(state.priority, alert_severity))
        case CaseEventAction.PRIORITY_RAISED:
            note = str(detail.get("note", ""))
            if note.startswith(_RAISED_TO):
                state = replace(state, priority=note.removeprefix(_RAISED_TO).strip())
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
            )
        case CaseEventAction.MERGED_IN if taken_in is not None:
            state = replace(
                state,
                priority=more_severe(state.priority, taken_in.priority),
                escalation_level=max(state.escalation_level, taken_in.escalation_level),
            )
        case CaseEventAction.COMMENTED if detail.get("care") == "sos":
            if state.status in _ACTIVE:
                state = replace(state, priority=Severity.CRITICAL.value)
        case _:
            pass
    return state


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
    return found
