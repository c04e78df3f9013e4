"""Cases the hub raises itself, with no alert behind them: a resident's request, a wellbeing
check. Such a case joins no incident (its correlation key is its own, ``<kind>|<uuid>``), but
is staffed, timed and recorded by the same session-level helpers as every case, so the roster
dispatches it and the supervisor escalates it like any other."""

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from devices.kinds import AlertKind, Severity
from hub.cases.correlation import CaseCategory
from hub.cases.records import CasePolicy, add_event
from hub.cases.rules import CaseEventAction, CaseStatus
from hub.cases.staffing import auto_dispatch
from hub.cases.timers import schedule_acknowledgement
from hub.persistence.tables import LOCATION_LENGTH, CaseRow
from hub.persistence.transactions import clean
from hub.roster.repository import placement


def open_hub_case(
    session: Session,
    policy: CasePolicy,
    *,
    device_id: str,
    kind: AlertKind,
    category: CaseCategory,
    priority: Severity,
    place: str | None,
    now: datetime,
    actor: str | None = None,
    note: str | None = None,
    key: str | None = None,
) -> CaseRow:
    """Open, staff and time a case the hub raises itself (no alert, no incident to join).

    Its open key is ``key``, when one case at a time must stand for something (a device's
    claims: ``hub.fleet.conflicts``), else a key of its own."""
    key = key or f"{kind.value}|{uuid.uuid4().hex}"
    site, grid = placement(session, device_id)
    row = CaseRow(
        status=CaseStatus.OPEN.value,
        kind=kind.value,
        priority=priority.value,
        opened_at=now,
        updated_at=now,
        last_alert_at=now,
        alert_count=0,
        device_id=device_id,
        open_key=key,
        correlation_key=key,
        category=category.value,
        rule=None,
        place=None if place is None else clean(place)[:LOCATION_LENGTH],
        declined=[],
        team=[],
        escalation_level=0,
        site_id=None if site is None else site.id,
        grid_id=None if grid is None else grid.id,
        street=None if site is None else site.street,
        district=None if site is None else site.district,
    )
    session.add(row)
    session.flush()
    add_event(
        session,
        policy,
        row.id,
        now,
        CaseEventAction.OPENED,
        note=note,
        actor=actor,
        detail={"key": key, "category": category.value, "priority": priority.value},
    )
    schedule_acknowledgement(session, policy, row, now)
    auto_dispatch(session, policy, row, now)
    return row
