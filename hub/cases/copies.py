"""Which of a take's alerts are copies of alerts stored already, and which only share an id.

An edge sends an alert until the hub acknowledges it, so the hub stores each id once and
acknowledges a copy without storing it again. But an id alone does not make a copy. An edge
installed afresh under the same identity (a new SD card, nothing of its data kept) numbers
its door alarms from 1 again (their ids are derived from the edge, the door and that
number), and a stolen edge could send, first, alerts under ids another edge will use: either
way, a new break-in or fire whose id was taken used to be acknowledged as a copy and lost,
counted only as a duplicate (found by an outside review).

So a stored id is a copy only if the stored alert is the same alert: the same edge, device,
kind and event time. Any other alert under that id is new, and is stored under an id derived
from everything it is (``conflict_id``): a copy of it, sent again, derives the same id and
is found stored. The edge is acknowledged under the id it sent (``IngestResult.renamed``).
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.messages import Alert
from hub.cases.results import AlertRef
from hub.persistence.tables import AlertRow

_NAMESPACE = uuid.UUID("3f0c3b8e-5d0a-4c55-9a7c-2f1e8b6d4a10")


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """What makes a stored alert the alert it is."""

    edge_id: str
    device_id: str
    kind: str
    ts: datetime

    @classmethod
    def of(cls, alert: Alert) -> "StoredAlert":
        """Return what an incoming alert would be, stored."""
        return cls(alert.edge_id, alert.device_id, alert.kind.value, alert.ts)


@dataclass(slots=True)
class Copies:
    """A take's accepted alerts sorted out."""

    new: list[Alert] = field(default_factory=list)
    """To store, each under the id it is stored under (derived for an id taken)."""
    duplicates: list[AlertRef] = field(default_factory=list)
    """Copies of stored alerts (or of one earlier in the take), acknowledged as they are."""
    renamed: dict[str, str] = field(default_factory=dict)
    """The new alerts stored under a derived id: that id → the id the edge sent."""


def conflict_id(alert: Alert) -> str:
    """Return the id an alert is stored under when its own is another alert's."""
    ts = alert.ts.astimezone(UTC).isoformat()
    name = "\x1f".join((alert.edge_id, alert.id, alert.device_id, alert.kind.value, ts))
    return str(uuid.uuid5(_NAMESPACE, name))


def sort_copies(alerts: Sequence[Alert], stored: Mapping[str, StoredAlert]) -> Copies:
    """Sort a take's accepted alerts into new ones and copies (pure).

    ``stored``: the stored alerts among the take's ids and their derived ids (``ids_to_read``).
    Within the take alike: a second copy of an alert is a duplicate, another alert under an
    id the take gave already is stored under its derived id.
    """
    copies = Copies()
    taken = dict(stored)  # and, as the take goes, its own new alerts
    for alert in alerts:
        this = StoredAlert.of(alert)
        key = alert.id
        held = taken.get(key)
        if held is not None and held != this:
            key = conflict_id(alert)  # the id is another alert's
            held = taken.get(key)
        if held is not None:
            copies.duplicates.append(AlertRef.of(alert))
            continue
        taken[key] = this
        if key == alert.id:
            copies.new.append(alert)
        else:
            copies.new.append(alert.model_copy(update={"id": key}))
            copies.renamed[key] = alert.id
    return copies


def ids_to_read(alerts: Sequence[Alert], stored_ids: set[str]) -> list[str]:
    """Return the ids whose stored alerts ``sort_copies`` needs: the take's ids found stored,
    and the ids those alerts would get if they are not the stored ones."""
    taken = [alert for alert in alerts if alert.id in stored_ids]
    return sorted({a.id for a in taken} | {conflict_id(a) for a in taken})


def read_stored(session: Session, ids: Sequence[str]) -> dict[str, StoredAlert]:
    """Read what the stored alerts of ``ids`` are (one statement; only when a take has ids
    stored already: an edge's re-sends, nearly never in a steady stream)."""
    if not ids:
        return {}
    rows = session.execute(
        select(AlertRow.id, AlertRow.edge_id, AlertRow.device_id, AlertRow.kind, AlertRow.ts).where(
            AlertRow.id.in_(ids)
        )
    ).all()
    return {row.id: StoredAlert(row.edge_id, row.device_id, row.kind, row.ts) for row in rows}
