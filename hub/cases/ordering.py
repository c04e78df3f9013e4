"""A device's alerts in any arrival order: what the case intake adds for several hub workers.

Mosquitto deals a shared subscription's messages round-robin, so two hub workers can store a
device's alarm and its clearance in either order, and one incident's alerts from different
devices at the same moment. Three things keep the case as one worker would have left it (the
rule itself is the pure ``hub.cases.rules.clearances_to_adopt``):

* ``lock_take``: each intake transaction takes a PostgreSQL advisory lock per (device, alert
  kind) of its new alerts, in sorted order, before it locks any case. A clearance that finds
  nothing open and the alarm that opens the case then take turns, so the alarm's transaction
  sees the clearance once it is committed (READ COMMITTED reads each statement afresh) or the
  clearance's sees the case. SQLite has one writer at a time: nothing to take.
* the same call takes a lock per incident (correlation key) the transaction may attach to, or
  may open when other kinds attach to it (``hub.cases.correlation.incident_lock_keys``), before
  it reads which incidents are active. An SOS press next to a fire whose
  case another worker is opening at that moment waits for that commit and then joins the case;
  without the lock it read "no fire here" and opened a case of its own.
* ``adopt_stray_clearances``: a raised alert that opened, reopened or joined a case takes in
  the clearances of its device and kind stored without a case at or after its ``ts``.

Lock order for the deadlock-free guarantee of ``hub.cases.intake``: alert rows (by id), then
these advisory locks (device locks sorted, then incident locks sorted), then cases (by key),
then the audit head.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, tuple_
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert
from hub.cases.correlation import correlation_time
from hub.cases.records import CaseHistory, MemberRows, open_state
from hub.cases.rules import (
    AttachToCase,
    CaseEventAction,
    IncomingAlert,
    StrayClearance,
    clearances_to_adopt,
    decide,
)
from hub.persistence.json_text import json_text
from hub.persistence.tables import AlertRow, CaseRow, SilenceRow
from hub.silences.repository import silence_from_row
from hub.silences.rules import SilencedAlert, silencing

_LOCK_NAMESPACE = "linli-device-kind:"
"""Prefix of the advisory lock names, so that they collide with no other use of advisory locks."""
_INCIDENT_NAMESPACE = "linli-incident:"
"""Prefix of the incidents' lock names (a correlation key follows)."""


def take_lock_names(alerts: Iterable[Alert], incidents: Iterable[str] = ()) -> list[str]:
    """Return the advisory lock names a batch of alerts takes, in the order to take them: its
    (device, kind) pairs sorted, then the correlation keys of ``incidents`` sorted."""
    return sorted({f"{_LOCK_NAMESPACE}{a.device_id}|{a.kind.value}" for a in alerts}) + sorted(
        {f"{_INCIDENT_NAMESPACE}{key}" for key in incidents}
    )


_LOCK_ALL = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(name, 0)) "
    "FROM unnest(CAST(:names AS TEXT[])) WITH ORDINALITY AS wanted(name, n) ORDER BY n"
)
"""All of a batch's locks in one round trip, taken one after the other in the array's order
(a function scan yields its rows in order, and each row's lock is taken as it is produced)."""


def lock_take(session: Session, alerts: Iterable[Alert], incidents: Iterable[str] = ()) -> None:
    """Take the (device, kind) advisory locks of ``alerts``, then those of the ``incidents``
    (correlation keys), until the transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite's write lock, taken up front, already serialises every intake
    names = take_lock_names(alerts, incidents)
    if len(names) == 1:
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(names[0], 0))))
    elif names:
        session.execute(_LOCK_ALL, {"names": names})


_STRAY_CLEARANCES = select(AlertRow.id).where(
    tuple_(AlertRow.device_id, AlertRow.kind).in_(bindparam("pairs", expanding=True)),
    AlertRow.state == AlertState.CLEARED.value,
    AlertRow.case_id.is_(None),
    AlertRow.ts >= bindparam("since"),
)
"""The ids of the clearances stored without a case, of the (device, kind) pairs given, since
a time. Only the ids: in a burst most of them are the take's own clearances (their case is
written with the transaction's last statement), which are left out before any row is loaded."""
_PG_STRAY_CLEARANCES = (
    "SELECT id FROM alerts WHERE state = :stray_state AND case_id IS NULL AND ts >= :stray_since"
    " AND (device_id, kind) IN (SELECT p.device_id, p.kind FROM json_to_recordset("
    "CAST(:stray_pairs AS JSON)) AS p(device_id VARCHAR, kind VARCHAR) LIMIT :stray_count)"
)
"""``_STRAY_CLEARANCES`` as the INSERT of the take's alerts carries it on PostgreSQL
(``stray_read``); the pairs as one JSON text, their count telling the planner how many."""
_ALERT_ROWS = select(AlertRow).where(AlertRow.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class StraySearch:
    """What ``adopt_stray_clearances`` looks for: clearances of these (device, kind) pairs
    stored without a case at or after ``since``."""

    raised: list[Alert]
    """The take's raised alerts that opened, reopened or joined a case."""
    pairs: list[tuple[str, str]]
    since: datetime

    def matches(self, alert: Alert) -> bool:
        """Whether ``alert`` is a clearance this search looks for (``alert`` without a case)."""
        return (
            alert.state is AlertState.CLEARED
            and alert.ts >= self.since
            and (alert.device_id, alert.kind.value) in self.pairs
        )


def stray_search(alerts: Iterable[Alert], cases: Mapping[str, CaseRow]) -> StraySearch | None:
    """Return what the raised alerts among ``alerts`` that have a case (``cases``) look for,
    or None if there are none (then no clearance is adopted)."""
    raised = [a for a in alerts if a.state is AlertState.RAISED and a.id in cases]
    if not raised:
        return None
    pairs = sorted({(a.device_id, a.kind.value) for a in raised})
    return StraySearch(raised, pairs, min(a.ts for a in raised))


def stray_read(session: Session, search: StraySearch | None) -> tuple[str, dict[str, Any]] | None:
    """Return the read of the stray clearances for the INSERT of the take's alerts to carry
    (``hub.persistence.bulk.pg_insert_new_rows_reading``): on PostgreSQL a round trip less for
    every take that raises. None on SQLite, where a statement costs no round trip, and when
    there is nothing to look for.

    Carried, the read sees what was committed before the INSERT: every clearance another hub
    worker stored for these (device, kind) pairs, since it held their turn (``lock_take``)
    before this take got it; not the take's own, which ``adopt_stray_clearances`` then finds
    among its alerts.
    """
    if search is None or session.get_bind().dialect.name != "postgresql":
        return None
    params = {
        "stray_state": AlertState.CLEARED.value,
        "stray_since": search.since,
        "stray_pairs": json_text([{"device_id": d, "kind": k} for d, k in search.pairs]),
        "stray_count": len(search.pairs),
    }
    return _PG_STRAY_CLEARANCES, params


def adopt_stray_clearances(
    session: Session,
    history: CaseHistory,
    member_rows: MemberRows,
    alerts: Iterable[Alert],
    cases: Mapping[str, CaseRow],
    now: datetime,
    search: StraySearch | None,
    carried: list[str] | None = None,
) -> list[str]:
    """Join to each raised alert's case (``cases``: alert id → the case it opened, reopened
    or joined) the clearances of its device and kind that were stored without a case at or
    after its ``ts``, and that no silence covers; return their ids. The lines of history go
    to ``history``, after the batch's own; each is counted in its member row of the case in
    ``member_rows`` (written: it knows every member row of those cases, made here or not).

    Run once per batch, after every alert of it is stored with its case, with its
    ``stray_search``: one query, usually empty, or none where the INSERT carried it
    (``carried``: the ids it read, ``stray_read``). The batch's own alerts that have a case
    (``cases``) are left out.
    """
    if search is None:
        return []
    if carried is None:
        # No flush for this read (a Core read on the connection: none), and none needed: the
        # cases' and members' counts changed so far are not what it reads, and are left for the
        # transaction's last statement (``records.carry_counts``).
        found = list(
            session.connection()
            .execute(_STRAY_CLEARANCES, {"pairs": search.pairs, "since": search.since})
            .scalars()
        )
    else:
        # The take's own clearances without a case, which the carried read could not see.
        found = carried + [a.id for a in alerts if a.id not in cases and search.matches(a)]
    ids = [stray_id for stray_id in found if stray_id not in cases]
    if not ids:
        return []
    pool = {
        stray.id: stray
        for stray in session.scalars(_ALERT_ROWS, {"ids": sorted(ids)})
        if not _silenced(session, stray)
    }
    adopted: list[str] = []
    for alert in search.raised:
        if not pool:
            break
        row = cases[alert.id]
        mine = [
            StrayClearance(stray.id, stray.ts)
            for stray in pool.values()
            if (stray.device_id, stray.kind) == (alert.device_id, alert.kind.value)
        ]
        incoming = IncomingAlert(state=alert.state, severity=alert.severity, ts=alert.ts)
        for stray_id in clearances_to_adopt(incoming, mine):
            _attach(session, history, member_rows, row, pool.pop(stray_id), now)
            adopted.append(stray_id)
    if adopted:
        session.flush()
    return adopted


def _attach(
    session: Session,
    history: CaseHistory,
    member_rows: MemberRows,
    row: CaseRow,
    stray: AlertRow,
    now: datetime,
) -> None:
    """Join one stray clearance to an active case as ``decide`` says a clearance joins."""
    # Joined by its time bounded by its receipt, as every alert is (correlation_time).
    at = correlation_time(stray.ts, stray.received_at)
    clearance = IncomingAlert(AlertState.CLEARED, Severity(stray.severity), at)
    case = open_state(row)
    assert case is not None
    decision = decide(clearance, case, now)
    assert isinstance(decision, AttachToCase)  # a clearance joins an active case as it is
    row.alert_count = decision.updated.alert_count
    row.last_alert_at = decision.updated.last_alert_at
    row.updated_at = now
    stray.case_id = row.id
    member_rows.count(row.id, stray.device_id, stray.kind, stray.ts)
    history.add(session, row.id, now, CaseEventAction.ALERT_ATTACHED, stray.id)


def _silenced(session: Session, stray: AlertRow) -> bool:
    """Return whether a silence covers the stray clearance (it stays off every case)."""
    rows = session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= stray.ts, SilenceRow.ends_at > stray.ts)
    ).all()
    if not rows:
        return False
    facts = SilencedAlert(
        device_id=stray.device_id,
        edge_id=stray.edge_id,
        location=stray.location or "",
        kind=AlertKind(stray.kind),
        ts=stray.ts,
    )
    return silencing([silence_from_row(r) for r in rows], facts) is not None
