"""Claims recorded and reported: ``device_claims`` rows and the ``device_claim_conflict`` case.

Runs inside the caller's transaction (the alert intake's, a status's, a registration's), so a
claim is recorded with the alert or the inventory that made it, or not at all. The rules are
``hub.fleet.claims``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, Severity
from hub.cases.correlation import CaseCategory
from hub.cases.raised import open_hub_case
from hub.cases.records import CasePolicy, add_event, case_view
from hub.cases.results import IngestResult
from hub.cases.rules import CaseEventAction
from hub.fleet.claims import Claim, claim_note, conflict_key, conflict_priority, worth_a_line
from hub.persistence.tables import CaseRow, DeviceClaimRow, DeviceRow


@dataclass(frozen=True, slots=True)
class ConflictCase:
    """A conflict case a batch of claims opened or added to."""

    row: CaseRow
    opened: bool


def record_claims(
    session: Session, policy: CasePolicy, claims: Sequence[Claim], now: datetime
) -> list[ConflictCase]:
    """Record each claim, and report on its device's conflict case what an operator must hear
    of (``claims.worth_a_line``); return the cases opened or added to, each once."""
    cases: dict[int, ConflictCase] = {}
    for claim in sorted(claims, key=lambda c: (c.device_id, c.edge_id)):
        # Autoflushed first: a second claim of one edge in a batch finds the row the first made.
        row = session.get(DeviceClaimRow, (claim.device_id, claim.edge_id))
        new = row is None
        if row is None:
            row = DeviceClaimRow(
                device_id=claim.device_id,
                edge_id=claim.edge_id,
                first_at=now,
                last_at=now,
                location=claim.location,
                alerts=0,
            )
            session.add(row)
        row.last_at = max(row.last_at, now)
        if claim.location is not None:
            row.location = claim.location
        if claim.alert is not None:
            row.alerts += 1
        if not worth_a_line(claim, new=new):
            continue
        case = _conflict_case(session, policy, claim, now, cases)
        row.case_id = case.row.id
        cases[case.row.id] = case
        add_event(
            session,
            policy,
            case.row.id,
            now,
            CaseEventAction.CLAIMED,
            None if claim.alert is None else claim.alert.id,
            note=claim_note(claim),
            detail={"device_id": claim.device_id, "edge_id": claim.edge_id, "owner": claim.owner},
        )
    return list(cases.values())


def _conflict_case(
    session: Session,
    policy: CasePolicy,
    claim: Claim,
    now: datetime,
    seen: dict[int, ConflictCase],
) -> ConflictCase:
    """Return the device's open conflict case, its priority raised if the claim needs it, or
    open one."""
    priority = conflict_priority(claim)
    key = conflict_key(claim.device_id)
    row = session.scalars(select(CaseRow).where(CaseRow.open_key == key)).first()
    if row is None:
        device = session.get_one(DeviceRow, claim.device_id)
        row = open_hub_case(
            session,
            policy,
            device_id=claim.device_id,
            kind=AlertKind.DEVICE_CLAIM_CONFLICT,
            category=CaseCategory.SECURITY,
            priority=priority,
            place=device.location,
            now=now,
            key=key,
        )
        return ConflictCase(row, opened=True)
    if priority.rank < Severity(row.priority).rank:
        row.priority = priority.value
        row.updated_at = now
        add_event(
            session,
            policy,
            row.id,
            now,
            CaseEventAction.PRIORITY_RAISED,
            None if claim.alert is None else claim.alert.id,
            note=f"priority raised to {priority.value}",
        )
    return ConflictCase(row, opened=row.id in seen and seen[row.id].opened)


def reported(session: Session, conflicts: Sequence[ConflictCase]) -> IngestResult:
    """The conflict cases as the ingest reports them (opened, or added to; no alerts), each
    shown at its device's registered place."""
    views = [
        (case_view(c.row, session.get_one(DeviceRow, c.row.device_id).location, []), c.opened)
        for c in conflicts
    ]
    return IngestResult(
        cases_opened=[view for view, opened in views if opened],
        cases_updated=[view for view, opened in views if not opened],
    )


def claimed_places(session: Session, claims: Sequence[Claim]) -> dict[str, tuple[str, str]]:
    """Return, for each alert taken from an edge that claims another edge's device, that edge
    and where it says the device is (its inventory's place, else the alert's own), by alert
    id: the alert is cased there. An alert whose edge never said where is left out (cased at
    the registered place). Run after ``record_claims``, which holds the rows it reads."""
    places: dict[str, tuple[str, str]] = {}
    for claim in claims:
        if claim.alert is None or claim.refused:
            continue
        row = session.get(DeviceClaimRow, (claim.device_id, claim.edge_id))
        location = (row.location if row is not None else None) or claim.alert.location
        if location:
            places[claim.alert.id] = (claim.edge_id, location)
    return places


def settle_claims(session: Session, device_id: str) -> None:
    """Forget the claims on a device an operator has just registered: from now on, an edge that
    still speaks for it makes a new claim, reported again."""
    session.execute(delete(DeviceClaimRow).where(DeviceClaimRow.device_id == device_id))
