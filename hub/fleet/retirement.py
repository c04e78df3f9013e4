"""Taking a device out of service, and its return.

A detector replaced, a button taken off a wall, a detector found by its edge and then
registered by an operator under another id: the hub listed each of them for ever, and the
site plan showed them as faults once they fell silent. Retiring one keeps its row (its cases,
alerts and audit entries name it) and takes it out of the device lists, the console's health
list, site plan and map, and its edge's registry: an edge that knew it only from the hub
forgets it. Retiring and the return are on the audit trail.

The rules:

- Refused (409, nothing changed) while it is in an unfinished case (the case is someone's work
  and names it), or is a household's SOS button or a care household's device (their pages and
  the quiet-day watch name it): finish or change those first.
- An alarm about it brings it back, and its case opens as for any device: a fire from a device
  retired by mistake must reach someone, and its case needs its device. Its faults and
  clearances do not (a detector taken off the ceiling reports tamper, then falls silent, and
  its edge may still list it): stored and on the audit trail as silenced, no case. Another
  edge's alarm about it is a claim taken, beside a conflict case, even if an operator vouched
  for its old edge (``hub.cases.take_rows.read_take``): that word was for where it no longer is.
- An operator's registration brings it back. So does an edge's inventory that lists it on
  another edge than the one it was retired from (moved and fitted there); its own edge listing
  it again (a device in that edge's site file) leaves it retired: the operator said so, and the
  site file is the installer's to change.
"""

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.kinds import FAULTS, AlertState
from devices.messages import Alert
from hub.audit.chain import AuditAction, AuditRecord
from hub.cases.rules import CaseStatus
from hub.errors import IllegalTransitionError
from hub.persistence.community import CareDeviceRow
from hub.persistence.tables import CaseMemberRow, CaseRow, DeviceRow, HouseholdDeviceRow
from hub.persistence.transactions import audit, clean_or_none

logger = logging.getLogger(__name__)

FINISHED = (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)
"""The case statuses that are finished; a case in any other still needs its device."""


@dataclass(frozen=True, slots=True)
class RetiredTake:
    """What a take's alerts about retired devices do."""

    back: dict[str, str]
    """Each device they bring back, with its first such alert's id."""
    kept: set[str]
    """The ids of the alerts that are stored as silenced: their devices stay retired."""


def sort_retired(alerts: Sequence[Alert], retired: Collection[str]) -> RetiredTake:
    """Return which of ``alerts`` bring their retired device back, and which are kept silent:
    an alarm raised (any raised alert but a fault) brings it back, and then every alert of it
    in the take is handled as any device's."""
    back: dict[str, str] = {}
    for alert in sorted(alerts, key=lambda a: (a.ts, a.id)):
        if (
            alert.device_id in retired
            and alert.state is AlertState.RAISED
            and alert.kind not in FAULTS
        ):
            back.setdefault(alert.device_id, alert.id)
    kept = {a.id for a in alerts if a.device_id in retired and a.device_id not in back}
    return RetiredTake(back, kept)


@dataclass(frozen=True, slots=True)
class Ties:
    """What still needs a device: its unfinished cases and the households it serves."""

    open_cases: tuple[int, ...] = ()
    households: tuple[int, ...] = ()
    care_households: tuple[int, ...] = ()


class DeviceInUseError(IllegalTransitionError):
    """A device that cannot be retired while something still needs it (HTTP 409)."""


def refusal(device_id: str, ties: Ties) -> str | None:
    """Return why ``device_id`` cannot be retired now, or None if it can."""
    reasons: list[str] = []
    if ties.open_cases:
        cases = ", ".join(f"#{case_id}" for case_id in ties.open_cases)
        reasons.append(f"it is in unfinished case {cases} (resolve it first)")
    if ties.households:
        homes = ", ".join(f"#{home}" for home in ties.households)
        reasons.append(f"it is the SOS button of household {homes} (take it off first)")
    if ties.care_households:
        homes = ", ".join(f"#{home}" for home in ties.care_households)
        reasons.append(f"the quiet-day watch of household {homes} reads it (take it off first)")
    if not reasons:
        return None
    return f"device {device_id} cannot be retired: " + "; ".join(reasons)


def inventory_brings_back(retired_from: str | None, listed_by: str | None) -> bool:
    """Return whether an edge's inventory listing a retired device brings it back: only when
    it lists it on another edge than the one it was retired from."""
    return listed_by is not None and listed_by != retired_from


def ties_of(session: Session, device_id: str) -> Ties:
    """Read what still needs ``device_id``."""
    cases = session.scalars(
        select(CaseRow.id)
        .join(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
        .where(CaseMemberRow.device_id == device_id, CaseRow.status.not_in(FINISHED))
        .distinct()
        .order_by(CaseRow.id)
    )
    households = session.scalars(
        select(HouseholdDeviceRow.household_id).where(HouseholdDeviceRow.device_id == device_id)
    )
    care = session.scalars(
        select(CareDeviceRow.household_id).where(CareDeviceRow.device_id == device_id)
    )
    return Ties(tuple(cases), tuple(sorted(households)), tuple(sorted(care)))


def retire(
    session: Session, row: DeviceRow, now: datetime, *, actor: str | None, reason: str | None
) -> bool:
    """Retire the locked device ``row``, or raise ``DeviceInUseError``; return whether it was
    in service (retiring a retired device again changes nothing)."""
    if row.retired_at is not None:
        return False
    refused = refusal(row.id, ties_of(session, row.id))
    if refused is not None:
        raise DeviceInUseError(refused)
    reason = clean_or_none(reason.strip() if reason else None) or None
    row.retired_at = now
    row.retired_by = actor
    row.retired_reason = reason
    audit(
        session,
        AuditRecord(
            ts=now,
            action=AuditAction.DEVICE_RETIRED,
            actor=actor,
            detail={"device_id": row.id, "edge_id": row.edge_id, "reason": reason},
        ),
    )
    logger.info("device %s retired by %s (edge %s)", row.id, actor, row.edge_id)
    return True


def bring_back(
    session: Session, row: DeviceRow, now: datetime, *, by: str, alert_id: str | None = None
) -> None:
    """Put the retired device ``row`` back in service, saying what brought it back."""
    retired_at = row.retired_at
    assert retired_at is not None, f"device {row.id} is in service"
    row.retired_at = row.retired_by = row.retired_reason = None
    _record_return(session, row.id, retired_at, now, by=by, alert_id=alert_id)


def bring_back_alerted(session: Session, alerted: Mapping[str, str], now: datetime) -> None:
    """Put back in service the retired devices of a take's alerts: ``alerted`` maps each
    device read as retired to its first alert (what brought it back). Locked in id order and
    read again: another hub worker may have brought it back meanwhile."""
    if not alerted:
        return
    rows = session.scalars(
        select(DeviceRow)
        .where(DeviceRow.id.in_(sorted(alerted)), DeviceRow.retired_at.is_not(None))
        .order_by(DeviceRow.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    for row in rows:
        bring_back(session, row, now, by="alert", alert_id=alerted[row.id])


def keep_silent(
    session: Session, alerts: Sequence[Alert], kept: Collection[str], now: datetime
) -> None:
    """Record on the audit trail that the ``kept`` alerts of a take are silenced: their devices
    are retired."""
    for alert in alerts:
        if alert.id in kept:
            audit(session, AuditRecord.silenced(now, alert.id, retired_device=alert.device_id))


def _record_return(
    session: Session,
    device_id: str,
    retired_at: datetime,
    now: datetime,
    *,
    by: str,
    alert_id: str | None,
) -> None:
    audit(
        session,
        AuditRecord(
            ts=now,
            action=AuditAction.DEVICE_RETURNED,
            alert_id=alert_id,
            detail={
                "device_id": device_id,
                "by": by,
                "retired_at": retired_at.astimezone(UTC).isoformat(),
            },
        ),
    )
    logger.warning("retired device %s is back in service: %s", device_id, by)
