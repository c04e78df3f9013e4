"""Responders' positions stored, read, and a case marked "on site" when its responder arrives
(the rules: ``hub.positions.rules``).

Where a responder is is the hub's business only while they work: on call (their roster
shifts, in their site's time zone; no shifts is always), or on the team of an active case
(off shift, still going to or at a call-out). A fix sent at any other time (the phone left in
Move mode at home) is answered as ever and stored nothing, and the map shows no position of a
responder off call with no active case: the control room does not see where a grid worker
lives or spends the weekend (``tracked``)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.cases.dispatch import team_of
from hub.cases.records import CasePolicy, add_event, case_view, cases_query, members
from hub.cases.rules import ACTIVE, CaseEventAction
from hub.cases.views import CaseView
from hub.errors import NotFoundError
from hub.http.views import View
from hub.persistence.field import ResponderPositionRow
from hub.persistence.tables import CaseEventRow, CaseRow, ResponderRow, SiteRow
from hub.persistence.transactions import Database, upsert_insert
from hub.positions.rules import (
    MapPlace,
    Position,
    distance_m,
    fresh,
    on_site,
    parse_map,
    place_coordinates,
)
from hub.roster.repository import responder_from_row
from hub.roster.rules import on_call


class PositionView(View):
    """A responder's latest position, as the API shows it."""

    responder_id: str
    site_id: str | None
    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime
    received_at: datetime


_STORED = ("responder_id", "lat", "lon", "accuracy_m", "at", "received_at")
"""The fields of a ``PositionView`` its row holds, by the same names."""


def site_map(session: Session, site_id: str) -> list[MapPlace]:
    """Return the map of a site (empty if it has none, or no such site)."""
    return parse_map(session.scalar(select(SiteRow.map).where(SiteRow.id == site_id)))


def latest_positions(session: Session, responder_ids: Iterable[str]) -> dict[str, Position]:
    """Return the latest stored position of each of these responders that has one."""
    rows = session.scalars(
        select(ResponderPositionRow).where(
            ResponderPositionRow.responder_id.in_(sorted(set(responder_ids)))
        )
    )
    return {row.responder_id: Position(row.lat, row.lon, row.at, row.accuracy_m) for row in rows}


def tracked(session: Session, responders: Iterable[ResponderRow], now: datetime) -> set[str]:
    """Return the ids of ``responders`` whose whereabouts are the hub's business at ``now``:
    active and on call, or on the team of an active case."""
    rows = [row for row in responders if row.active]
    if not rows:
        return set()
    zones: dict[str, str] = {
        site_id: zone
        for site_id, zone in session.execute(
            select(SiteRow.id, SiteRow.timezone).where(
                SiteRow.id.in_(sorted({row.site_id for row in rows}))
            )
        )
    }
    # A site without a zone yet reads its shifts in UTC (no shifts: always on call).
    working = {
        row.id
        for row in rows
        if on_call(responder_from_row(row), now, zones.get(row.site_id) or "UTC")
    }
    off = {row.id for row in rows} - working
    if not off:
        return working
    active = select(CaseRow.team).where(
        CaseRow.status.in_(sorted(ACTIVE)),
        CaseRow.merged_into.is_(None),
        CaseRow.site_id.in_(sorted({row.site_id for row in rows if row.id in off})),
    )
    for (team,) in session.execute(active):
        working |= {a.responder for a in team_of(team) if a.responder in off}
    return working


def _holds(team: Iterable[Mapping[str, Any]] | None, responder_id: str) -> bool:
    """Return whether a case's team, as its row stores it, holds the responder."""
    return any(a.responder == responder_id for a in team_of(team))


class PositionRepository:
    """Positions of the roster's responders; each public method is one transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy

    def report(self, responder_id: str, position: Position) -> list[CaseView]:
        """Store ``position`` as the responder's latest, unless a later one is stored (a
        phone's queue sent out of order); mark on site each active case of theirs whose
        place it reaches and return them. Raise ``NotFoundError`` for someone not on the
        roster, or taken off it (inactive: who left the team is no longer tracked, though
        their phone is still set up)."""
        now = self._db.clock()
        with self._db.writing() as session:
            responder = session.get(ResponderRow, responder_id)
            if responder is None or not responder.active:
                raise NotFoundError(f"responder {responder_id} is not on the roster")
            if not tracked(session, [responder], now):
                return []  # off call, no case: none of the hub's business (module doc)
            fix = {
                "lat": position.lat,
                "lon": position.lon,
                "accuracy_m": position.accuracy_m,
                "at": position.at,
                "received_at": now,
            }
            # Inserted if the responder has no position yet; otherwise the stored one (another
            # worker's first insert too, committed or not: this waits for it) is locked and
            # moved on unless it is later. Two workers' first fixes no longer clash on the key.
            first = session.execute(
                upsert_insert(session, ResponderPositionRow)
                .values(responder_id=responder_id, **fix)
                .on_conflict_do_nothing(index_elements=["responder_id"])
                .returning(ResponderPositionRow.responder_id)
            ).first()
            if first is None:
                row = session.get(
                    ResponderPositionRow, responder_id, with_for_update=True, populate_existing=True
                )
                if row is None or row.at > position.at:
                    return []
                for name, value in fix.items():
                    setattr(row, name, value)
            # A fix from the phone's queue, taken long ago, says nothing of arriving now.
            arrived = (
                self._arrivals(session, responder, position, now) if fresh(position, now) else []
            )
            session.flush()
            return arrived

    def _arrivals(
        self, session: Session, responder: ResponderRow, position: Position, now: datetime
    ) -> list[CaseView]:
        places = site_map(session, responder.site_id)
        if not places:
            return []
        active = (
            CaseRow.site_id == responder.site_id,
            CaseRow.status.in_(sorted(ACTIVE)),
            CaseRow.merged_into.is_(None),
        )
        # Read unlocked first: a fix locks only the cases whose team holds its responder (the
        # site's other cases, busy with alerts and escalations, are none of its business),
        # then reads those again under the lock, as another worker may have changed them.
        maybe = [
            case_id
            for case_id, team in session.execute(select(CaseRow.id, CaseRow.team).where(*active))
            if _holds(team, responder.id)
        ]
        if not maybe:
            return []
        found = session.execute(
            cases_query()
            .where(CaseRow.id.in_(maybe), *active)
            .order_by(CaseRow.id)
            .with_for_update(of=CaseRow)
            .execution_options(populate_existing=True)
        ).all()
        theirs = [(case, loc) for case, loc in found if _holds(case.team, responder.id)]
        if not theirs:
            return []
        already = set(
            session.scalars(
                select(CaseEventRow.case_id).where(
                    CaseEventRow.case_id.in_([case.id for case, _ in theirs]),
                    CaseEventRow.action == CaseEventAction.ON_SITE,
                    CaseEventRow.actor == responder.id,
                )
            )
        )
        arrived: list[tuple[CaseRow, str | None]] = []
        for case, location in theirs:
            target = place_coordinates(places, case.place or location or "")
            # A fix taken before the case opened says where they were, not that they came.
            if case.id in already or target is None or position.at < case.opened_at:
                continue
            if not on_site(position, target):
                continue
            metres = distance_m(position.lat, position.lon, target.lat, target.lon)
            add_event(
                session,
                self._policy,
                case.id,
                now,
                CaseEventAction.ON_SITE,
                actor=responder.id,
                note=f"{responder.name} on site: {metres:.0f} m from {target.place}",
            )
            case.updated_at = now
            arrived.append((case, location))
        if not arrived:
            return []
        session.flush()
        joined = members(session, [case.id for case, _ in arrived])
        return [case_view(case, location, joined[case.id]) for case, location in arrived]

    def positions(
        self, *, sites: frozenset[str] | None = None, responder: str | None = None
    ) -> list[PositionView]:
        """Return the latest position of each responder on the roster (of ``sites``, and only
        ``responder``'s, if given), by responder id; none of one taken off it (inactive: the
        control room's map must not go on showing where someone who left last was), nor of
        one off call with no active case (``tracked``), unless asked by the responder."""
        now = self._db.clock()
        query = (
            select(ResponderPositionRow, ResponderRow)
            .join(ResponderRow, ResponderRow.id == ResponderPositionRow.responder_id)
            .where(ResponderRow.active.is_(True))
            .order_by(ResponderPositionRow.responder_id)
        )
        if sites is not None:
            query = query.where(ResponderRow.site_id.in_(sorted(sites)))
        if responder is not None:
            query = query.where(ResponderPositionRow.responder_id == responder)
        with self._db.reading() as session:
            found = [(row, who) for row, who in session.execute(query)]
            shown = (
                {who.id for _, who in found}
                if responder is not None
                else tracked(session, [who for _, who in found], now)
            )
            return [
                PositionView(site_id=who.site_id, **{name: getattr(row, name) for name in _STORED})
                for row, who in found
                if who.id in shown
            ]
