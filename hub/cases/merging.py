"""A case opening takes in the cases that were part of its incident before it: the press
before the fire.

An SOS joins an *active* fire case at its place (``hub.cases.correlation.attach_routes``).
When the press is handled first — a neighbour presses before the detectors trip, or after an
outage the edge sends the critical press ahead of the fire's alerts — it opens an SOS case of
its own, and the fire case opens after it. That fire case then takes the SOS case in, if
``takes_in`` says so (the press is within the rule's window of the fire's first alert, at its
place, and nobody has taken the SOS case on yet):

* the SOS case's members and alerts move to the fire case, which counts them and takes the
  higher priority and escalation level of the two;
* the SOS case is closed, with no resolution (nobody judged it: its alerts are judged with
  the fire), names the case it went into (``merged_into``), and its deadlines are retired;
* each case's history says so (``merged`` and ``merged_in``), and so does the audit trail.

An SOS taken in and the fire after it cannot race: both takes hold the fire incident's lock
(``hub.cases.correlation.incident_lock_keys``), so the one after sees what the first committed.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, Severity
from devices.messages import Alert
from hub.cases.correlation import (
    CorrelationRule,
    Route,
    WaitingCase,
    correlation_time,
    takes_in,
)
from hub.cases.records import CaseHistory, CasePolicy, MemberRows, add_event, store_team
from hub.cases.rules import CaseEventAction, CaseStatus, highest_severity
from hub.cases.timers import retire_timers
from hub.persistence.tables import AlertRow, CaseMemberRow, CaseRow, DeviceRow

_WAITING = (
    select(
        CaseRow.id,
        CaseRow.last_alert_at,
        CaseRow.acknowledged_at,
        CaseMemberRow.kind,
        DeviceRow.location,
    )
    .join(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
    .join(DeviceRow, DeviceRow.id == CaseMemberRow.device_id)
    .where(
        CaseRow.open_key.is_not(None),
        CaseRow.kind.in_(bindparam("kinds", expanding=True)),
        CaseRow.last_alert_at >= bindparam("earliest"),
        CaseRow.last_alert_at <= bindparam("latest"),
        # Places are named within their site: another site's Building 3 is another place.
        CaseRow.site_id.is_not_distinct_from(bindparam("site")),
    )
)
"""Active cases opened by an attach kind, recent enough, of the opening case's site: with
whether a person took them on, each member's kind and its device's location (an SOS case has
one; a site's rule may make more). ``takes_in`` decides."""
_LOCKED = (
    select(CaseRow, DeviceRow.location)
    .join(DeviceRow, DeviceRow.id == CaseRow.device_id, isouter=True)
    .where(
        CaseRow.id.in_(bindparam("ids", expanding=True)),
        CaseRow.open_key.is_not(None),
        CaseRow.acknowledged_at.is_(None),
    )
    .order_by(CaseRow.correlation_key)  # the order case rows are locked in
    .with_for_update(of=CaseRow)
    .execution_options(populate_existing=True)
)
_MEMBERS = select(CaseMemberRow).where(CaseMemberRow.case_id == bindparam("case_id"))


@dataclass(slots=True)
class CaseMerges:
    """The cases one transaction took into others: to report them once it commits."""

    closed: dict[int, tuple[CaseRow, str | None]] = field(default_factory=dict)
    """By id: each case taken in, closed, with its first device's location."""
    took_in: set[int] = field(default_factory=set)
    """Ids of the cases that took others in."""

    def take_in(
        self,
        session: Session,
        policy: CasePolicy,
        row: CaseRow,
        alert_route: Route,
        opening: Alert,
        now: datetime,
        members: MemberRows,
        history: CaseHistory,
    ) -> None:
        """Take into the case just opened (``row``, by ``opening``) the cases that were part
        of its incident before it (see the module)."""
        rule = policy.rules.rule_for(opening.kind)
        if rule is None or not rule.attach or rule.name != alert_route.rule:
            return
        # A case an alert of this very take joined stays apart: its count is not written yet.
        chosen = [
            case_id
            for case_id in _waiting(
                session,
                rule,
                alert_route.place,
                correlation_time(opening.ts, now),
                row.site_id,
            )
            if not members.joined(case_id)
        ]
        if not chosen:
            return
        for taken, location in session.execute(_LOCKED, {"ids": chosen}):
            history.write(session)  # the lines before stay before
            _move(session, policy, taken, row, now, members)
            self.closed[taken.id] = (taken, location)
            self.took_in.add(row.id)


def _waiting(
    session: Session,
    rule: CorrelationRule,
    place: str | None,
    first_alert_at: datetime,
    site_id: str | None,
) -> list[int]:
    """Return the ids of the active cases a case of ``rule`` opening at ``place`` of the site
    ``site_id`` (None: of no site) takes in."""
    window = timedelta(seconds=rule.attach_within_s)
    kinds: dict[int, set[AlertKind]] = defaultdict(set)
    locations: dict[int, set[str]] = defaultdict(set)
    last: dict[int, datetime] = {}
    taken_on: dict[int, bool] = {}
    found = session.execute(
        _WAITING,
        {
            "kinds": sorted(kind.value for kind in rule.attach),
            "earliest": first_alert_at - window,
            "latest": first_alert_at + window,
            "site": site_id,
        },
    )
    for case_id, last_alert_at, acknowledged_at, kind, location in found:
        kinds[case_id].add(AlertKind(kind))
        locations[case_id].add(location)
        last[case_id] = last_alert_at
        taken_on[case_id] = acknowledged_at is not None
    return sorted(
        case_id
        for case_id in last
        if takes_in(
            rule,
            place,
            first_alert_at,
            WaitingCase(
                kinds=frozenset(kinds[case_id]),
                locations=tuple(sorted(locations[case_id])),
                last_alert_at=last[case_id],
                taken_on=taken_on[case_id],
            ),
        )
    )


def _move(
    session: Session,
    policy: CasePolicy,
    taken: CaseRow,
    into: CaseRow,
    now: datetime,
    members: MemberRows,
) -> None:
    """Move a locked case's members and alerts into ``into`` and close it."""
    moved = list(session.scalars(_MEMBERS, {"case_id": taken.id}))
    for member in moved:
        member.case_id = into.id
    members.moved_in(into.id, moved)
    session.execute(update(AlertRow).where(AlertRow.case_id == taken.id).values(case_id=into.id))
    retire_timers(session, taken.id, now)  # the case it went into has its own
    count = taken.alert_count
    into.alert_count += count
    into.last_alert_at = max(into.last_alert_at, taken.last_alert_at)
    into.priority = highest_severity([Severity(into.priority), Severity(taken.priority)]).value
    into.escalation_level = max(into.escalation_level, taken.escalation_level)
    into.updated_at = now
    taken.status = CaseStatus.CLOSED.value
    taken.open_key = None
    taken.merged_into = into.id
    taken.alert_count = 0
    store_team(taken, ())
    taken.updated_at = now
    session.flush()
    add_event(
        session,
        policy,
        taken.id,
        now,
        CaseEventAction.MERGED,
        note=f"part of case {into.id} ({into.rule or into.kind}), which took it in "
        f"with its {count} alert(s)",
        detail={"into": str(into.id)},
    )
    add_event(
        session,
        policy,
        into.id,
        now,
        CaseEventAction.MERGED_IN,
        note=f"took in case {taken.id} ({taken.rule or taken.kind}): {count} alert(s) "
        "handled before this case opened",
        detail={"from": str(taken.id)},
    )
