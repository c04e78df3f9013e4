"""Restore required: the alarms a silence leaves raised are reported when it ends.

An alarm raised during a maintenance window or drill is stored and audited but opens no case
(``hub.silences.rules``). The edge raises it once: if it is still raised when the silence ends
(a gas leak that began during a boiler service), nothing would ever report it. A monitoring
centre reports the points still in alarm at the end of a test period, and so does this: when a
silence is over (its ``ends_at`` passed, or someone ended it early), each device and kind whose
latest stored alert is a raised one the silence covered is handed to the case intake again, as
the hub's own alert at the silence's end (``restore_alert``), so that correlation, dispatch,
feedback, notices, the live stream and the audit trail apply as to any alert; its case's
history says which silence hid it and since when. An alarm raised during the silence and
delivered after it ended (an edge's store and forward after an outage: stored silenced, judged
by its event time) is reported the same way, by a look at the alerts received since the last
(``checked_through``), for ``LATE_FOR`` after the end.

Once across hub workers and restarts: the supervisor's round looks for silences over with no
``silence_restores`` row. The alert's id is made from the silence and the alert it stands
for, so every worker (or this one again after a restart) makes the same one and the intake
stores it once (``hub.cases.copies``); then the worker that adds the silence's row there
(one does: it is the primary key) writes the history lines in the same transaction, and any
other finds the row and does nothing.
"""

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, null, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, AlertReason
from hub.cases.intake import CaseIntake
from hub.cases.records import CasePolicy, add_event
from hub.cases.results import IngestResult
from hub.cases.rules import CaseEventAction
from hub.persistence.tables import (
    AlertRow,
    CaseEventRow,
    DeviceRow,
    SilenceRestoreRow,
    SilenceRow,
    UTCDateTime,
)
from hub.persistence.transactions import Database, upsert_insert
from hub.silences.repository import silence_from_row
from hub.silences.rules import Silence, SilencedAlert, covers

logger = logging.getLogger(__name__)

RESTORE_RULE = "silence_ended"
"""The rule a restored alert names (its ``reason``): the hub's, not a detector's."""

SILENCES_A_ROUND = 20
"""At most this many silences over are looked at in one round; the rest in the next."""

LATE_FOR = timedelta(days=7)
"""How long after a silence's end an alarm raised during it and delivered late (an edge's
store and forward after an outage) is still looked for."""

LATE_SLACK = timedelta(minutes=1)
"""Alerts received up to this long before a look are looked at again by the next: a take
stamped before the look may commit after it (and workers' clocks differ a little)."""

LATE_EVERY = timedelta(seconds=15)
"""How often a worker looks for late arrivals (each look reads the alerts of the windows of
the silences over in the last ``LATE_FOR``); a silence just over is looked at every round."""

UNRESTORABLE_RETRY = timedelta(minutes=5)
"""How long a silence this worker could not restore is left out of its rounds."""


@dataclass(frozen=True, slots=True)
class LeftRaised:
    """An alarm a silence covered that was still raised when the silence ended."""

    silence_id: int
    reason: str
    alert: Alert
    """The hub's alert that reports it now (``restore_alert``)."""
    raised: str
    """The id of the alert the silence hid."""
    raised_at: datetime


def restore_id(silence_id: int, alert_id: str) -> str:
    """Return the id of the alert that reports ``alert_id`` at the end of the silence: the
    same on every worker."""
    digest = hashlib.sha256(f"{silence_id}|{alert_id}".encode()).hexdigest()[:32]
    return f"silence-end-{digest}"


def restore_alert(silence: Silence, row: AlertRow) -> Alert:
    """Return the alert that reports ``row`` (raised during ``silence``, still raised) at
    the silence's end: its device, kind and severity, at the instant the silence stopped
    covering it (never the moment a worker noticed, so that every worker makes the same).
    A report another silence hid in turn names the alarm it reported, not itself."""
    first = _first_raised(row)
    return Alert(
        id=restore_id(silence.id, row.id),
        edge_id=row.edge_id,
        device_id=row.device_id,
        kind=AlertKind(row.kind),
        state=AlertState.RAISED,
        severity=Severity(row.severity),
        ts=silence.ends_at,
        detected_at=silence.ends_at,
        location=row.location,
        reason=AlertReason(
            rule=RESTORE_RULE,
            values={
                "silence_id": str(silence.id),
                "raised_alert": first[0],
                "raised_at": first[1],
                "raised_by": first[2],
            },
        ),
    )


_KNOWN_KINDS = frozenset(kind.value for kind in AlertKind)


def _as_judged(silence: Silence, row: AlertRow) -> Silence:
    """Return the silence as the intake judged ``row`` by: one ended early covered, while it
    was in force, alerts stamped after the moment it was ended (an edge's clock ahead)."""
    if row.ts < silence.ends_at or row.received_at > silence.ends_at:
        return silence
    return replace(silence, ends_at=row.ts + timedelta(microseconds=1))


def _first_raised(row: AlertRow) -> tuple[str, str, str]:
    """Return the alarm ``row`` stands for (its id, event time, rule): its own, or, for a
    report of this module, the one it reported."""
    values = row.reason.get("values") or {}
    if row.reason.get("rule") == RESTORE_RULE and "raised_alert" in values:
        return (str(values["raised_alert"]), str(values["raised_at"]), str(values["raised_by"]))
    return (row.id, row.ts.astimezone(UTC).isoformat(), str(row.reason.get("rule", "")))


def left_raised(session: Session, silence: Silence, reason: str) -> list[LeftRaised]:
    """Return the alarms ``silence`` covered whose device and kind are still raised: the
    latest alert stored of that device and kind is a raised one it covered, with no case."""
    rows = session.execute(
        select(AlertRow, DeviceRow.location, DeviceRow.edge_id)
        .join(DeviceRow, DeviceRow.id == AlertRow.device_id)
        .where(
            AlertRow.device_id.in_(
                select(AlertRow.device_id).where(
                    AlertRow.ts >= silence.starts_at,
                    (AlertRow.ts < silence.ends_at) | (AlertRow.received_at <= silence.ends_at),
                    AlertRow.case_id.is_(None),
                    AlertRow.state == AlertState.RAISED.value,
                )
            ),
            AlertRow.ts >= silence.starts_at,
        )
        .order_by(AlertRow.ts, AlertRow.received_at, AlertRow.id)
    )
    latest: dict[tuple[str, str], tuple[AlertRow, str, str | None]] = {}
    for row, location, edge_id in rows:
        latest[(row.device_id, row.kind)] = (row, location, edge_id)  # the last one stays
    found = []
    for row, location, edge_id in latest.values():
        if row.state != AlertState.RAISED.value:
            continue
        if row.kind not in _KNOWN_KINDS:
            # A newer worker's (a rolling upgrade): this release cannot take it into a case.
            logger.warning(
                "silence %s: alert %s of kind %s not known here", silence.id, row.id, row.kind
            )
            continue
        values = row.reason.get("values") or {}
        if row.reason.get("rule") == RESTORE_RULE and values.get("silence_id") == str(silence.id):
            # This silence's own report, stored by a worker that stopped before it marked the
            # silence: stored again (a duplicate), and its history line written if missing.
            found.append(_reported(silence, reason, row, values))
            continue
        if row.case_id is not None:
            continue
        facts = SilencedAlert(row.device_id, edge_id, location, AlertKind(row.kind), row.ts)
        if covers(_as_judged(silence, row), facts):
            alert = restore_alert(silence, row)
            values = alert.reason.values
            raised_at = datetime.fromisoformat(str(values["raised_at"]))
            found.append(
                LeftRaised(silence.id, reason, alert, str(values["raised_alert"]), raised_at)
            )
    return found


def _reported(
    silence: Silence, reason: str, row: AlertRow, values: dict[str, object]
) -> LeftRaised:
    """Return what a report already stored (``row``, made by ``restore_alert``) stands for."""
    alert = Alert(
        id=row.id,
        edge_id=row.edge_id,
        device_id=row.device_id,
        kind=AlertKind(row.kind),
        state=AlertState.RAISED,
        severity=Severity(row.severity),
        ts=row.ts,
        detected_at=row.detected_at,
        location=row.location,
        reason=AlertReason.model_validate(row.reason),
    )
    raised_at = datetime.fromisoformat(str(values.get("raised_at", row.ts.isoformat())))
    return LeftRaised(silence.id, reason, alert, str(values.get("raised_alert", "")), raised_at)


def restore_note(left: LeftRaised) -> str:
    """Return the case history's line for an alarm reported at the end of its silence."""
    return (
        f"raised at {left.raised_at.astimezone(UTC).isoformat()} during silence "
        f"{left.silence_id} ({left.reason}) as alert {left.raised}, and still raised when the "
        f"silence ended at {left.alert.ts.astimezone(UTC).isoformat()}: reported now"
    )


class SilenceRestores:
    """Reports the alarms ended silences left raised; each silence is a few short
    transactions."""

    def __init__(self, db: Database, intake: CaseIntake, policy: CasePolicy) -> None:
        self._db = db
        self._intake = intake
        self._policy = policy
        self._unrestorable: dict[int, datetime] = {}
        """Silences this worker failed to restore, and when to try each again."""
        self._late_at: datetime | None = None
        """When this worker last looked for late arrivals."""

    def restore_ended(self, now: datetime) -> IngestResult:
        """Report what every silence over by ``now`` and not yet restored left raised, and
        what one over for less than ``LATE_FOR`` left raised among the alerts it covered that
        were received since it was last looked at.

        One that cannot be done (a bug, a row this release cannot read) is logged and left
        for ``UNRESTORABLE_RETRY``, as ``hub.cases.deadlines`` leaves a deadline: it must not
        hold up the silences after it; a failure of the database fails the round."""
        self._unrestorable = {i: t for i, t in self._unrestorable.items() if t > now}
        skip = SilenceRow.id.not_in(sorted(self._unrestorable))
        fresh = select(SilenceRow, null().cast(UTCDateTime())).where(
            SilenceRow.ends_at <= now,
            SilenceRow.id.not_in(select(SilenceRestoreRow.silence_id)),
        )
        late = (
            select(SilenceRow, SilenceRestoreRow.checked_through)
            .join(SilenceRestoreRow, SilenceRestoreRow.silence_id == SilenceRow.id)
            .where(
                SilenceRow.ends_at <= now,
                SilenceRow.ends_at > now - LATE_FOR,
                exists().where(
                    AlertRow.ts >= SilenceRow.starts_at,
                    AlertRow.ts < SilenceRow.ends_at,
                    AlertRow.case_id.is_(None),
                    AlertRow.state == AlertState.RAISED.value,
                    AlertRow.received_at > SilenceRestoreRow.checked_through,
                ),
            )
        )
        queries = [fresh]
        if self._late_at is None or now - self._late_at >= LATE_EVERY:
            self._late_at = now
            queries.append(late)
        with self._db.reading() as session:
            over = [
                (silence_from_row(row), row.reason, seen)
                for query in queries
                for row, seen in session.execute(
                    (query.where(skip) if self._unrestorable else query)
                    .order_by(SilenceRow.id)
                    .limit(SILENCES_A_ROUND)
                )
            ]
        results = []
        for silence, reason, seen in over:
            try:
                results.append(self._restore(silence, reason, now, seen))
            except (OperationalError, InterfaceError):
                raise  # the database or the connection, not this silence
            except Exception:
                self._unrestorable[silence.id] = now + UNRESTORABLE_RETRY
                logger.exception(
                    "silence %s: the alarms it left raised could not be reported; tried "
                    "again in %s",
                    silence.id,
                    UNRESTORABLE_RETRY,
                )
        return IngestResult.merge(results)

    def _restore(
        self, silence: Silence, reason: str, now: datetime, seen: datetime | None
    ) -> IngestResult:
        """Report what ``silence`` left raised; ``seen``: the ``checked_through`` its last look
        left (None: never looked at)."""
        with self._db.reading() as session:
            left = left_raised(session, silence, reason)
        result = (
            self._intake.ingest_alerts([item.alert for item in left], now)
            if left
            else IngestResult()
        )
        with self._db.writing() as session:
            through = now - LATE_SLACK
            marked = (
                session.execute(
                    upsert_insert(session, SilenceRestoreRow)
                    .values(silence_id=silence.id, restored_at=now, checked_through=through)
                    .on_conflict_do_nothing(index_elements=["silence_id"])
                    .returning(SilenceRestoreRow.silence_id)
                ).one_or_none()
                if seen is None
                else session.execute(
                    update(SilenceRestoreRow)
                    .where(
                        SilenceRestoreRow.silence_id == silence.id,
                        SilenceRestoreRow.checked_through == seen,
                    )
                    .values(checked_through=max(seen, through))
                    .returning(SilenceRestoreRow.silence_id)
                ).one_or_none()
            )
            if marked is None:
                return result  # another worker did it
            self._note(session, left, now)
        for item in left:
            logger.warning(
                "silence %s over: %s %s still raised since %s, reported",
                silence.id,
                item.alert.device_id,
                item.alert.kind,
                item.raised_at,
            )
        return result

    def _note(self, session: Session, left: Sequence[LeftRaised], now: datetime) -> None:
        """Say in each case a restored alert joined which silence hid it (once: a worker that
        stored the alerts and stopped before this has it done by the next)."""
        by_id = {item.alert.id: item for item in left}
        if not by_id:
            return
        cased = session.execute(
            select(AlertRow.id, AlertRow.case_id).where(
                AlertRow.id.in_(sorted(by_id)), AlertRow.case_id.is_not(None)
            )
        ).all()
        noted = set(
            session.scalars(
                select(CaseEventRow.alert_id).where(
                    CaseEventRow.alert_id.in_(sorted(by_id)),
                    CaseEventRow.action == CaseEventAction.COMMENTED.value,
                )
            )
        )
        for alert_id, case_id in sorted(cased):
            if alert_id in noted or case_id is None:
                continue
            add_event(
                session,
                self._policy,
                case_id,
                now,
                CaseEventAction.COMMENTED,
                alert_id,
                note=restore_note(by_id[alert_id]),
            )
