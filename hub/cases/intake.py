"""Alerts into cases: store each alert once and join it to its incident's case.

The decisions are pure and live elsewhere: which incident an alert belongs to
(``hub.cases.correlation``), whether it is silenced (``hub.silences.rules``, applied by
``hub.cases.silenced``), whether it opens, joins or reopens a case
(``hub.cases.rules.decide``), who the case goes to (``hub.cases.dispatch``). This module loads
what they need and stores what they return.

Two guarantees hold even when several hub workers share one PostgreSQL database:

* an alert is stored once, whatever the number of copies: a take reads which of its alerts are
  stored already (with its devices, one round trip) and inserts the others, each with its case,
  ``ON CONFLICT DO NOTHING``; a copy another hub worker stored in between (it held the same
  device's turn, ``hub.cases.ordering``, so only before this take got it) makes the take run
  again, and then it is a duplicate;
* an incident (a correlation key) has at most one active case (``cases.open_key`` is unique;
  a worker that loses the race to open or reopen it attaches to the winner's case instead).

Rows are locked in a fixed order (the advisory locks of ``hub.cases.ordering``, then cases by
correlation key, then the new alerts by id, the audit head last) so that two workers with
overlapping batches cannot deadlock.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.kinds import AlertState
from devices.messages import Alert
from hub.audit.chain import AuditAction, AuditRecord
from hub.cases.copies import ids_to_read, read_stored, sort_copies
from hub.cases.correlation import (
    BatchRoutes,
    Route,
    attach_routes,
    correlation_time,
    incident_lock_keys,
    plan_routes,
)
from hub.cases.dispatch import team_of
from hub.cases.merging import CaseMerges
from hub.cases.ordering import adopt_stray_clearances, lock_take, stray_read, stray_search
from hub.cases.records import (
    CaseHistory,
    CasePolicy,
    MemberRows,
    add_event,
    alert_view_of,
    carry_counts,
    case_view,
    locked_open_case,
    locked_resolved_case,
    open_state,
    resolved_state,
    store_team,
)
from hub.cases.results import AlertRef, IngestResult, RejectedAlert
from hub.cases.rules import (
    AttachToCase,
    CaseEventAction,
    CaseStatus,
    IncomingAlert,
    NoCase,
    OpenNewCase,
    ReopenCase,
    decide,
)
from hub.cases.silenced import silenced_alerts
from hub.cases.staffing import auto_dispatch
from hub.cases.take_rows import StoredMeanwhileError, read_take, store_new_alerts
from hub.cases.timers import cancel_acceptances, schedule_acknowledgement
from hub.fleet.claims import Claim, Registration
from hub.fleet.conflicts import claimed_places, record_claims, reported
from hub.fleet.registrations import adopt_unknown
from hub.fleet.retirement import bring_back_alerted, keep_silent, sort_retired
from hub.persistence.tables import CaseRow
from hub.persistence.transactions import Database, audit, upsert_insert
from hub.roster.repository import SiteCache, placement

# Built once, its values bound at each run (see hub.cases.take_rows).
_LAST_ALERT_AT = select(CaseRow.open_key, CaseRow.last_alert_at).where(
    CaseRow.open_key.in_(bindparam("keys", expanding=True))
)
_MAX_OPEN_ATTEMPTS = 3
_MAX_TAKE_ATTEMPTS = 3

Screen = Callable[
    [Sequence[Alert], Mapping[str, Registration]],
    tuple[Sequence[Alert], Sequence[tuple[Alert, str]], Sequence[Claim]],
]
"""Given a batch and the registration of each of its registered devices, return the alerts to
store, those refused, each with its reason, and the claims on other edges' devices (the MQTT
uplink's ownership check, ``hub.ingest.identity.screen_alerts``). The refused come back as the
result's rejected; the claims are recorded, and their conflict cases opened, in the same
transaction (``hub.fleet.conflicts``)."""


def _by_route(
    alerts: Iterable[Alert], routes: Mapping[str, Route]
) -> list[tuple[list[Alert], Route]]:
    """Return the alerts grouped by their route, in key order (the order rows are locked in,
    so that two hub workers never wait for each other in a circle)."""
    groups: dict[str, list[Alert]] = defaultdict(list)
    route_of_key: dict[str, Route] = {}
    for alert in alerts:
        alert_route = routes[alert.id]
        groups[alert_route.key].append(alert)
        route_of_key.setdefault(alert_route.key, alert_route)
    return [(groups[key], route_of_key[key]) for key in sorted(groups)]


class CaseIntake:
    """Stores alerts and joins them to cases; each public method is one transaction."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy
        self._sites = SiteCache()

    def ingest_alerts(
        self, alerts: Sequence[Alert], received_at: datetime, screen: Screen | None = None
    ) -> IngestResult:
        """Store a batch of alerts and join each new one to its case, in one transaction.

        ``screen``, if given, chooses the alerts to store from the devices' edges, read by the
        same query that reads their locations (one round trip, not a read of its own first).
        """
        if not alerts:
            return IngestResult()
        for attempt in range(1, _MAX_TAKE_ATTEMPTS + 1):
            try:
                with self._db.writing(urgent=True) as session:
                    return self._ingest(session, alerts, received_at, screen)
            except StoredMeanwhileError:
                if attempt == _MAX_TAKE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _ingest(
        self,
        session: Session,
        alerts: Sequence[Alert],
        received_at: datetime,
        screen: Screen | None = None,
    ) -> IngestResult:
        facts = read_take(session, alerts)
        locations, edges = facts.locations, facts.edges
        rejected: list[RejectedAlert] = []
        conflicts = IngestResult()
        claimed: dict[str, tuple[str, str]] = {}
        if screen is not None:
            alerts, refused, claims = screen(alerts, facts.registrations)
            rejected = [RejectedAlert(AlertRef.of(alert), reason) for alert, reason in refused]
            if claims:
                conflicts = reported(
                    session, record_claims(session, self._policy, claims, received_at)
                )
                claimed = claimed_places(session, claims)
                # Cased where the claiming edge says: the first inventory's place may be made
                # up (a squatter's). Rare, and never both claims of one device in one take.
                locations = {
                    **locations,
                    **{a.device_id: claimed[a.id][1] for a in alerts if a.id in claimed},
                }
            if not alerts:
                return IngestResult.merge([IngestResult(rejected=rejected), conflicts])
            locations, edges = self._adopt(session, alerts, locations, edges, received_at)
        rejected += [
            RejectedAlert(AlertRef.of(alert), "unknown_device")
            for alert in alerts
            if alert.device_id not in locations
        ]
        accepted = [alert for alert in alerts if alert.device_id in locations]

        # An id stored already is a copy only if the stored alert is this one (hub.cases.copies).
        held = read_stored(session, ids_to_read(accepted, facts.stored)) if facts.stored else {}
        copies = sort_copies(accepted, held)
        new, duplicates = copies.new, copies.duplicates

        retired = sort_retired(new, facts.retired) if facts.retired else None
        if retired is not None:
            bring_back_alerted(session, retired.back, received_at)
        for alert in new:
            audit(
                session,
                AuditRecord(
                    ts=received_at,
                    action=AuditAction.ALERT_STORED,
                    alert_id=alert.id,
                    detail={
                        "edge_id": alert.edge_id,
                        "device_id": alert.device_id,
                        "kind": alert.kind.value,
                        "state": alert.state.value,
                        "severity": alert.severity.value,
                        "ts": alert.ts.astimezone(UTC).isoformat(),
                        **_sent_as(copies.renamed, alert.id),
                    },
                ),
            )

        # Alert id -> the silence that keeps it out of every case (hub.cases.silenced).
        silence_of = (
            silenced_alerts(session, new, locations, edges, received_at)
            if facts.any_silence
            else {}
        )
        silenced = set(silence_of)
        if retired is not None and retired.kept:
            keep_silent(session, new, retired.kept - silenced, received_at)
            silenced |= retired.kept
        routed = [a for a in new if a.id not in silenced]
        # An incident is one site's (hub.cases.correlation.place_route_key); a contested
        # device's alert is placed where the claiming edge says, and so in its site.
        placed = {a.device_id: (edges.get(a.device_id), locations[a.device_id]) for a in routed}
        placed.update((a.device_id, claimed[a.id]) for a in routed if a.id in claimed)
        sites = self._sites.sites_of(session, placed) if placed else {}
        plan = plan_routes(self._policy.rules, routed, locations, sites)
        # Several hub workers: a device's alerts, and an incident's, take turns across them
        # (hub.cases.ordering); the incidents are locked before it is read which are active.
        lock_take(session, new, incident_lock_keys(self._policy.rules, plan))
        routes, own_routes = self._routes(session, routed, plan, received_at)
        opened: dict[int, CaseRow] = {}
        touched: dict[int, CaseRow] = {}
        case_of: dict[str, int] = {}
        strays: list[Alert] = []
        member_rows = MemberRows(session)
        history = CaseHistory(self._policy)
        merges = CaseMerges()
        join = functools.partial(
            self._join_cases,
            session,
            now=received_at,
            member_rows=member_rows,
            history=history,
            merges=merges,
            claimed=claimed,
        )
        for group, alert_route in _by_route([a for a in new if a.id not in silenced], routes):
            joined = join(alert_route, group, attached=own_routes, strays=strays)
            for alert, row, was_opened in joined:
                if row is None:
                    continue
                case_of[alert.id] = row.id
                (opened if was_opened else touched)[row.id] = row
        # An alert meant to join an incident that was resolved after it was routed (a press at
        # the instant its fire case is resolved) goes its own way instead: rare, never lost.
        for group, alert_route in _by_route(strays, own_routes):
            joined = join(alert_route, group)
            for alert, row, was_opened in joined:
                if row is not None:
                    case_of[alert.id] = row.id
                    (opened if was_opened else touched)[row.id] = row
        member_rows.write()
        # Each alert with its case, in one statement: not inserted first and updated after
        # (every alert's row written twice, its foreign keys checked twice).
        rows = {**touched, **opened}
        cases = {alert_id: rows[case_id] for alert_id, case_id in case_of.items()}
        # What a raised alert looks for to adopt (clearances handled before it), read by the
        # same statement on PostgreSQL.
        search = stray_search(new, cases)
        stored, carried = store_new_alerts(
            session,
            new,
            case_of,
            locations,
            received_at,
            stray_read(session, search),
            silence_of,
        )
        adopt_stray_clearances(
            session, history, member_rows, new, cases, received_at, search, carried
        )
        # Every member row of these cases was read with them or made here.
        case_ids = [*opened, *touched]
        case_members = member_rows.of(case_ids)
        # Nothing reads the cases, their members or the history lines after this: on
        # PostgreSQL they all go with the transaction's last statement, the audit trail's
        # (hub.persistence.bulk).
        carry_counts(session)
        history.write(session, last=True)
        session.flush()

        return IngestResult(
            new=[alert_view_of(alert, stored[alert.id]) for alert in new],
            duplicates=duplicates,
            rejected=rejected,
            cases_opened=[
                case_view(row, locations.get(row.device_id), case_members[row.id])
                for row in opened.values()
            ]
            + conflicts.cases_opened,
            cases_updated=[
                case_view(row, locations.get(row.device_id), case_members[row.id])
                for case_id, row in touched.items()
                if case_id not in opened
            ]
            # Cases taken into one opened here: closed, their members gone with them.
            + [case_view(row, location, []) for row, location in merges.closed.values()]
            + conflicts.cases_updated,
            cases_merged_into=sorted(merges.took_in),
            silenced=[a.id for a in new if a.id in silenced],
            renamed=copies.renamed,
        )

    @staticmethod
    def _adopt(
        session: Session,
        alerts: Sequence[Alert],
        locations: dict[str, str],
        edges: dict[str, str | None],
        received_at: datetime,
    ) -> tuple[dict[str, str], dict[str, str | None]]:
        """Register the devices of an edge's alerts that nobody registered, where an alert
        says what its device is (``hub.fleet.rules.adopted_device``): refused, a fire about a
        device whose inventory the hub missed would be lost. Return the take's places and
        edges with them."""
        strangers = [a for a in alerts if a.device_id not in locations]
        if not strangers:
            return locations, edges
        adopted = adopt_unknown(session, strangers, received_at)
        # Its own edge's, unless another worker registered it elsewhere meanwhile (then it is
        # refused, as before; the edge's next status makes the claim).
        ours = {
            a.device_id: adopted[a.device_id]
            for a in strangers
            if a.device_id in adopted and adopted[a.device_id][1] == a.edge_id
        }
        return (
            {**locations, **{device_id: place for device_id, (place, _) in ours.items()}},
            {**edges, **{device_id: edge for device_id, (_, edge) in ours.items()}},
        )

    @staticmethod
    def _routes(
        session: Session, alerts: Sequence[Alert], plan: BatchRoutes, received_at: datetime
    ) -> tuple[dict[str, Route], dict[str, Route]]:
        """Return each alert's incident — its own rule's, or an active one it attaches to —
        and, for those that attach, their own route (``hub.cases.correlation``)."""
        wanted = plan.candidate_keys
        if not wanted:
            return plan.own, {}
        last_alert_at = {
            key: last
            for key, last in session.execute(_LAST_ALERT_AT, {"keys": sorted(wanted)})
            if key is not None
        }
        return attach_routes(plan, alerts, last_alert_at, received_at)

    def _insert_case(
        self,
        session: Session,
        alert_route: Route,
        alert: Alert,
        decision: OpenNewCase,
        claimed: tuple[str, str] | None = None,
    ) -> CaseRow | None:
        site, grid = placement(session, alert.device_id, claimed)
        row = session.scalars(
            upsert_insert(session, CaseRow)
            .values(
                status=CaseStatus.OPEN.value,
                kind=alert.kind.value,
                priority=decision.priority.value,
                opened_at=decision.opened_at,
                updated_at=decision.opened_at,
                last_alert_at=decision.last_alert_at,
                alert_count=1,
                device_id=alert.device_id,
                open_key=alert_route.key,
                correlation_key=alert_route.key,
                category=alert_route.category.value,
                rule=alert_route.rule,
                place=alert_route.place,
                declined=[],
                team=[],
                escalation_level=0,
                site_id=None if site is None else site.id,
                grid_id=None if grid is None else grid.id,
                street=None if site is None else site.street,
                district=None if site is None else site.district,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(CaseRow)  # the row itself: no read of it after
        ).one_or_none()
        return cast(CaseRow | None, row)

    def _reopen_case(
        self, session: Session, row: CaseRow, key: str, decision: ReopenCase, now: datetime
    ) -> bool:
        """Make a resolved case active again; False if another case holds the key by now."""
        try:
            with session.begin_nested():
                row.status = CaseStatus.OPEN.value
                row.open_key = key
                row.resolution = None
                row.resolved_at = None
                cancel_acceptances(session, row, team_of(row.team), (), now)
                store_team(row, ())
                row.acknowledged_at = None
                row.declined = []
                row.priority = decision.updated.priority.value
                row.alert_count = decision.updated.alert_count
                row.last_alert_at = decision.updated.last_alert_at
                row.updated_at = now
                session.flush()
        except IntegrityError:
            # A worker whose clock put the recurrence outside the window opened a new case.
            return False
        return True

    def _join_cases(
        self,
        session: Session,
        alert_route: Route,
        alerts: list[Alert],
        now: datetime,
        member_rows: MemberRows,
        history: CaseHistory,
        merges: CaseMerges,
        *,
        attached: Mapping[str, Route] | None = None,
        strays: list[Alert] | None = None,
        claimed: Mapping[str, tuple[str, str]] | None = None,
    ) -> Iterator[tuple[Alert, CaseRow | None, bool]]:
        """Apply the case decision to each new alert of one incident, in order.

        Alerts in ``attached`` were routed here to join the incident's active case; they come
        after the incident's own alerts, and if there is no active case (it was resolved
        since they were routed) they are put in ``strays`` instead of opening one here.
        """
        key = alert_route.key
        attached = attached or {}
        alerts = sorted(alerts, key=lambda a: a.id in attached)  # stable: own alerts first
        reopen_within = (
            self._policy.reopen_within
            if alert_route.reopen_within_s is None
            else timedelta(seconds=alert_route.reopen_within_s)
        )
        row = locked_open_case(session, key, member_rows)
        opened_here = False
        for alert in alerts:
            if alert.id in attached and row is None:
                assert strays is not None
                strays.append(alert)
                continue
            incoming = IncomingAlert(
                state=alert.state, severity=alert.severity, ts=correlation_time(alert.ts, now)
            )
            for _attempt in range(_MAX_OPEN_ATTEMPTS):
                resolved = None
                if row is None and alert.state is AlertState.RAISED:
                    resolved = locked_resolved_case(session, key)
                decision = decide(
                    incoming,
                    open_state(row),
                    now,
                    recently_resolved=resolved_state(resolved),
                    reopen_within=reopen_within,
                )
                if isinstance(decision, OpenNewCase):
                    row = self._insert_case(
                        session, alert_route, alert, decision, (claimed or {}).get(alert.id)
                    )
                    if row is not None:
                        opened_here = True
                        member_rows.opened(row.id)
                        break
                elif isinstance(decision, ReopenCase):
                    assert resolved is not None
                    if self._reopen_case(session, resolved, key, decision, now):
                        row = resolved
                        break
                else:
                    break
                # Another worker opened or reopened this incident and committed first: join it.
                row = locked_open_case(session, key, member_rows)
            else:
                raise RuntimeError(f"could not open or find the case for {key!r}")
            match decision:
                case OpenNewCase():
                    assert row is not None
                    history.write(session)  # the lines before stay before
                    add_event(
                        session,
                        self._policy,
                        row.id,
                        now,
                        CaseEventAction.OPENED,
                        alert.id,
                        detail={"key": key, "category": row.category, "priority": row.priority},
                    )
                    merges.take_in(
                        session, self._policy, row, alert_route, alert, now, member_rows, history
                    )
                    schedule_acknowledgement(session, self._policy, row, now)
                    auto_dispatch(session, self._policy, row, now, placed=True)
                case ReopenCase():
                    assert row is not None
                    history.write(session)
                    add_event(
                        session,
                        self._policy,
                        row.id,
                        now,
                        CaseEventAction.REOPENED,
                        alert.id,
                        note="the problem came back soon after the case was resolved",
                    )
                    row.escalation_level = 0
                    merges.take_in(
                        session, self._policy, row, alert_route, alert, now, member_rows, history
                    )
                    schedule_acknowledgement(session, self._policy, row, now)
                    auto_dispatch(session, self._policy, row, now)
                case AttachToCase(updated=updated, priority_raised=raised):
                    assert row is not None
                    row.priority = updated.priority.value
                    row.alert_count = updated.alert_count
                    row.last_alert_at = updated.last_alert_at
                    row.updated_at = now
                    history.add(session, row.id, now, CaseEventAction.ALERT_ATTACHED, alert.id)
                    if raised:
                        history.add(
                            session,
                            row.id,
                            now,
                            CaseEventAction.PRIORITY_RAISED,
                            alert.id,
                            note=f"priority raised to {updated.priority}",
                        )
                case NoCase():
                    yield alert, None, False
                    continue
            assert row is not None
            member_rows.add(row.id, alert)
            yield alert, row, opened_here


def _sent_as(renamed: Mapping[str, str], stored_id: str) -> dict[str, str]:
    """The audit's word for an alert stored under another id than the edge's: the edge's."""
    sent = renamed.get(stored_id)
    return {} if sent is None else {"sent_as": sent}
