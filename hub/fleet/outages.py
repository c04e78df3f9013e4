"""Edge outages raised and cleared: the ``edge_offline`` alerts and their case's history.

The decisions are ``hub.fleet.supervision``'s. This module reads what they need (the edge's
row, its open outage from the alerts stored, its site and devices), writes the edge's own row
in the devices table, hands the alerts to the case intake as any edge's alerts (so a silence
of the edge's scope records them and opens no case, and one case at a time stands for one
edge: ``cases.open_key``), and writes the line that says which site went blind and for how
long. The ingest calls it after each status it took (``status_taken``), the case supervisor
at each round (``check_silent``).

The edge's row (kind ``edge``, ``EDGE_ROW_KIND``) is the hub's own: cases and alerts name a
device row, and the edge is what failed. It is never sent to an edge (registered by
``alert``) and is left out of the device listings (``hub.fleet.repository``).
"""

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, AlertState
from hub.cases.intake import CaseIntake
from hub.cases.records import CasePolicy, add_event
from hub.cases.results import IngestResult
from hub.cases.rules import CaseEventAction
from hub.fleet.claims import Provenance
from hub.fleet.supervision import (
    EDGE_ROW_KIND,
    EdgeRhythm,
    EdgeWatch,
    OpenOutage,
    OutageDecision,
    Unwatched,
    edge_device_id,
    on_status,
    on_tick,
    outage_alert,
    outage_note,
)
from hub.persistence.tables import LOCATION_LENGTH, AlertRow, DeviceRow, EdgeRow, SiteRow
from hub.persistence.transactions import Database, upsert_insert
from hub.roster.repository import site_from_row
from hub.roster.rules import site_of_edge

logger = logging.getLogger(__name__)


class EdgeOutages:
    """Raises and clears edges' outages; each public method is a few short transactions."""

    def __init__(
        self,
        db: Database,
        intake: CaseIntake,
        policy: CasePolicy,
        counters: Counter[str] | None = None,
    ) -> None:
        self._db = db
        self._intake = intake
        self._policy = policy
        self._counters: Counter[str] = Counter() if counters is None else counters
        """``edge_heartbeat_capped``: edges found saying a heartbeat past the cap (once each)."""
        self._capped: dict[str, float] = {}
        """The heartbeat past the cap each edge was logged for (logged again if it changes)."""

    def status_taken(
        self,
        edge_id: str,
        state: str,
        received_at: datetime,
        offline_grace: timedelta = timedelta(0),
    ) -> IngestResult:
        """Raise or clear the edge's outage after the hub took its status (an ``offline``
        raised here only without an ``offline_grace``: ``check_silent`` raises it after);
        return what the alerts did (to report as the ingest reports alerts)."""
        with self._db.reading() as session:
            watches = _watches(session, [edge_id])
        if not watches:
            return IngestResult()
        decision = on_status(watches[0], state, received_at, offline_grace)
        return self._carry_out([] if decision is None else [decision], received_at)

    def check_silent(
        self,
        now: datetime,
        silent_after: timedelta | EdgeRhythm,
        listening_since: datetime | None = None,
        offline_grace: timedelta = timedelta(0),
    ) -> IngestResult:
        """Raise the outage of every edge lost with no status to say so, or offline for
        ``offline_grace`` (``on_tick``; the hub's ingest connected without a break since
        ``listening_since``); each silent by its own rhythm (``EdgeRhythm``)."""
        rhythm = silent_after if isinstance(silent_after, EdgeRhythm) else EdgeRhythm(silent_after)
        with self._db.reading() as session:
            watches = _watches(session, None)
        self._note_capped(watches, rhythm)
        decisions = on_tick(watches, now, rhythm, listening_since, offline_grace)
        return self._carry_out(list(decisions), now)

    def _note_capped(self, watches: Sequence[EdgeWatch], rhythm: EdgeRhythm) -> None:
        """Log and count once each edge that says a heartbeat past the cap (again if what it
        says changes): it is judged by the cap, and its installer should know."""
        for watch in watches:
            said = watch.heartbeat_s
            if said is None or not rhythm.capped(said):
                self._capped.pop(watch.edge_id, None)
                continue
            if self._capped.get(watch.edge_id) == said:
                continue
            self._capped[watch.edge_id] = said
            self._counters["edge_heartbeat_capped"] += 1
            logger.warning(
                "edge %s says it sends its status every %g s, more than the %g s the hub "
                "takes (edge_heartbeat_max_s): it is judged lost after %g s of silence",
                watch.edge_id,
                said,
                rhythm.heartbeat_cap.total_seconds(),
                rhythm.silent_after(said).total_seconds(),
            )

    def _carry_out(self, decisions: Sequence[OutageDecision], now: datetime) -> IngestResult:
        if not decisions:
            return IngestResult()
        with self._db.writing(urgent=True) as session:
            unwatched = {d.edge_id: _unwatched(session, d.edge_id) for d in decisions}
            for decision in decisions:
                _ensure_edge_row(session, decision.edge_id, unwatched[decision.edge_id], now)
        decided = [(outage_alert(d, unwatched[d.edge_id]), d) for d in decisions]
        by_id = {alert.id: d for alert, d in decided}
        result = self._intake.ingest_alerts([alert for alert, _ in decided], now)
        # Only the worker that stored an alert says so: another's copy is a duplicate.
        stored = [(view, by_id[view.id]) for view in result.new if view.id in by_id]
        for _, decision in stored:
            logger.warning("%s", outage_note(decision, unwatched[decision.edge_id]))
        lines = [(v.case_id, v.id, d) for v, d in stored if v.case_id is not None]
        if lines:
            with self._db.writing() as session:
                for case_id, alert_id, decision in lines:
                    note = outage_note(decision, unwatched[decision.edge_id])
                    add_event(
                        session,
                        self._policy,
                        case_id,
                        now,
                        CaseEventAction.COMMENTED,
                        alert_id,
                        note=note,
                    )
        return result


def _watches(session: Session, edge_ids: list[str] | None) -> list[EdgeWatch]:
    """Read the edges (all, or ``edge_ids``) with their open outages."""
    query = select(EdgeRow)
    if edge_ids is not None:
        query = query.where(EdgeRow.id.in_(edge_ids))
    edges = list(session.scalars(query))
    if not edges:
        return []
    open_outages = _open_outages(session, [edge_device_id(e.id) for e in edges])
    return [
        EdgeWatch(
            edge_id=row.id,
            state=row.state,
            last_seen=row.last_seen,
            revoked=row.revoked_at is not None,
            outage=open_outages.get(edge_device_id(row.id)),
            heartbeat_s=row.heartbeat_s,
        )
        for row in edges
    ]


def _open_outages(session: Session, device_ids: list[str]) -> dict[str, OpenOutage]:
    """Return, by edge row, the outage whose last alert is a raised one."""
    kind = AlertRow.kind == AlertKind.EDGE_OFFLINE.value
    latest = (
        select(AlertRow.device_id, func.max(AlertRow.ts).label("ts"))
        .where(kind, AlertRow.device_id.in_(device_ids))
        .group_by(AlertRow.device_id)
        .subquery()
    )
    rows = session.execute(
        select(AlertRow.device_id, AlertRow.id, AlertRow.state, AlertRow.ts)
        .join(latest, (latest.c.device_id == AlertRow.device_id) & (latest.c.ts == AlertRow.ts))
        .where(kind)
        .order_by(AlertRow.received_at)
    )
    outages: dict[str, OpenOutage | None] = {}
    for device_id, alert_id, state, ts in rows:
        # Of two alerts at one instant (rare), the one received last says.
        outages[device_id] = OpenOutage(alert_id, ts) if state == AlertState.RAISED.value else None
    return {d: o for d, o in outages.items() if o is not None}


def _unwatched(session: Session, edge_id: str) -> Unwatched:
    """Return the edge's site and how many devices in service it serves."""
    sites = [site_from_row(row) for row in session.scalars(select(SiteRow))]
    site = site_of_edge(sites, edge_id)
    devices = session.scalar(
        select(func.count())
        .select_from(DeviceRow)
        .where(
            DeviceRow.edge_id == edge_id,
            DeviceRow.retired_at.is_(None),
            DeviceRow.kind != EDGE_ROW_KIND,
        )
    )
    return Unwatched(
        site_id=None if site is None else site.id,
        site_name=None if site is None else site.name,
        devices=devices or 0,
    )


def _ensure_edge_row(session: Session, edge_id: str, unwatched: Unwatched, now: datetime) -> None:
    """Write the edge's own row in the devices table, placed at its site's name (else its
    id): what its cases and alerts name."""
    location = (unwatched.site_name or f"edge {edge_id}")[:LOCATION_LENGTH]
    session.execute(
        upsert_insert(session, DeviceRow)
        .values(
            id=edge_device_id(edge_id),
            kind=EDGE_ROW_KIND,
            location=location,
            edge_id=edge_id,
            registered_by=Provenance.ALERT.value,
            created_at=now,
        )
        # Only the edge's own row: a device someone registered under this id first keeps its
        # place (the outage's alert names it all the same, and its case is opened).
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"location": location},
            where=DeviceRow.kind == EDGE_ROW_KIND,
        )
    )
