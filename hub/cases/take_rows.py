"""The alerts table as a take of the case intake reads and writes it (``hub.cases.intake``).

Two statements:

* **the take's first read** (``read_take``): its devices' locations and edges, whether any
  silence overlaps its alerts, and which of its alerts are stored already (an edge's re-sent
  copy), in one round trip;
* **its new alerts inserted, each with its case** (``store_new_alerts``), once the cases are
  decided: every row written once, not inserted and then updated with its case (its four
  indexes and two foreign keys paid twice, a third of PostgreSQL's work in a burst's take).
  ``ON CONFLICT DO NOTHING RETURNING id``: a row left out was stored by another hub worker
  after the first read. That worker held the device's turn (``hub.cases.ordering``), so only
  before this take got it; the take then runs again (``StoredMeanwhileError``) and finds the
  copy stored. On SQLite the one writer makes that impossible.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    String,
    Table,
    bindparam,
    exists,
    false,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect, TableValuedAlias

from devices.messages import Alert
from hub.fleet.claims import Registration
from hub.persistence.bulk import Row, insert_new_rows, pg_insert_new_rows_reading
from hub.persistence.json_text import json_text
from hub.persistence.tables import LOCATION_LENGTH, AlertRow, DeviceRow, SilenceRow
from hub.persistence.transactions import clean

_ALERTS = cast(Table, AlertRow.__table__)

SILENCES_BETWEEN = select(SilenceRow).where(
    SilenceRow.starts_at <= bindparam("latest"), SilenceRow.ends_at > bindparam("earliest")
)
"""The silences that overlap the instants from ``earliest`` to ``latest``."""


def _first_read(stored_ids: TableValuedAlias) -> CompoundSelect[Any]:
    return union_all(
        select(
            literal("device"),
            DeviceRow.id,
            DeviceRow.location,
            DeviceRow.edge_id,
            DeviceRow.registered_by,
            DeviceRow.retired_at.is_not(None),
            # Whether any silence overlaps the take's alerts: nearly always none, and then the
            # silences are not read at all.
            exists(SILENCES_BETWEEN),
        ).where(DeviceRow.id.in_(bindparam("device_ids", expanding=True))),
        # The take's ids as one JSON text: hundreds of parameters cost more to bind, send and
        # parse than the lookup itself. ``LIMIT`` the number of ids tells PostgreSQL's planner
        # how many there are (it guesses 100 for a set-returning function): a table without
        # statistics yet, as after a burst, was otherwise read whole, 1.6 ms a take at 10,000
        # alerts (``hub.persistence.bulk`` does the same for its updates).
        select(literal("alert"), AlertRow.id, null(), null(), null(), false(), false()).where(
            AlertRow.id.in_(select(stored_ids.c.value).limit(bindparam("alert_count")))
        ),
    )


# Built once, their values bound at each run: building a statement and its cache key anew for
# every take was about a tenth of a one-alert intake.
_ALERT_IDS = bindparam("alert_ids", type_=String)
_FIRST_READ = {
    "postgresql": _first_read(
        func.json_array_elements_text(sql_cast(_ALERT_IDS, JSON)).table_valued("value")
    ),
    "sqlite": _first_read(func.json_each(_ALERT_IDS).table_valued("value")),
}


@dataclass(frozen=True, slots=True)
class TakeFacts:
    """What the first read of a take found."""

    locations: dict[str, str]
    """Each registered device's location, by id (a device not here is not registered)."""
    edges: dict[str, str | None]
    """Each registered device's edge."""
    registrations: dict[str, Registration]
    """Each registered device's edge, and whether an operator vouched for it."""
    any_silence: bool
    """Whether any silence overlaps the take's alerts."""
    retired: frozenset[str]
    """The take's devices that are retired (``hub.fleet.retirement``): nearly always none."""
    stored: set[str]
    """The ids of the take's alerts that are stored already."""


class StoredMeanwhileError(SQLAlchemyError):
    """A copy of a take's alert was stored by another hub worker after the take read which are
    stored: the take is run again (``CaseIntake.ingest_alerts``), and finds it stored."""


def read_take(session: Session, alerts: Sequence[Alert]) -> TakeFacts:
    """Read what a take needs first about its devices and alerts, in one round trip."""
    # By instant (a naive ts, which only a caller around validation can make, does not
    # compare; the database layer refuses it with a StatementError, as for any column).
    times = [alert.ts for alert in alerts]
    ids = sorted({alert.id for alert in alerts})
    connection = session.connection()
    found = connection.execute(
        _FIRST_READ[connection.dialect.name],
        {
            "device_ids": sorted({alert.device_id for alert in alerts}),
            "alert_ids": json_text(ids),
            "alert_count": len(ids),
            "earliest": min(times, key=datetime.timestamp),
            "latest": max(times, key=datetime.timestamp),
        },
    ).all()
    devices = [row for row in found if row[0] == "device"]
    return TakeFacts(
        locations={device_id: location for _, device_id, location, *_ in devices},
        edges={device_id: edge for _, device_id, _, edge, *_ in devices},
        # A retired device's operator vouched for its old edge, not for where it is now: another
        # edge's alarm about it is a claim taken (a conflict case), not refused and lost.
        registrations={
            device_id: Registration.of(edge, None if retired else by)
            for _, device_id, _, edge, by, retired, _ in devices
        },
        any_silence=any(overlaps for *_, overlaps in devices),
        retired=frozenset(device_id for _, device_id, *_, retired, _ in devices if retired),
        stored={row[1] for row in found if row[0] == "alert"},
    )


def store_new_alerts(
    session: Session,
    alerts: Sequence[Alert],
    case_of: Mapping[str, int],
    locations: Mapping[str, str],
    received_at: datetime,
    read: tuple[str, Row] | None = None,
    silence_of: Mapping[str, int] | None = None,
) -> tuple[dict[str, Row], list[Any] | None]:
    """Insert a take's new alerts, each with its case; return their rows by id, and what
    ``read`` (a one-column SELECT and its parameters, PostgreSQL only) read, run by the same
    statement (None without one).

    ``silence_of``: the silence that kept each silenced alert out of every case, by id
    (``alerts.silence_id``; left out of the INSERT, NULL, when there is none).

    One multi-row INSERT in id order (the order rows are locked in). Raises
    ``StoredMeanwhileError`` if another worker stored one since ``read_take``.
    """
    fresh = {
        alert.id: _row(alert, case_of.get(alert.id), locations, received_at)
        for alert in sorted(alerts, key=lambda a: a.id)
    }
    if silence_of:
        # Only a take a silence touched writes the column (every row of it: one statement
        # has one set of columns); every other take's INSERT stays as it was.
        for alert_id, row in fresh.items():
            row["silence_id"] = silence_of.get(alert_id)
    if not fresh:
        return {}, None
    # No flush first: the cases' and members' counts changed so far are left for the
    # transaction's last statement (``records.carry_counts``); the cases exist already.
    rows = list(fresh.values())
    found: list[Any] | None = None
    with session.no_autoflush:
        if read is None:
            inserted = set(insert_new_rows(session, _ALERTS, "id", rows))
        else:
            keys, found = pg_insert_new_rows_reading(session, _ALERTS, "id", rows, *read)
            inserted = set(keys)
    if len(inserted) != len(fresh):
        raise StoredMeanwhileError(
            f"alerts {sorted(set(fresh) - inserted)} were stored by another worker meanwhile"
        )
    return fresh, found


def _row(
    alert: Alert, case_id: int | None, locations: Mapping[str, str], received_at: datetime
) -> Row:
    """Return the ``alerts`` row of a new alert, as inserted."""
    return {
        "id": alert.id,
        "edge_id": alert.edge_id,
        "device_id": alert.device_id,
        "kind": alert.kind.value,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "ts": alert.ts,
        "detected_at": alert.detected_at,
        "received_at": received_at,
        "location": clean(alert.location or locations[alert.device_id])[:LOCATION_LENGTH],
        "reason": alert.reason.model_dump(mode="json"),
        "case_id": case_id,
    }
