"""Which of a take's new alerts a silence keeps out of every case (``hub.cases.intake``).

A silence (``hub.silences.rules``) keeps what would open or raise a case from doing so. A
clearance does neither: it only ends an alarm. One whose device and kind are a member of an
active case (a smoke case opened before a drill began, its detector clearing during the drill)
reaches that case as it would without the silence, so the case learns its device cleared; one
with no such case has nothing to reach and is silenced as before (stored, audited
``alert_silenced``, no case). A raised alert a silence covers is always silenced, even one
that would only join an active case: the device alarming again during a drill is the drill's.

Read only when a silence overlaps the take (``TakeFacts.any_silence``): nearly never, and
then one query for the silences and, if a covered clearance is among the alerts, one more
for the members of active cases. The silence's id goes with each silenced alert into its row
(``alerts.silence_id``) and its view, so the live panel can show it "on test" without a
query of its own.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from devices.kinds import AlertState
from devices.messages import Alert
from hub.audit.chain import AuditRecord
from hub.cases.take_rows import SILENCES_BETWEEN
from hub.persistence.tables import CaseMemberRow, CaseRow
from hub.persistence.transactions import audit
from hub.silences.repository import silence_from_row
from hub.silences.rules import SilencedAlert, silencing

_ACTIVE_MEMBERS = (
    select(CaseMemberRow.device_id, CaseMemberRow.kind)
    .join(CaseRow, CaseRow.id == CaseMemberRow.case_id)
    .where(
        CaseRow.open_key.is_not(None),
        tuple_(CaseMemberRow.device_id, CaseMemberRow.kind).in_(bindparam("pairs", expanding=True)),
    )
)
"""Which of the (device, kind) pairs are members of an active case."""


def silenced_alerts(
    session: Session,
    alerts: Sequence[Alert],
    locations: Mapping[str, str],
    edges: Mapping[str, str | None],
    now: datetime,
) -> dict[str, int]:
    """Return the silence that keeps each silenced alert out of every case, by alert id,
    auditing each (``alert_silenced``)."""
    if not alerts:
        return {}
    earliest, latest = min(a.ts for a in alerts), max(a.ts for a in alerts)
    silences = [
        silence_from_row(row)
        for row in session.scalars(SILENCES_BETWEEN, {"latest": latest, "earliest": earliest})
    ]
    if not silences:
        return {}
    covered: dict[str, int] = {}
    for alert in alerts:
        facts = SilencedAlert(
            device_id=alert.device_id,
            edge_id=edges.get(alert.device_id),
            location=locations[alert.device_id],
            kind=alert.kind,
            ts=alert.ts,
        )
        silence = silencing(silences, facts)
        if silence is not None:
            covered[alert.id] = silence.id
    cleared = {
        (a.device_id, a.kind.value)
        for a in alerts
        if a.id in covered and a.state is AlertState.CLEARED
    }
    if cleared:
        found = session.execute(_ACTIVE_MEMBERS, {"pairs": sorted(cleared)})
        cased = {(device_id, kind) for device_id, kind in found}
        for alert_id in reaching_their_case(alerts, covered, cased):
            del covered[alert_id]
    for alert in alerts:
        if alert.id in covered:
            audit(session, AuditRecord.silenced(now, alert.id, silence_id=covered[alert.id]))
    return covered


def reaching_their_case(
    alerts: Sequence[Alert], covered: Mapping[str, int], cased: set[tuple[str, str]]
) -> list[str]:
    """Return the ids of the covered clearances that reach their alarm's case: one whose
    (device, kind) is in ``cased`` (a member of an active case), or was raised in this take
    uncovered (raised before the drill, its clearance during it, delivered together after an
    outage: the alarm opens the case the clearance then joins)."""
    raised_here = {
        (a.device_id, a.kind.value)
        for a in alerts
        if a.state is AlertState.RAISED and a.id not in covered
    }
    return [
        a.id
        for a in alerts
        if a.id in covered
        and a.state is AlertState.CLEARED
        and ((a.device_id, a.kind.value) in cased or (a.device_id, a.kind.value) in raised_here)
    ]
