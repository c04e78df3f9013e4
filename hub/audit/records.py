"""The records the audit trail vouches for: the stored alerts and the cases' history lines,
checked against the entries that recorded them.

The chain proves that its entries were not changed; on its own it says nothing of the tables
people read: someone with database access could delete a case's ``resolved`` line, rewrite
its note, back-date an acknowledgement or delete an alert, leave the chain alone, and the
check said "intact" (found by an outside review). Every alert and every history line is
chained in the transaction that stores it (``alert_stored``; a history line's own action
with its case, actor, alert and note), so the check matches them: each such entry with its
row, field for field, and at the end the rows counted against the entries, so that a row
added by hand shows too. Not covered: a case's own row (its status, resolution, team) is a
summary of its history that the hub rewrites at each action, not a record.

Pure: the repository reads the rows of each page of entries and the counts.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.audit.chain import AuditAction, AuditEntry
from hub.cases.rules import CaseEventAction

ALERTS = "alerts"
"""The stored alerts (``alerts``): one ``alert_stored`` entry each."""
EVENTS = "case_events"
"""The cases' history lines (``case_events``): one entry each, of the line's action."""

RecordKey = tuple[object, ...]
"""What an entry says of its record, and what the row says: equal if the row is intact."""

_EVENT_ACTIONS = frozenset(action.value for action in CaseEventAction)
_WHAT = {ALERTS: "alert", EVENTS: "history line"}


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC)


def alert_key(
    alert_id: str,
    received_at: datetime,
    edge_id: str,
    device_id: str,
    kind: str,
    state: str,
    severity: str,
    ts: datetime | str,
) -> RecordKey:
    """Return an alert's key: what its ``alert_stored`` entry records of it."""
    sent = ts if isinstance(ts, str) else _utc(ts).isoformat()
    return (alert_id, _utc(received_at), edge_id, device_id, kind, state, severity, sent)


def event_key(
    case_id: int,
    ts: datetime,
    action: str,
    actor: str | None,
    alert_id: str | None,
    note: str | None,
) -> RecordKey:
    """Return a history line's key: what its entry records of it."""
    return (case_id, _utc(ts), action, actor, alert_id, note)


def entry_record(entry: AuditEntry) -> tuple[str, RecordKey] | None:
    """Return the table of the record ``entry`` vouches for and the record's key; None for
    an entry of no alert or history line (an account, a silence, the roster...)."""
    detail = entry.detail
    if entry.action == AuditAction.ALERT_STORED and entry.alert_id is not None:
        return ALERTS, (
            entry.alert_id,
            _utc(entry.ts),
            detail.get("edge_id"),
            detail.get("device_id"),
            detail.get("kind"),
            detail.get("state"),
            detail.get("severity"),
            detail.get("ts"),
        )
    if entry.case_id is not None and entry.action in _EVENT_ACTIONS:
        note = detail.get("note")
        return EVENTS, event_key(
            entry.case_id,
            entry.ts,
            entry.action,
            entry.actor,
            entry.alert_id,
            note if isinstance(note, str) else None,
        )
    return None


@dataclass(frozen=True, slots=True)
class RecordBreak:
    """Where the records part from the trail: the entry whose record is missing or edited,
    or None for rows the trail never recorded."""

    seq: int | None
    reason: str


class RecordCheck:
    """Matches the entries, fed a page at a time with the rows that could be theirs, with
    their records; then the rows counted against the entries matched."""

    def __init__(self) -> None:
        self.matched: Counter[str] = Counter()
        self.found: RecordBreak | None = None
        """The first break; later pages are not looked at."""

    def page(self, entries: Iterable[AuditEntry], rows: Mapping[str, Iterable[RecordKey]]) -> bool:
        """Check a page of entries against ``rows`` (by table: the keys of every row that
        could be one of theirs, read for the page); return False at the first break."""
        if self.found is not None:
            return False
        left = {table: Counter(keys) for table, keys in rows.items()}
        for entry in entries:
            record = entry_record(entry)
            if record is None:
                continue
            table, key = record
            held = left.setdefault(table, Counter())
            if held[key] <= 0:
                self.found = RecordBreak(
                    entry.seq,
                    f"its {_WHAT[table]} in {table} is missing or was edited after it was recorded",
                )
                return False
            held[key] -= 1
            self.matched[table] += 1
        return True

    def finish(self, stored: Mapping[str, int]) -> RecordBreak | None:
        """Return the first break, counting the rows of each table (``stored``) against the
        entries matched with one: more rows than entries were added by hand."""
        if self.found is not None:
            return self.found
        for table, count in stored.items():
            if count != self.matched[table]:
                how = "added without an entry" if count > self.matched[table] else "removed"
                self.found = RecordBreak(
                    None,
                    f"{table} holds {count} rows but the trail recorded"
                    f" {self.matched[table]}: rows were {how}",
                )
                return self.found
        return None
