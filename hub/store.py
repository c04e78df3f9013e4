"""The hub's repository: every read and write of hub records, one transaction per method.

The decisions (does this alert open a case, may this case be acknowledged) live in
``hub.cases``; this module loads the state they need, calls them and stores what they return.
Methods are synchronous: async callers run them with ``asyncio.to_thread``.

Two guarantees hold even when several hub workers share one PostgreSQL database:

* an alert is stored once, whatever the number of copies (its id is the primary key, inserted
  with ``ON CONFLICT DO NOTHING``);
* a (device, kind) has at most one unresolved case (``cases.open_key`` is unique; a worker
  that loses the race to open it attaches to the winner's case instead).

Rows are locked in a fixed order (alerts by id, then cases by open key) so that two workers
with overlapping batches cannot deadlock.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import (
    Alert,
    AlertReason,
    DeviceRegistry,
    EdgeStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.registry import Device
from hub.cases import (
    ACTION_EVENTS,
    AttachToCase,
    CaseAction,
    CaseEventAction,
    CaseStatus,
    IncomingAlert,
    NoCase,
    OpenCaseState,
    OpenNewCase,
    decide,
    open_key,
    transition,
)
from hub.db import (
    LOCATION_LENGTH,
    SQLITE_WRITE_OPTION,
    AlertRow,
    CaseEventRow,
    CaseRow,
    DeviceRow,
    EdgeRow,
    HouseholdDeviceRow,
    HouseholdRow,
)
from hub.errors import InvalidInputError, NotFoundError
from hub.resident import resident_stage, web_device_id
from hub.views import (
    AlertView,
    CaseDetail,
    CaseEventView,
    CaseView,
    DeviceView,
    EdgeView,
    HouseholdView,
    ResidentStatus,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_MAX_OPEN_ATTEMPTS = 3


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AlertRef:
    """Which alert, from which edge, about which device."""

    id: str
    edge_id: str
    device_id: str

    @classmethod
    def of(cls, alert: Alert) -> "AlertRef":
        """Return the reference of an alert."""
        return cls(alert.id, alert.edge_id, alert.device_id)


@dataclass(frozen=True, slots=True)
class RejectedAlert:
    """An alert the hub judged and refused, with the counted reason."""

    alert: AlertRef
    reason: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one batch of alerts did to the database."""

    new: list[AlertView] = field(default_factory=list)
    duplicates: list[AlertRef] = field(default_factory=list)
    rejected: list[RejectedAlert] = field(default_factory=list)
    cases_opened: list[CaseView] = field(default_factory=list)
    cases_updated: list[CaseView] = field(default_factory=list)

    @classmethod
    def merge(cls, results: Iterable["IngestResult"]) -> "IngestResult":
        """Return the results of several transactions as one."""
        merged = cls()
        for result in results:
            merged.new.extend(result.new)
            merged.duplicates.extend(result.duplicates)
            merged.rejected.extend(result.rejected)
            merged.cases_opened.extend(result.cases_opened)
            merged.cases_updated.extend(result.cases_updated)
        return merged

    def ack_ids_by_edge(self) -> dict[str, list[str]]:
        """Return, per edge, the alert ids it may delete from its outbox.

        New and duplicate alerts are committed. Rejected ones are acknowledged too: they were
        judged, logged and counted, and an edge would otherwise re-send them forever.
        """
        acks: dict[str, dict[str, None]] = defaultdict(dict)  # dicts keep order, drop repeats
        refs = [
            *(AlertRef(a.id, a.edge_id, a.device_id) for a in self.new),
            *self.duplicates,
            *(r.alert for r in self.rejected),
        ]
        for ref in refs:
            acks[ref.edge_id][ref.id] = None
        return {edge_id: list(ids) for edge_id, ids in acks.items()}


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """The outcome of registering a device."""

    device: DeviceView
    created: bool
    changed: bool
    edges_affected: frozenset[str]
    """Edges whose DeviceRegistry changed (the old and the new edge of a moved device)."""


def _clean(value: str) -> str:
    """Return free text as every database stores it: PostgreSQL refuses NUL characters."""
    return value.replace("\x00", "")


def _text(value: str | None) -> str | None:
    return None if value is None else _clean(value)


def _storable(device: Device) -> Device:
    return device.model_copy(
        update={"location": _clean(device.location), "zigbee_name": _text(device.zigbee_name)}
    )


def _state_of(row: CaseRow | None) -> OpenCaseState | None:
    if row is None:
        return None
    return OpenCaseState(
        priority=Severity(row.priority),
        alert_count=row.alert_count,
        last_alert_at=row.last_alert_at,
    )


def _device_view(row: DeviceRow) -> DeviceView:
    return DeviceView(
        id=row.id,
        kind=DeviceKind(row.kind),
        location=row.location,
        edge_id=row.edge_id,
        zigbee_name=row.zigbee_name,
        created_at=row.created_at,
        last_seen=row.last_seen,
        last_readings=row.last_readings,
    )


def _alert_view(row: AlertRow) -> AlertView:
    return AlertView.model_validate(
        {
            "id": row.id,
            "edge_id": row.edge_id,
            "device_id": row.device_id,
            "kind": row.kind,
            "state": row.state,
            "severity": row.severity,
            "ts": row.ts,
            "detected_at": row.detected_at,
            "received_at": row.received_at,
            "case_id": row.case_id,
            "location": row.location,
            "reason": AlertReason.model_validate(row.reason),
        }
    )


def _case_view(row: CaseRow, location: str | None) -> CaseView:
    return CaseView.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "kind": row.kind,
            "priority": row.priority,
            "opened_at": row.opened_at,
            "updated_at": row.updated_at,
            "last_alert_at": row.last_alert_at,
            "alert_count": row.alert_count,
            "device_ids": [row.device_id],
            "location": location,
        }
    )


def _event_view(row: CaseEventRow) -> CaseEventView:
    return CaseEventView.model_validate(
        {
            "id": row.id,
            "case_id": row.case_id,
            "ts": row.ts,
            "action": row.action,
            "note": row.note,
            "actor": row.actor,
            "alert_id": row.alert_id,
        }
    )


def _edge_view(row: EdgeRow) -> EdgeView:
    return EdgeView.model_validate(
        {
            "id": row.id,
            "state": row.state,
            "last_seen": row.last_seen,
            "outbox_depth": row.outbox_depth,
            "counters": row.counters,
        }
    )


def _household_view(row: HouseholdRow, device_ids: list[str]) -> HouseholdView:
    return HouseholdView(
        id=row.id,
        name=row.name,
        location=row.location,
        device_ids=device_ids,
        created_at=row.created_at,
    )


def _same_registration(row: DeviceRow, device: Device) -> bool:
    return (row.kind, row.location, row.edge_id, row.zigbee_name) == (
        device.kind.value,
        device.location,
        device.edge_id,
        device.zigbee_name,
    )


class HubStore:
    """Reads and writes hub records; each public method is one transaction."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{SQLITE_WRITE_OPTION: True})
        self._clock = clock
        self._dialect = engine.dialect.name

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _insert(self, table: Any) -> Any:
        # Both dialects spell INSERT ... ON CONFLICT the same way, from different modules.
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"the hub does not support {self._dialect} databases")

    # --- devices -------------------------------------------------------------------------

    def register_device(self, device: Device) -> DeviceChange:
        """Create or update one device registration (the last registration wins)."""
        with self._writing() as session:
            return self._upsert_device(session, device, self._clock())

    def upsert_devices(self, devices: Iterable[Device]) -> frozenset[str]:
        """Create or update registrations; return the edges whose DeviceRegistry changed."""
        with self._writing() as session:
            return self._upsert_many(session, devices, self._clock())

    def _upsert_many(
        self, session: Session, devices: Iterable[Device], now: datetime
    ) -> frozenset[str]:
        edges: set[str] = set()
        for device in sorted(devices, key=lambda d: d.id):
            edges |= self._upsert_device(session, device, now).edges_affected
        return frozenset(edges)

    def _upsert_device(self, session: Session, device: Device, now: datetime) -> DeviceChange:
        device = _storable(device)
        inserted = session.execute(
            self._insert(DeviceRow)
            .values(
                id=device.id,
                kind=device.kind.value,
                location=device.location,
                edge_id=device.edge_id,
                zigbee_name=device.zigbee_name,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(DeviceRow.id)
        ).scalar_one_or_none()
        row = session.scalars(
            select(DeviceRow).where(DeviceRow.id == device.id).with_for_update()
        ).one()
        if inserted is not None:
            edges = frozenset(e for e in (device.edge_id,) if e is not None)
            return DeviceChange(_device_view(row), created=True, changed=True, edges_affected=edges)
        if _same_registration(row, device):
            return DeviceChange(
                _device_view(row), created=False, changed=False, edges_affected=frozenset()
            )
        edges = frozenset(e for e in (row.edge_id, device.edge_id) if e is not None)
        row.kind = device.kind.value
        row.location = device.location
        row.edge_id = device.edge_id
        row.zigbee_name = device.zigbee_name
        session.flush()
        logger.info("device %s re-registered (edge %s)", device.id, device.edge_id)
        return DeviceChange(_device_view(row), created=False, changed=True, edges_affected=edges)

    def list_devices(self, *, edge_id: str | None = None) -> list[DeviceView]:
        """Return registered devices by id, optionally only those of one edge."""
        query = select(DeviceRow).order_by(DeviceRow.id)
        if edge_id is not None:
            query = query.where(DeviceRow.edge_id == edge_id)
        with self._reading() as session:
            return [_device_view(row) for row in session.scalars(query)]

    def device_registry(self, edge_id: str) -> DeviceRegistry:
        """Return the DeviceRegistry to publish to one edge."""
        devices = [view.to_device() for view in self.list_devices(edge_id=edge_id)]
        return DeviceRegistry(edge_id=edge_id, devices=devices)

    def edges_with_devices(self) -> list[str]:
        """Return the ids of edges that serve at least one registered device."""
        query = (
            select(DeviceRow.edge_id)
            .where(DeviceRow.edge_id.is_not(None))
            .distinct()
            .order_by(DeviceRow.edge_id)
        )
        with self._reading() as session:
            return [edge for edge in session.scalars(query) if edge is not None]

    # --- alerts and cases ----------------------------------------------------------------

    def ingest_alerts(self, alerts: Sequence[Alert], received_at: datetime) -> IngestResult:
        """Store a batch of alerts and join each new one to its case, in one transaction."""
        if not alerts:
            return IngestResult()
        with self._writing() as session:
            return self._ingest(session, alerts, received_at)

    def _ingest(
        self, session: Session, alerts: Sequence[Alert], received_at: datetime
    ) -> IngestResult:
        device_ids = {alert.device_id for alert in alerts}
        locations: dict[str, str] = {
            device_id: location
            for device_id, location in session.execute(
                select(DeviceRow.id, DeviceRow.location).where(DeviceRow.id.in_(device_ids))
            )
        }
        rejected = [
            RejectedAlert(AlertRef.of(alert), "unknown_device")
            for alert in alerts
            if alert.device_id not in locations
        ]
        accepted = [alert for alert in alerts if alert.device_id in locations]

        inserted: set[str] = set()
        for alert in sorted(accepted, key=lambda a: a.id):
            new_id = session.execute(
                self._insert(AlertRow)
                .values(
                    id=alert.id,
                    edge_id=alert.edge_id,
                    device_id=alert.device_id,
                    kind=alert.kind.value,
                    state=alert.state.value,
                    severity=alert.severity.value,
                    ts=alert.ts,
                    detected_at=alert.detected_at,
                    received_at=received_at,
                    location=_clean(alert.location or locations[alert.device_id])[:LOCATION_LENGTH],
                    reason=alert.reason.model_dump(mode="json"),
                    case_id=None,
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(AlertRow.id)
            ).scalar_one_or_none()
            if new_id is not None:
                inserted.add(new_id)

        new: list[Alert] = []
        duplicates: list[AlertRef] = []
        for alert in accepted:
            if alert.id in inserted:
                inserted.discard(alert.id)
                new.append(alert)
            else:
                duplicates.append(AlertRef.of(alert))

        by_key: dict[str, list[Alert]] = defaultdict(list)
        for alert in new:
            by_key[open_key(alert.device_id, alert.kind)].append(alert)
        opened: dict[int, CaseRow] = {}
        touched: dict[int, CaseRow] = {}
        case_of: dict[str, int] = {}
        for key in sorted(by_key):
            for alert, row, was_opened in self._join_cases(session, key, by_key[key], received_at):
                if row is None:
                    continue
                case_of[alert.id] = row.id
                (opened if was_opened else touched)[row.id] = row
        by_case: dict[int, list[str]] = defaultdict(list)
        for alert_id, case_id in case_of.items():
            by_case[case_id].append(alert_id)
        for case_id, alert_ids in by_case.items():
            session.execute(
                update(AlertRow).where(AlertRow.id.in_(alert_ids)).values(case_id=case_id)
            )
        session.flush()

        stored = {
            row.id: row
            for row in session.scalars(
                select(AlertRow)
                .where(AlertRow.id.in_([a.id for a in new]))
                .execution_options(populate_existing=True)
            )
        }
        return IngestResult(
            new=[_alert_view(stored[alert.id]) for alert in new],
            duplicates=duplicates,
            rejected=rejected,
            cases_opened=[_case_view(row, locations.get(row.device_id)) for row in opened.values()],
            cases_updated=[
                _case_view(row, locations.get(row.device_id))
                for case_id, row in touched.items()
                if case_id not in opened
            ],
        )

    def _locked_open_case(self, session: Session, key: str) -> CaseRow | None:
        return session.scalars(
            select(CaseRow)
            .where(CaseRow.open_key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def _insert_case(
        self, session: Session, key: str, alert: Alert, decision: OpenNewCase
    ) -> CaseRow | None:
        case_id = session.execute(
            self._insert(CaseRow)
            .values(
                status=CaseStatus.OPEN.value,
                kind=alert.kind.value,
                priority=decision.priority.value,
                opened_at=decision.opened_at,
                updated_at=decision.opened_at,
                last_alert_at=decision.last_alert_at,
                alert_count=1,
                device_id=alert.device_id,
                open_key=key,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(CaseRow.id)
        ).scalar_one_or_none()
        return None if case_id is None else session.get_one(CaseRow, case_id)

    def _join_cases(
        self, session: Session, key: str, alerts: list[Alert], now: datetime
    ) -> Iterator[tuple[Alert, CaseRow | None, bool]]:
        """Apply the case decision to each new alert of one (device, kind), in order."""
        row = self._locked_open_case(session, key)
        opened_here = False
        for alert in alerts:
            incoming = IncomingAlert(state=alert.state, severity=alert.severity, ts=alert.ts)
            for _attempt in range(_MAX_OPEN_ATTEMPTS):
                decision = decide(incoming, _state_of(row), now)
                if not isinstance(decision, OpenNewCase):
                    break
                row = self._insert_case(session, key, alert, decision)
                if row is not None:
                    opened_here = True
                    break
                # Another worker opened this case and committed first: join theirs.
                row = self._locked_open_case(session, key)
            else:
                raise RuntimeError(f"could not open or find the case for {key!r}")
            match decision:
                case OpenNewCase():
                    assert row is not None
                    self._add_event(session, row.id, now, CaseEventAction.OPENED, alert.id)
                case AttachToCase(updated=updated, priority_raised=raised):
                    assert row is not None
                    row.priority = updated.priority.value
                    row.alert_count = updated.alert_count
                    row.last_alert_at = updated.last_alert_at
                    row.updated_at = now
                    self._add_event(session, row.id, now, CaseEventAction.ALERT_ATTACHED, alert.id)
                    if raised:
                        self._add_event(
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
            yield alert, row, opened_here

    def _add_event(
        self,
        session: Session,
        case_id: int,
        now: datetime,
        action: CaseEventAction,
        alert_id: str | None = None,
        *,
        note: str | None = None,
        actor: str | None = None,
    ) -> None:
        session.add(
            CaseEventRow(
                case_id=case_id,
                ts=now,
                action=action.value,
                note=_text(note),
                actor=_text(actor),
                alert_id=alert_id,
            )
        )

    def list_alerts(
        self,
        *,
        device_id: str | None = None,
        kind: AlertKind | None = None,
        case_id: int | None = None,
        limit: int = 100,
    ) -> list[AlertView]:
        """Return alerts, newest event time first."""
        query = select(AlertRow).order_by(AlertRow.ts.desc(), AlertRow.id.desc()).limit(limit)
        if device_id is not None:
            query = query.where(AlertRow.device_id == device_id)
        if kind is not None:
            query = query.where(AlertRow.kind == kind.value)
        if case_id is not None:
            query = query.where(AlertRow.case_id == case_id)
        with self._reading() as session:
            return [_alert_view(row) for row in session.scalars(query)]

    def _cases_query(self) -> Select[CaseRow, str]:
        return select(CaseRow, DeviceRow.location).join(
            DeviceRow, DeviceRow.id == CaseRow.device_id, isouter=True
        )

    def list_cases(self, *, status: CaseStatus | None = None, limit: int = 100) -> list[CaseView]:
        """Return cases, most recently updated first."""
        query = (
            self._cases_query().order_by(CaseRow.updated_at.desc(), CaseRow.id.desc()).limit(limit)
        )
        if status is not None:
            query = query.where(CaseRow.status == status.value)
        with self._reading() as session:
            return [_case_view(row, location) for row, location in session.execute(query)]

    def get_case(self, case_id: int) -> CaseDetail:
        """Return one case with its alerts (oldest first) and history, or raise NotFoundError."""
        with self._reading() as session:
            found = session.execute(self._cases_query().where(CaseRow.id == case_id)).one_or_none()
            if found is None:
                raise NotFoundError(f"case {case_id} does not exist")
            row, location = found
            alerts = session.scalars(
                select(AlertRow)
                .where(AlertRow.case_id == case_id)
                .order_by(AlertRow.ts, AlertRow.id)
            )
            events = session.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case_id)
                .order_by(CaseEventRow.id)
            )
            return CaseDetail(
                **_case_view(row, location).model_dump(),
                alerts=[_alert_view(a) for a in alerts],
                events=[_event_view(e) for e in events],
            )

    def acknowledge(
        self, case_id: int, note: str | None = None, *, actor: str | None = None
    ) -> CaseView:
        """Acknowledge a case: someone has seen it and is on it."""
        return self._act(case_id, CaseAction.ACKNOWLEDGE, note, actor)

    def resolve(self, case_id: int, note: str, *, actor: str | None = None) -> CaseView:
        """Resolve a case; the note saying how is required."""
        if not note.strip():
            raise InvalidInputError("resolving a case needs a note saying how it was resolved")
        return self._act(case_id, CaseAction.RESOLVE, note, actor)

    def _act(
        self, case_id: int, action: CaseAction, note: str | None, actor: str | None
    ) -> CaseView:
        now = self._clock()
        with self._writing() as session:
            found = session.execute(
                self._cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
            ).one_or_none()
            if found is None:
                raise NotFoundError(f"case {case_id} does not exist")
            row, location = found
            status = transition(CaseStatus(row.status), action)
            row.status = status.value
            row.updated_at = now
            if status is CaseStatus.RESOLVED:
                # Frees the (device, kind) key: the next alert opens a new case.
                row.open_key = None
            self._add_event(
                session, row.id, now, ACTION_EVENTS[action], note=note or None, actor=actor
            )
            session.flush()
            return _case_view(row, location)

    def device_edges(self, device_ids: Iterable[str]) -> dict[str, str]:
        """Return the edge serving each of these devices (devices without one are left out)."""
        query = select(DeviceRow.id, DeviceRow.edge_id).where(DeviceRow.id.in_(set(device_ids)))
        with self._reading() as session:
            return {
                device_id: edge_id
                for device_id, edge_id in session.execute(query)
                if edge_id is not None
            }

    # --- households ----------------------------------------------------------------------

    def create_household(
        self, name: str, location: str, device_ids: Iterable[str], token_hash: str
    ) -> HouseholdView:
        """Create a household with its SOS buttons; refuse unknown or already-linked devices."""
        wanted = sorted(set(device_ids))
        with self._writing() as session:
            kinds: dict[str, str] = {
                device_id: kind
                for device_id, kind in session.execute(
                    select(DeviceRow.id, DeviceRow.kind).where(DeviceRow.id.in_(wanted))
                )
            }
            for device_id in wanted:
                if device_id not in kinds:
                    raise InvalidInputError(f"device {device_id} is not registered")
                if kinds[device_id] != DeviceKind.SOS_BUTTON.value:
                    raise InvalidInputError(f"device {device_id} is not an SOS button")
            taken = session.scalars(
                select(HouseholdDeviceRow.device_id).where(HouseholdDeviceRow.device_id.in_(wanted))
            ).all()
            if taken:
                raise InvalidInputError(
                    f"devices already belong to a household: {', '.join(sorted(taken))}"
                )
            row = HouseholdRow(
                name=_clean(name),
                location=_clean(location),
                token_hash=token_hash,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            session.add_all(
                HouseholdDeviceRow(device_id=device_id, household_id=row.id) for device_id in wanted
            )
            session.flush()
            logger.info("household %s created with %d SOS button(s)", row.id, len(wanted))
            return _household_view(row, wanted)

    def list_households(self) -> list[HouseholdView]:
        """Return every household by id, with its SOS buttons."""
        with self._reading() as session:
            buttons = self._buttons(session)
            return [
                _household_view(row, buttons.get(row.id, []))
                for row in session.scalars(select(HouseholdRow).order_by(HouseholdRow.id))
            ]

    def rotate_household_token(self, household_id: int, token_hash: str) -> HouseholdView:
        """Replace a household's token: the old one stops working at once."""
        with self._writing() as session:
            row = session.get(HouseholdRow, household_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"household {household_id} does not exist")
            row.token_hash = token_hash
            session.flush()
            logger.info("household %s has a new access token", household_id)
            return _household_view(row, self._buttons(session, household_id).get(row.id, []))

    def household_by_token(self, token_hash: str) -> HouseholdView:
        """Return the household a token opens, or raise NotFoundError saying nothing more."""
        with self._reading() as session:
            row = session.scalars(
                select(HouseholdRow).where(HouseholdRow.token_hash == token_hash)
            ).one_or_none()
            if row is None:
                raise NotFoundError("not found")
            return _household_view(row, self._buttons(session, row.id).get(row.id, []))

    def household_sos_device(self, household: HouseholdView) -> DeviceView:
        """Return the device a page press is raised on: the first button, or a virtual one.

        The virtual ``household-<id>-web`` button is registered on first use, at the
        household's location, with no edge.
        """
        with self._writing() as session:
            if household.device_ids:
                return _device_view(session.get_one(DeviceRow, household.device_ids[0]))
            device = Device(
                id=web_device_id(household.id),
                kind=DeviceKind.SOS_BUTTON,
                location=household.location,
            )
            return self._upsert_device(session, device, self._clock()).device

    def household_status(self, household: HouseholdView) -> ResidentStatus:
        """Return the stage of the household's most recent SOS case, from the database."""
        device_ids = [*household.device_ids, web_device_id(household.id)]
        query = (
            select(CaseRow.id, CaseRow.status, CaseRow.updated_at)
            .where(CaseRow.kind == AlertKind.SOS.value, CaseRow.device_id.in_(device_ids))
            .order_by(CaseRow.id.desc())
            .limit(1)
        )
        with self._reading() as session:
            found = session.execute(query).one_or_none()
        if found is None:
            return ResidentStatus(stage=resident_stage(None), case_id=None, updated_at=None)
        case_id, status, updated_at = found
        return ResidentStatus(
            stage=resident_stage(CaseStatus(status)), case_id=case_id, updated_at=updated_at
        )

    def _buttons(self, session: Session, household_id: int | None = None) -> dict[int, list[str]]:
        query = select(HouseholdDeviceRow.household_id, HouseholdDeviceRow.device_id).order_by(
            HouseholdDeviceRow.device_id
        )
        if household_id is not None:
            query = query.where(HouseholdDeviceRow.household_id == household_id)
        buttons: dict[int, list[str]] = defaultdict(list)
        for owner, device_id in session.execute(query):
            buttons[owner].append(device_id)
        return buttons

    # --- edges and telemetry -------------------------------------------------------------

    def record_edge_status(self, status: EdgeStatus, received_at: datetime) -> frozenset[str]:
        """Store an edge's status and inventory; return the edges whose registry changed.

        The inventory only adds or updates devices: a device missing from it stays registered.
        """
        with self._writing() as session:
            session.execute(
                self._insert(EdgeRow)
                .values(
                    id=status.edge_id,
                    state=status.state,
                    last_seen=received_at,
                    outbox_depth=status.outbox_depth,
                    counters=dict(status.counters),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            row = session.get_one(EdgeRow, status.edge_id, with_for_update=True)
            row.state = status.state
            row.last_seen = received_at
            row.outbox_depth = status.outbox_depth
            row.counters = dict(status.counters)
            inventory = [
                device
                if device.edge_id is not None
                else device.model_copy(update={"edge_id": status.edge_id})
                for device in status.devices
            ]
            return self._upsert_many(session, inventory, received_at)

    def list_edges(self) -> list[EdgeView]:
        """Return every edge that ever reported, by id."""
        with self._reading() as session:
            return [
                _edge_view(row) for row in session.scalars(select(EdgeRow).order_by(EdgeRow.id))
            ]

    def record_telemetry(self, batch: TelemetryBatch) -> int:
        """Update each known device's last_seen and last readings; return the points applied."""
        points: dict[str, list[TelemetryPoint]] = defaultdict(list)
        for point in batch.points:
            points[point.device_id].append(point)
        applied = 0
        with self._writing() as session:
            rows = session.scalars(
                select(DeviceRow)
                .where(DeviceRow.id.in_(points))
                .order_by(DeviceRow.id)
                .with_for_update()
            )
            for row in rows:
                readings: dict[str, Any] = dict(row.last_readings or {})
                last_seen = row.last_seen
                for point in sorted(points[row.id], key=lambda p: p.ts):
                    if last_seen is not None and point.ts < last_seen:
                        continue  # an older reading arriving late must not win
                    readings.update(point.readings.present())
                    last_seen = point.ts
                    applied += 1
                row.last_readings = readings
                row.last_seen = last_seen
        return applied

    def count_rows(self) -> dict[str, int]:
        """Return the number of rows in each table (for health checks and tests)."""
        tables = {
            "devices": DeviceRow,
            "alerts": AlertRow,
            "cases": CaseRow,
            "case_events": CaseEventRow,
            "edges": EdgeRow,
            "households": HouseholdRow,
            "household_devices": HouseholdDeviceRow,
        }
        with self._reading() as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in tables.items()
            }
