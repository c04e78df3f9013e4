"""The hub's repository: every read and write of hub records, one transaction per method.

The decisions (does this alert open a case, may this case be acknowledged) live in
``hub.cases``; this module loads the state they need, calls them and stores what they return.
Methods are synchronous: async callers run them with ``asyncio.to_thread``.

Two guarantees hold even when several hub workers share one PostgreSQL database:

* an alert is stored once, whatever the number of copies (its id is the primary key, inserted
  with ``ON CONFLICT DO NOTHING``);
* an incident (a correlation key, ``hub.correlation``) has at most one active case
  (``cases.open_key`` is unique; a worker that loses the race to open or reopen it attaches
  to the winner's case instead);
* every stored alert, case decision and human action is appended to the hash-chained audit
  trail (``hub.audit``) in the same transaction, after locking the chain head.

Rows are locked in a fixed order (alerts by id, then cases by correlation key, the audit head
last) so that two workers with overlapping batches cannot deadlock.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, func, insert, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import (
    Alert,
    AlertReason,
    DeviceRegistry,
    EdgeStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.registry import Device
from hub.audit.chain import AuditAction, AuditEntry, AuditRecord, ChainVerdict, ChainVerifier, chain
from hub.audit.views import AuditEntryView
from hub.auth.scoping import PlacedDevice, SiteMap, site_of_household, site_of_silence
from hub.cases.correlation import (
    DEFAULT_RULES,
    CaseCategory,
    CorrelationRules,
    Route,
    attach_targets,
    route,
)
from hub.cases.dispatch import (
    Assignment,
    Duty,
    Team,
    accepted,
    answering,
    duty_for,
    fill_team,
    handing_over,
    member,
    ordered,
    pending,
    team_status,
    without,
)
from hub.cases.notify import NOTIFIED_EVENTS, CaseNotice, Channel, next_attempt, notice_topic
from hub.cases.rules import (
    ACKNOWLEDGING,
    ACTION_EVENTS,
    AttachToCase,
    CaseAction,
    CaseEventAction,
    CaseStatus,
    IncomingAlert,
    NoCase,
    OpenCaseState,
    OpenNewCase,
    ReopenCase,
    Resolution,
    ResolvedCaseState,
    allowed_actions,
    decide,
    nuisance_rate,
    transition,
)
from hub.cases.supervision import (
    DEFAULT_POLICY,
    Escalate,
    Reassign,
    Satisfied,
    SupervisedCase,
    SupervisionPolicy,
    Timer,
    TimerKind,
    accept_timer,
    acknowledge_timer,
    escalate_unassignable,
    on_timer,
)
from hub.cases.views import AlertView, CaseDetail, CaseEventView, CaseMemberView, CaseView
from hub.errors import (
    HubStartupError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from hub.fleet.views import DeviceView, EdgeView
from hub.persistence.engine import SQLITE_WRITE_OPTION, create_hub_engine
from hub.persistence.tables import (
    ID_LENGTH,
    LOCATION_LENGTH,
    AlertRow,
    AuditEntryRow,
    AuditHeadRow,
    CaseEventRow,
    CaseMemberRow,
    CaseRow,
    CaseTimerRow,
    DeviceRow,
    EdgeRow,
    GridRow,
    HouseholdDeviceRow,
    HouseholdRow,
    NotificationRow,
    ResponderRow,
    SilenceRow,
    SiteRow,
)
from hub.residents.rules import resident_stage, web_device_id
from hub.residents.views import HouseholdView, ResidentStatus
from hub.roster.rules import Grid, Responder, Site, grid_of_place, site_of_edge
from hub.settings import HubSettings
from hub.silences.rules import Silence, SilencedAlert, SilenceScope, silencing
from hub.silences.views import SilenceView

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_MAX_OPEN_ATTEMPTS = 3
_AUDIT_KEY = "linli_audit"
"""Key in ``Session.info`` of the audit records a transaction appends when it commits."""
_AUDIT_HEAD_ID = 1
MAX_SILENCE = timedelta(days=31)
DEFAULT_REOPEN_WITHIN = timedelta(minutes=30)
"""A problem that comes back this soon after its case was resolved reopens that case."""


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
    silenced: list[str] = field(default_factory=list)
    """Ids of new alerts a silence covered: stored and audited, no case."""

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
            merged.silenced.extend(result.silenced)
        return merged

    def cases_joined_by(self, kinds: frozenset[AlertKind]) -> list[CaseView]:
        """Return the opened or updated cases that a new alert of one of ``kinds`` joined.

        An SOS that joins a fire case is news for that button even though the case is not new.
        """
        case_ids = {a.case_id for a in self.new if a.kind in kinds and a.case_id is not None}
        return [c for c in (*self.cases_opened, *self.cases_updated) if c.id in case_ids]

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
class ClaimedNotice:
    """A notice a worker holds for delivery."""

    id: int
    channel: Channel
    target: str
    """The webhook URL, or the MQTT topic."""
    payload: dict[str, Any]


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


def _resolved_state_of(row: CaseRow | None) -> ResolvedCaseState | None:
    if row is None or row.resolved_at is None:
        return None
    return ResolvedCaseState(
        priority=Severity(row.priority),
        alert_count=row.alert_count,
        last_alert_at=row.last_alert_at,
        resolved_at=row.resolved_at,
    )


def _device_view(row: DeviceRow, resolutions: dict[Resolution, int] | None = None) -> DeviceView:
    judged = resolutions or {}
    return DeviceView(
        id=row.id,
        kind=DeviceKind(row.kind),
        location=row.location,
        edge_id=row.edge_id,
        zigbee_name=row.zigbee_name,
        created_at=row.created_at,
        last_seen=row.last_seen,
        last_readings=row.last_readings,
        case_resolutions=judged,
        nuisance_rate=nuisance_rate(judged),
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


def _team(stored: Iterable[Mapping[str, Any]] | None) -> Team:
    """Return a case's team as its row stores it."""
    return tuple(Assignment.from_json(a) for a in stored or ())


def _set_team(row: CaseRow, team: Team) -> None:
    """Store a case's team; its lead member (first duty) is the case's ``assignee``."""
    row.team = [a.to_json() for a in team]
    row.assignee = team[0].responder if team else None


def _case_view(row: CaseRow, location: str | None, members: Sequence[CaseMemberRow]) -> CaseView:
    team = _team(row.team)
    by_time = sorted(members, key=lambda m: (m.first_alert_at, m.device_id, m.kind))
    device_ids = list(dict.fromkeys(m.device_id for m in by_time)) or [row.device_id]
    kinds = list(dict.fromkeys(m.kind for m in by_time)) or [row.kind]
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
            "device_ids": device_ids,
            "location": location,
            "category": row.category,
            "rule": row.rule,
            "place": row.place,
            "kinds": kinds,
            "members": [
                CaseMemberView.model_validate(
                    {
                        "device_id": m.device_id,
                        "kind": m.kind,
                        "alert_count": m.alert_count,
                        "first_alert_at": m.first_alert_at,
                        "last_alert_at": m.last_alert_at,
                    }
                )
                for m in by_time
            ],
            "assignee": row.assignee,
            "team": [
                {"duty": a.duty, "responder": a.responder, "accepted": a.accepted} for a in team
            ],
            "resolution": row.resolution,
            "resolved_at": row.resolved_at,
            "acknowledged_at": row.acknowledged_at,
            "escalation_level": row.escalation_level,
            "site_id": row.site_id,
            "grid_id": row.grid_id,
            "actions": allowed_actions(CaseStatus(row.status), waiting=bool(pending(team))),
        }
    )


def _audit_view(row: AuditEntryRow) -> AuditEntryView:
    return AuditEntryView.model_validate(
        {
            "seq": row.seq,
            "ts": row.ts,
            "action": row.action,
            "case_id": row.case_id,
            "alert_id": row.alert_id,
            "actor": row.actor,
            "detail": row.detail,
            "prev_hash": row.prev_hash,
            "hash": row.hash,
        }
    )


def _audit_entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        ts=row.ts,
        action=row.action,
        case_id=row.case_id,
        alert_id=row.alert_id,
        actor=row.actor,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
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


def append_audit(session: Session, records: list[AuditRecord]) -> None:
    """Chain ``records`` onto the audit trail inside ``session``'s transaction.

    Call it last in the transaction: the chain head is then the last lock it takes.
    """
    if not records:
        return
    # The row lock makes appends from several hub workers take turns (SQLite's writers
    # already do): each sees the head the previous one committed, so the chain never forks.
    head = session.scalars(
        select(AuditHeadRow)
        .where(AuditHeadRow.id == _AUDIT_HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    entries = chain(records, head.seq, head.hash)
    session.execute(
        insert(AuditEntryRow),
        [
            {
                "seq": e.seq,
                "ts": e.ts,
                "action": e.action,
                "case_id": e.case_id,
                "alert_id": e.alert_id,
                "actor": e.actor,
                "detail": e.detail,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in entries
        ],
    )
    head.seq, head.hash = entries[-1].seq, entries[-1].hash
    session.flush()


class HubStore:
    """Reads and writes hub records; each public method is one transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        rules: CorrelationRules = DEFAULT_RULES,
        reopen_within: timedelta = DEFAULT_REOPEN_WITHIN,
        supervision: SupervisionPolicy = DEFAULT_POLICY,
        notify: Sequence[tuple[Channel, str]] = (),
    ) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{SQLITE_WRITE_OPTION: True})
        self._clock = clock
        self._dialect = engine.dialect.name
        self._rules = rules
        self._reopen_within = reopen_within
        self._policy = supervision
        self._notify = tuple(notify)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session
            # Last, so the chain head is the last lock the transaction takes (no deadlock).
            self._append_audit(session)

    def _audit(self, session: Session, record: AuditRecord) -> None:
        """Queue an audit record; it is chained and stored when the transaction ends."""
        session.info.setdefault(_AUDIT_KEY, []).append(record)

    def _append_audit(self, session: Session) -> None:
        append_audit(session, session.info.pop(_AUDIT_KEY, []))

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
            change = self._upsert_device(session, device, self._clock())
            row = session.get_one(DeviceRow, change.device.id)
            view = _device_view(row, self._resolutions(session, [row.id]).get(row.id))
            return DeviceChange(view, change.created, change.changed, change.edges_affected)

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

    def _device_sites(self, session: Session) -> dict[str, str | None]:
        """Return every device's site id (through its edge, else its grid), or None."""
        return self._site_map(session).device_sites()

    def visible_device_ids(self, sites: frozenset[str]) -> frozenset[str]:
        """Return the devices that belong to one of ``sites``."""
        with self._reading() as session:
            placed = self._device_sites(session)
        return frozenset(d for d, site in placed.items() if site is not None and site in sites)

    def visible_edge_ids(self, sites: frozenset[str]) -> frozenset[str]:
        """Return the edges that serve one of ``sites``."""
        with self._reading() as session:
            rows = session.scalars(select(SiteRow).where(SiteRow.id.in_(sorted(sites))))
            return frozenset(edge for row in rows for edge in _site(row).edge_ids)

    def _site_map(self, session: Session) -> SiteMap:
        return SiteMap(
            sites=tuple(
                _site(row) for row in session.scalars(select(SiteRow).order_by(SiteRow.id))
            ),
            grids=tuple(
                _grid(row) for row in session.scalars(select(GridRow).order_by(GridRow.id))
            ),
            devices=tuple(
                PlacedDevice(id=device_id, edge_id=edge_id, location=location)
                for device_id, edge_id, location in session.execute(
                    select(DeviceRow.id, DeviceRow.edge_id, DeviceRow.location)
                )
            ),
        )

    def site_map(self) -> SiteMap:
        """Return the roster's sites and grids with every device's placement (``hub.scoping``)."""
        with self._reading() as session:
            return self._site_map(session)

    def _household_sites(self, session: Session) -> dict[int, str | None]:
        site_map = self._site_map(session)
        device_sites = site_map.device_sites()
        buttons = self._buttons(session)
        return {
            household_id: site_of_household(
                site_map, location, buttons.get(household_id, []), device_sites
            )
            for household_id, location in session.execute(
                select(HouseholdRow.id, HouseholdRow.location)
            )
        }

    def household_sites(self) -> dict[int, str | None]:
        """Return every household's site id (None: no site), by household id."""
        with self._reading() as session:
            return self._household_sites(session)

    def _silence_sites(self, session: Session) -> dict[int, str | None]:
        site_map = self._site_map(session)
        device_sites = site_map.device_sites()
        return {
            silence_id: site_of_silence(site_map, SilenceScope(scope), target, device_sites)
            for silence_id, scope, target in session.execute(
                select(SilenceRow.id, SilenceRow.scope, SilenceRow.target)
            )
        }

    def silence_sites(self) -> dict[int, str | None]:
        """Return every silence's site id (None: no site), by silence id."""
        with self._reading() as session:
            return self._silence_sites(session)

    def list_devices(
        self, *, edge_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[DeviceView]:
        """Return registered devices by id, optionally only those of one edge or of ``sites``."""
        query = select(DeviceRow).order_by(DeviceRow.id)
        if edge_id is not None:
            query = query.where(DeviceRow.edge_id == edge_id)
        with self._reading() as session:
            rows = list(session.scalars(query))
            if sites is not None:
                placed = self._device_sites(session)
                rows = [r for r in rows if placed.get(r.id) in sites]
            resolutions = self._resolutions(
                session, None if edge_id is None else [r.id for r in rows]
            )
            return [_device_view(row, resolutions.get(row.id)) for row in rows]

    def get_device(self, device_id: str) -> DeviceView:
        """Return one device with its case resolutions and nuisance rate, or raise NotFoundError."""
        with self._reading() as session:
            row = session.get(DeviceRow, device_id)
            if row is None:
                raise NotFoundError(f"device {device_id} is not registered")
            return _device_view(row, self._resolutions(session, [device_id]).get(device_id))

    def _resolutions(
        self, session: Session, device_ids: list[str] | None
    ) -> dict[str, dict[Resolution, int]]:
        """Count, per device, the resolution codes of the cases it took part in."""
        query = (
            select(
                CaseMemberRow.device_id, CaseRow.resolution, func.count(func.distinct(CaseRow.id))
            )
            .join(CaseRow, CaseRow.id == CaseMemberRow.case_id)
            .where(CaseRow.resolution.is_not(None))
            .group_by(CaseMemberRow.device_id, CaseRow.resolution)
        )
        if device_ids is not None:
            query = query.where(CaseMemberRow.device_id.in_(device_ids))
        counts: dict[str, dict[Resolution, int]] = defaultdict(dict)
        for device_id, resolution, count in session.execute(query):
            if resolution is not None:
                counts[device_id][Resolution(resolution)] = count
        return counts

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
        registered = session.execute(
            select(DeviceRow.id, DeviceRow.location, DeviceRow.edge_id).where(
                DeviceRow.id.in_(device_ids)
            )
        ).all()
        locations: dict[str, str] = {device_id: location for device_id, location, _ in registered}
        edges: dict[str, str | None] = {device_id: edge for device_id, _, edge in registered}
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

        for alert in new:
            self._audit(
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
                    },
                ),
            )

        silenced = self._silenced(session, new, locations, edges, received_at)
        routes, own_routes = self._routes(
            session, [a for a in new if a.id not in silenced], locations
        )
        opened: dict[int, CaseRow] = {}
        touched: dict[int, CaseRow] = {}
        case_of: dict[str, int] = {}
        strays: list[Alert] = []
        for group, alert_route in _by_route([a for a in new if a.id not in silenced], routes):
            joined = self._join_cases(
                session, alert_route, group, received_at, attached=own_routes, strays=strays
            )
            for alert, row, was_opened in joined:
                if row is None:
                    continue
                case_of[alert.id] = row.id
                (opened if was_opened else touched)[row.id] = row
        # An alert meant to join an incident that was resolved after it was routed (a press at
        # the instant its fire case is resolved) goes its own way instead: rare, never lost.
        for group, alert_route in _by_route(strays, own_routes):
            joined = self._join_cases(session, alert_route, group, received_at)
            for alert, row, was_opened in joined:
                if row is not None:
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
        members = self._members(session, [*opened, *touched])

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
            cases_opened=[
                _case_view(row, locations.get(row.device_id), members[row.id])
                for row in opened.values()
            ],
            cases_updated=[
                _case_view(row, locations.get(row.device_id), members[row.id])
                for case_id, row in touched.items()
                if case_id not in opened
            ],
            silenced=[a.id for a in new if a.id in silenced],
        )

    def _silenced(
        self,
        session: Session,
        alerts: Sequence[Alert],
        locations: dict[str, str],
        edges: dict[str, str | None],
        now: datetime,
    ) -> set[str]:
        """Return the ids of the alerts a silence covers, auditing each."""
        if not alerts:
            return set()
        earliest, latest = min(a.ts for a in alerts), max(a.ts for a in alerts)
        silences = [
            _silence(row)
            for row in session.scalars(
                select(SilenceRow).where(
                    SilenceRow.starts_at <= latest, SilenceRow.ends_at > earliest
                )
            )
        ]
        if not silences:
            return set()
        silenced: set[str] = set()
        for alert in alerts:
            facts = SilencedAlert(
                device_id=alert.device_id,
                edge_id=edges.get(alert.device_id),
                location=locations[alert.device_id],
                kind=alert.kind,
                ts=alert.ts,
            )
            silence = silencing(silences, facts)
            if silence is None:
                continue
            silenced.add(alert.id)
            self._audit(
                session,
                AuditRecord(
                    ts=now,
                    action=AuditAction.ALERT_SILENCED,
                    alert_id=alert.id,
                    detail={"silence_id": silence.id},
                ),
            )
        return silenced

    def _routes(
        self, session: Session, alerts: Sequence[Alert], locations: dict[str, str]
    ) -> tuple[dict[str, Route], dict[str, Route]]:
        """Return each alert's incident — its own rule's, or an active one it attaches to —
        and, for those that attach, their own route."""
        routes = {
            a.id: route(self._rules, a.device_id, a.kind, locations[a.device_id]) for a in alerts
        }
        targets = {
            a.id: attach_targets(self._rules, a.kind, locations[a.device_id]) for a in alerts
        }
        wanted = {t.route.key for found in targets.values() for t in found}
        own: dict[str, Route] = {}
        if not wanted:
            return routes, own
        # The newest alert time of each candidate incident: active in the database, or
        # about to be opened by this very batch.
        latest: dict[str, datetime] = {
            key: last
            for key, last in session.execute(
                select(CaseRow.open_key, CaseRow.last_alert_at).where(CaseRow.open_key.in_(wanted))
            )
            if key is not None
        }
        for alert in alerts:
            key = routes[alert.id].key
            if key in wanted and alert.state is AlertState.RAISED:
                latest[key] = max(latest.get(key, alert.ts), alert.ts)
        for alert in alerts:
            for target in targets[alert.id]:
                last = latest.get(target.route.key)
                if last is not None and abs(alert.ts - last) <= timedelta(seconds=target.within_s):
                    own[alert.id] = routes[alert.id]
                    routes[alert.id] = target.route
                    break
        return routes, own

    def _members(self, session: Session, case_ids: Iterable[int]) -> dict[int, list[CaseMemberRow]]:
        wanted = set(case_ids)
        members: dict[int, list[CaseMemberRow]] = {case_id: [] for case_id in wanted}
        if wanted:
            for member in session.scalars(
                select(CaseMemberRow).where(CaseMemberRow.case_id.in_(wanted))
            ):
                members[member.case_id].append(member)
        return members

    def _locked_open_case(self, session: Session, key: str) -> CaseRow | None:
        return session.scalars(
            select(CaseRow)
            .where(CaseRow.open_key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def _locked_resolved_case(self, session: Session, key: str) -> CaseRow | None:
        """Return the key's most recently resolved case (not closed), locked, if any."""
        return session.scalars(
            select(CaseRow)
            .where(
                CaseRow.correlation_key == key,
                CaseRow.status == CaseStatus.RESOLVED.value,
                CaseRow.resolved_at.is_not(None),
            )
            .order_by(CaseRow.resolved_at.desc(), CaseRow.id.desc())
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def _insert_case(
        self, session: Session, alert_route: Route, alert: Alert, decision: OpenNewCase
    ) -> CaseRow | None:
        site, grid = self._placement(session, alert.device_id)
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
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(CaseRow.id)
        ).scalar_one_or_none()
        return None if case_id is None else session.get_one(CaseRow, case_id)

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
                self._cancel_acceptances(session, row, _team(row.team), (), now)
                _set_team(row, ())
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
        *,
        attached: Mapping[str, Route] | None = None,
        strays: list[Alert] | None = None,
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
            self._reopen_within
            if alert_route.reopen_within_s is None
            else timedelta(seconds=alert_route.reopen_within_s)
        )
        row = self._locked_open_case(session, key)
        opened_here = False
        for alert in alerts:
            if alert.id in attached and row is None:
                assert strays is not None
                strays.append(alert)
                continue
            incoming = IncomingAlert(state=alert.state, severity=alert.severity, ts=alert.ts)
            for _attempt in range(_MAX_OPEN_ATTEMPTS):
                resolved = None
                if row is None and alert.state is AlertState.RAISED:
                    resolved = self._locked_resolved_case(session, key)
                decision = decide(
                    incoming,
                    _state_of(row),
                    now,
                    recently_resolved=_resolved_state_of(resolved),
                    reopen_within=reopen_within,
                )
                if isinstance(decision, OpenNewCase):
                    row = self._insert_case(session, alert_route, alert, decision)
                    if row is not None:
                        opened_here = True
                        break
                elif isinstance(decision, ReopenCase):
                    assert resolved is not None
                    if self._reopen_case(session, resolved, key, decision, now):
                        row = resolved
                        break
                else:
                    break
                # Another worker opened or reopened this incident and committed first: join it.
                row = self._locked_open_case(session, key)
            else:
                raise RuntimeError(f"could not open or find the case for {key!r}")
            match decision:
                case OpenNewCase():
                    assert row is not None
                    self._add_event(
                        session,
                        row.id,
                        now,
                        CaseEventAction.OPENED,
                        alert.id,
                        detail={"key": key, "category": row.category, "priority": row.priority},
                    )
                    self._schedule_acknowledgement(session, row, now)
                    self._auto_dispatch(session, row, now)
                case ReopenCase():
                    assert row is not None
                    self._add_event(
                        session,
                        row.id,
                        now,
                        CaseEventAction.REOPENED,
                        alert.id,
                        note="the problem came back soon after the case was resolved",
                    )
                    row.escalation_level = 0
                    self._schedule_acknowledgement(session, row, now)
                    self._auto_dispatch(session, row, now)
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
            assert row is not None
            self._add_member(session, row.id, alert)
            yield alert, row, opened_here

    def _add_member(self, session: Session, case_id: int, alert: Alert) -> None:
        # The case row is locked by this transaction: its members cannot change under us. No
        # autoflush: a new member is flushed right below, so the identity map knows them all,
        # and flushing the case's pending changes at every alert of a batch costs ~40 % of
        # ingest throughput.
        with session.no_autoflush:
            member = session.get(CaseMemberRow, (case_id, alert.device_id, alert.kind.value))
        if member is None:
            session.add(
                CaseMemberRow(
                    case_id=case_id,
                    device_id=alert.device_id,
                    kind=alert.kind.value,
                    first_alert_at=alert.ts,
                    last_alert_at=alert.ts,
                    alert_count=1,
                )
            )
            session.flush()
            return
        member.alert_count += 1
        member.first_alert_at = min(member.first_alert_at, alert.ts)
        member.last_alert_at = max(member.last_alert_at, alert.ts)

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
        detail: dict[str, str] | None = None,
    ) -> None:
        note = _text(note)
        actor = None if actor is None else _clean(actor)[:ID_LENGTH]
        session.add(
            CaseEventRow(
                case_id=case_id,
                ts=now,
                action=action.value,
                note=note,
                actor=actor,
                alert_id=alert_id,
            )
        )
        if self._notify and action in NOTIFIED_EVENTS:
            self._enqueue_notices(session, case_id, action, now, note)
        audited = dict(detail or {})
        if note is not None:
            audited["note"] = note
        self._audit(
            session,
            AuditRecord(
                ts=now,
                action=action.value,
                case_id=case_id,
                alert_id=alert_id,
                actor=actor,
                detail=audited,
            ),
        )

    def list_alerts(
        self,
        *,
        device_id: str | None = None,
        kind: AlertKind | None = None,
        case_id: int | None = None,
        limit: int = 100,
        device_ids: frozenset[str] | None = None,
    ) -> list[AlertView]:
        """Return alerts, newest event time first (only of ``device_ids``, if given)."""
        query = select(AlertRow).order_by(AlertRow.ts.desc(), AlertRow.id.desc()).limit(limit)
        if device_ids is not None:
            query = query.where(AlertRow.device_id.in_(sorted(device_ids)))
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

    def list_cases(
        self,
        *,
        status: CaseStatus | None = None,
        limit: int = 100,
        sites: frozenset[str] | None = None,
    ) -> list[CaseView]:
        """Return cases, most recently updated first (only those of ``sites``, if given)."""
        query = (
            self._cases_query().order_by(CaseRow.updated_at.desc(), CaseRow.id.desc()).limit(limit)
        )
        if status is not None:
            query = query.where(CaseRow.status == status.value)
        if sites is not None:
            query = query.where(CaseRow.site_id.in_(sorted(sites)))
        with self._reading() as session:
            found = list(session.execute(query))
            members = self._members(session, [row.id for row, _ in found])
            return [_case_view(row, location, members[row.id]) for row, location in found]

    def case_scope(self, case_id: int) -> tuple[str | None, frozenset[str]] | None:
        """Return a case's site id and the responders on its team, or None if there is no
        such case."""
        with self._reading() as session:
            found = session.execute(
                select(CaseRow.site_id, CaseRow.team).where(CaseRow.id == case_id)
            ).one_or_none()
        if found is None:
            return None
        return found[0], frozenset(a.responder for a in _team(found[1]))

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
            members = self._members(session, [row.id])[row.id]
            return CaseDetail(
                **_case_view(row, location, members).model_dump(),
                alerts=[_alert_view(a) for a in alerts],
                events=[_event_view(e) for e in events],
            )

    def acknowledge(
        self, case_id: int, note: str | None = None, *, actor: str | None = None
    ) -> CaseView:
        """Acknowledge a case: someone has seen it and is on it."""
        return self.act(case_id, CaseAction.ACKNOWLEDGE, note=note, actor=actor)

    def resolve(
        self, case_id: int, note: str, *, resolution: Resolution, actor: str | None = None
    ) -> CaseView:
        """Resolve a case with its resolution code; the note saying how is required."""
        return self.act(case_id, CaseAction.RESOLVE, note=note, actor=actor, resolution=resolution)

    def act(
        self,
        case_id: int,
        action: CaseAction,
        *,
        note: str | None = None,
        actor: str | None = None,
        resolution: Resolution | None = None,
        assignee: str | None = None,
    ) -> CaseView:
        """Apply a person's action to a case, or raise IllegalTransitionError saying why not.

        Resolving needs a resolution code and a note; dispatching needs an assignee.
        """
        if action is CaseAction.RESOLVE:
            if resolution is None:
                raise InvalidInputError(
                    "resolving a case needs a resolution code: "
                    + ", ".join(code.value for code in Resolution)
                )
            if note is None or not note.strip():
                raise InvalidInputError("resolving a case needs a note saying how it was resolved")
        if action is CaseAction.COMMENT and (note is None or not note.strip()):
            raise InvalidInputError("a comment needs a note")
        if action is CaseAction.HAND_OVER and assignee is None:
            raise InvalidInputError("handing a case over needs the responder it goes to")
        if assignee is not None and not assignee.strip():
            raise InvalidInputError("the responder a case goes to cannot be blank")
        now = self._clock()
        with self._writing() as session:
            found = session.execute(
                self._cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
            ).one_or_none()
            if found is None:
                raise NotFoundError(f"case {case_id} does not exist")
            row, location = found
            before = CaseStatus(row.status)
            team = _team(row.team)
            try:
                status = transition(before, action, waiting=bool(pending(team)))
            except IllegalTransitionError as exc:
                raise IllegalTransitionError(f"case {case_id}: {exc}") from exc
            detail: dict[str, str] = {"from": row.status}
            added: list[Assignment] = []
            match action:
                case CaseAction.ACCEPT:
                    answer = answering(team, actor)
                    if answer is None:
                        raise IllegalTransitionError(
                            f"case {case_id}: {actor} has already accepted it"
                        )
                    team = accepted(team, answer)
                    detail["responder"] = answer.responder
                case CaseAction.DECLINE:
                    answer = answering(team, actor)
                    if answer is None:
                        raise IllegalTransitionError(
                            f"case {case_id}: {actor} has accepted it: hand it over instead"
                        )
                    team = without(team, answer)
                    detail["declined_by"] = answer.responder
                    row.declined = sorted({*row.declined, answer.responder})
                case CaseAction.DISPATCH:
                    team, added = self._dispatching(session, row, team, assignee, now)
                case CaseAction.HAND_OVER:
                    assert assignee is not None
                    team, added = self._handing_over(session, row, team, actor, assignee)
                case CaseAction.RESOLVE:
                    assert resolution is not None
                    # Frees the correlation key: the next alert reopens or opens a case.
                    row.open_key = None
                    row.resolution = resolution.value
                    row.resolved_at = now
                    detail["resolution"] = resolution.value
                case CaseAction.REOPEN:
                    if not self._claim_key(session, row):
                        raise IllegalTransitionError(
                            f"case {case_id} cannot be reopened: another case is active for "
                            "the same incident"
                        )
                    team = ()
                    row.acknowledged_at = None
                    row.declined = []
                    row.escalation_level = 0
                case _:
                    pass
            if added:
                detail["assignee"] = ", ".join(a.responder for a in added)
            self._cancel_acceptances(session, row, _team(row.team), team, now)
            _set_team(row, team)
            status = team_status(before, status, team)
            detail["to"] = status.value
            row.status = status.value
            row.updated_at = now
            if action in ACKNOWLEDGING and row.acknowledged_at is None:
                row.acknowledged_at = now
            self._add_event(
                session,
                row.id,
                now,
                ACTION_EVENTS[action],
                note=note or None,
                actor=actor,
                detail=detail,
            )
            for assignment in added:
                self._schedule_acceptance(session, row, assignment.responder, now)
            if action is CaseAction.REOPEN:
                self._schedule_acknowledgement(session, row, now)
            if action in (CaseAction.DECLINE, CaseAction.REOPEN):
                # A decline passes the duty on at once, to the next responder on call.
                self._auto_dispatch(session, row, now)
            session.flush()
            members = self._members(session, [row.id])[row.id]
            return _case_view(row, location, members)

    def _dispatching(
        self, session: Session, row: CaseRow, team: Team, named: str | None, now: datetime
    ) -> tuple[Team, list[Assignment]]:
        """Return the team after an operator's dispatch, and who joined it: the responder
        named (in the duty their role fits, replacing whoever held it), or whoever the rules
        choose for the duties nobody holds."""
        category = CaseCategory(row.category)
        if named is None:
            found = self._fill(session, row, team, now)
            if not found:
                held = ", ".join(a.responder for a in team)
                raise IllegalTransitionError(
                    f"case {row.id}: no responder is on call for it: name one"
                    if not team
                    else f"case {row.id}: nobody else is on call for it (it is with {held}): "
                    "name a responder to send it to"
                )
            added = [Assignment(duty.name, responder.id) for duty, responder in found]
            return ordered(category, (*team, *added)), added
        responder = self._named_responder(session, row, team, named)
        duty = duty_for(category, team, responder.role)
        joined = Assignment(duty, responder.id)
        kept = [a for a in team if a.duty != duty]
        return ordered(category, (*kept, joined)), [joined]

    def _handing_over(
        self, session: Session, row: CaseRow, team: Team, actor: str | None, named: str
    ) -> tuple[Team, list[Assignment]]:
        """Return the team after ``actor`` handed their part of the case (an operator: the
        lead's) to the responder named, and who joined it."""
        responder = self._named_responder(session, row, team, named)
        leaving = handing_over(team, actor)
        duty = (
            leaving.duty
            if leaving is not None
            else duty_for(CaseCategory(row.category), team, responder.role)
        )
        joined = Assignment(duty, responder.id)
        kept = [a for a in team if a != leaving]
        return ordered(CaseCategory(row.category), (*kept, joined)), [joined]

    def _named_responder(self, session: Session, row: CaseRow, team: Team, named: str) -> Responder:
        found = session.get(ResponderRow, named.strip())
        if found is None:
            raise InvalidInputError(f"responder {named.strip()} does not exist")
        responder = _responder(found)
        if row.site_id is not None and responder.site_id != row.site_id:
            raise InvalidInputError(
                f"responder {responder.id} works at site {responder.site_id}, "
                f"not at the case's site {row.site_id}"
            )
        if member(team, responder.id) is not None:
            raise IllegalTransitionError(f"case {row.id}: {responder.id} is already on it")
        return responder

    def _claim_key(self, session: Session, row: CaseRow) -> bool:
        try:
            with session.begin_nested():
                row.open_key = row.correlation_key
                row.resolution = None
                row.resolved_at = None
                session.flush()
        except IntegrityError:
            return False
        return True

    def _placement(self, session: Session, device_id: str) -> tuple[Site | None, Grid | None]:
        """Return the site (through the device's edge) and grid (by its location) of a device."""
        device = session.get(DeviceRow, device_id)
        if device is None:
            return None, None
        sites = [_site(row) for row in session.scalars(select(SiteRow))]
        site = site_of_edge(sites, device.edge_id)
        query = select(GridRow)
        if site is not None:
            query = query.where(GridRow.site_id == site.id)
        grid = grid_of_place([_grid(row) for row in session.scalars(query)], device.location)
        if site is None and grid is not None:
            # A device with no edge (a resident's page) belongs where its place is.
            site = next((s for s in sites if s.id == grid.site_id), None)
        return site, grid

    def _fill(
        self, session: Session, row: CaseRow, team: Team, now: datetime
    ) -> list[tuple[Duty, Responder]]:
        """Return whom the dispatch rules add to the case's team now, one per free duty."""
        if row.site_id is None:
            # Opened before its site was on the roster: place it now.
            site, grid = self._placement(session, row.device_id)
            if site is None:
                return []
            row.site_id, row.grid_id = site.id, None if grid is None else grid.id
        site_row = session.get(SiteRow, row.site_id)
        if site_row is None:
            return []
        responders = [
            _responder(r)
            for r in session.scalars(
                select(ResponderRow).where(ResponderRow.site_id == row.site_id)
            )
        ]
        return fill_team(
            CaseCategory(row.category),
            team,
            row.site_id,
            row.grid_id,
            responders,
            now,
            site_row.timezone,
            declined=row.declined,
        )

    def _auto_dispatch(self, session: Session, row: CaseRow, now: datetime) -> bool:
        """Give each free duty of an active case to the responder the rules choose, if anyone
        is on call; return whether anyone was added."""
        team = _team(row.team)
        found = self._fill(session, row, team, now)
        if not found:
            return False
        before = CaseStatus(row.status)
        moved = transition(before, CaseAction.DISPATCH, waiting=bool(pending(team)))
        added = [Assignment(duty.name, responder.id) for duty, responder in found]
        team = ordered(CaseCategory(row.category), (*team, *added))
        _set_team(row, team)
        status = team_status(before, moved, team)
        row.status = status.value
        row.updated_at = now
        names = ", ".join(
            f"{responder.name} ({responder.role}, {duty.name})" for duty, responder in found
        )
        self._add_event(
            session,
            row.id,
            now,
            CaseEventAction.DISPATCHED,
            note=f"dispatched by the hub to {names}, grid {row.grid_id}",
            detail={
                "from": before.value,
                "to": status.value,
                "assignee": ", ".join(a.responder for a in added),
            },
        )
        for assignment in added:
            self._schedule_acceptance(session, row, assignment.responder, now)
        session.flush()
        return True

    # --- notifications out ---------------------------------------------------------------

    def _enqueue_notices(
        self,
        session: Session,
        case_id: int,
        action: CaseEventAction,
        now: datetime,
        note: str | None,
    ) -> None:
        session.flush()  # the case row and its members as they are now
        row = session.get_one(CaseRow, case_id)
        kinds = session.scalars(
            select(CaseMemberRow.kind)
            .where(CaseMemberRow.case_id == case_id)
            .order_by(CaseMemberRow.first_alert_at, CaseMemberRow.kind)
        ).all()
        notice = CaseNotice(
            event=action,
            ts=now,
            case_id=case_id,
            status=row.status,
            category=row.category,
            priority=row.priority,
            place=row.place,
            kinds=list(dict.fromkeys(kinds)) or [row.kind],
            assignee=row.assignee,
            team=[a.responder for a in _team(row.team)],
            escalation_level=row.escalation_level,
            note=note,
        )
        payload = notice.model_dump(mode="json")
        for channel, target in self._notify:
            session.add(
                NotificationRow(
                    case_id=case_id,
                    channel=channel.value,
                    target=notice_topic(notice) if channel is Channel.MQTT else target,
                    payload=payload,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
            )

    def claim_notifications(
        self, now: datetime, *, limit: int = 50, lease: timedelta = timedelta(seconds=30)
    ) -> list[ClaimedNotice]:
        """Claim due notices for delivery (oldest first); another worker will not take them
        until the lease runs out."""
        with self._writing() as session:
            due = session.scalars(
                select(NotificationRow.id)
                .where(
                    NotificationRow.next_attempt_at <= now,
                    (NotificationRow.claimed_until.is_(None))
                    | (NotificationRow.claimed_until <= now),
                )
                .order_by(NotificationRow.id)
                .limit(limit)
            ).all()
            claimed: list[ClaimedNotice] = []
            for notice_id in due:
                won = session.execute(
                    update(NotificationRow)
                    .where(
                        NotificationRow.id == notice_id,
                        NotificationRow.next_attempt_at.is_not(None),
                        (NotificationRow.claimed_until.is_(None))
                        | (NotificationRow.claimed_until <= now),
                    )
                    .values(claimed_until=now + lease, attempts=NotificationRow.attempts + 1)
                    .returning(
                        NotificationRow.channel, NotificationRow.target, NotificationRow.payload
                    )
                ).one_or_none()
                if won is not None:
                    channel, target, payload = won
                    claimed.append(ClaimedNotice(notice_id, Channel(channel), target, payload))
            return claimed

    def finish_notification(self, notice_id: int, now: datetime, error: str | None) -> bool:
        """Record a delivery attempt; return False if the notice was given up for good."""
        with self._writing() as session:
            row = session.get_one(NotificationRow, notice_id, with_for_update=True)
            row.claimed_until = None
            if error is None:
                row.delivered_at, row.next_attempt_at, row.last_error = now, None, None
                return True
            row.last_error = error[:2000]
            row.next_attempt_at = next_attempt(row.attempts, now)
            if row.next_attempt_at is None:
                row.failed_at = now
                logger.error(
                    "notice %s of case %s to %s given up after %d attempts: %s",
                    row.id,
                    row.case_id,
                    row.target,
                    row.attempts,
                    error,
                )
                return False
            return True

    def notification_counts(self) -> dict[str, int]:
        """Return how many notices are pending, delivered and given up."""
        with self._reading() as session:
            pending = session.scalar(
                select(func.count()).where(NotificationRow.next_attempt_at.is_not(None))
            )
            delivered = session.scalar(
                select(func.count()).where(NotificationRow.delivered_at.is_not(None))
            )
            failed = session.scalar(
                select(func.count()).where(NotificationRow.failed_at.is_not(None))
            )
        return {"pending": pending or 0, "delivered": delivered or 0, "failed": failed or 0}

    # --- supervision ---------------------------------------------------------------------

    def _schedule(self, session: Session, case_id: int, timer: Timer, now: datetime) -> None:
        session.add(
            CaseTimerRow(
                case_id=case_id,
                kind=timer.kind.value,
                due_at=timer.due_at,
                assignee=timer.assignee,
                created_at=now,
            )
        )

    def _schedule_acknowledgement(self, session: Session, row: CaseRow, now: datetime) -> None:
        timer = acknowledge_timer(CaseCategory(row.category), now, self._policy)
        self._schedule(session, row.id, timer, now)

    def _schedule_acceptance(
        self, session: Session, row: CaseRow, assignee: str, now: datetime
    ) -> None:
        timer = accept_timer(CaseCategory(row.category), assignee, now, self._policy)
        self._schedule(session, row.id, timer, now)

    def _cancel_acceptances(
        self, session: Session, row: CaseRow, before: Team, after: Team, now: datetime
    ) -> None:
        """Retire the acceptance deadlines of members who left the team (declined, handed
        over, replaced, or the case reopened): named again later, they get a fresh one."""
        gone = {a.responder for a in before} - {a.responder for a in after}
        if gone:
            session.execute(
                update(CaseTimerRow)
                .where(
                    CaseTimerRow.case_id == row.id,
                    CaseTimerRow.kind == TimerKind.ACCEPT.value,
                    CaseTimerRow.assignee.in_(sorted(gone)),
                    CaseTimerRow.fired_at.is_(None),
                )
                .values(fired_at=now)
            )

    def fire_due_timers(self, now: datetime, *, limit: int = 100) -> list[CaseView]:
        """Fire the deadlines due at ``now``, each exactly once across hub workers; return the
        cases that changed (escalated or reassigned)."""
        with self._reading() as session:
            due = list(
                session.scalars(
                    select(CaseTimerRow.id)
                    .where(CaseTimerRow.fired_at.is_(None), CaseTimerRow.due_at <= now)
                    .order_by(CaseTimerRow.due_at, CaseTimerRow.id)
                    .limit(limit)
                )
            )
        changed: dict[int, CaseView] = {}
        for timer_id in due:
            view = self._fire(timer_id, now)
            if view is not None:
                changed[view.id] = view
        return list(changed.values())

    def _fire(self, timer_id: int, now: datetime) -> CaseView | None:
        with self._writing() as session:
            # Whoever sets fired_at first fires it; a worker that loses waits for the winner's
            # row lock, then finds fired_at set and updates nothing.
            claimed = session.execute(
                update(CaseTimerRow)
                .where(CaseTimerRow.id == timer_id, CaseTimerRow.fired_at.is_(None))
                .values(fired_at=now)
                .returning(
                    CaseTimerRow.case_id,
                    CaseTimerRow.kind,
                    CaseTimerRow.due_at,
                    CaseTimerRow.assignee,
                )
            ).one_or_none()
            if claimed is None:
                return None
            case_id, kind, due_at, assignee = claimed
            found = session.execute(
                self._cases_query().where(CaseRow.id == case_id).with_for_update(of=CaseRow)
            ).one()
            row, location = found
            team = _team(row.team)
            facts = SupervisedCase(
                status=CaseStatus(row.status),
                category=CaseCategory(row.category),
                acknowledged=row.acknowledged_at is not None,
                waiting=pending(team),
                escalation_level=row.escalation_level,
            )
            outcome = on_timer(facts, Timer(TimerKind(kind), due_at, assignee), now, self._policy)
            match outcome:
                case Satisfied():
                    return None
                case Reassign(silent=silent):
                    before = CaseStatus(row.status)
                    moved = transition(before, CaseAction.DECLINE, waiting=True)
                    gone = member(team, silent)
                    assert gone is not None
                    self._cancel_acceptances(session, row, team, without(team, gone), now)
                    team = without(team, gone)
                    _set_team(row, team)
                    row.declined = sorted({*row.declined, silent})
                    status = team_status(before, moved, team)
                    row.status = status.value
                    row.updated_at = now
                    self._add_event(
                        session,
                        row.id,
                        now,
                        CaseEventAction.DECLINED,
                        note=f"{silent} did not accept in time",
                        detail={
                            "from": before.value,
                            "to": status.value,
                            "declined_by": silent,
                            "by": "supervision",
                        },
                    )
                    if not self._auto_dispatch(session, row, now) and not team:
                        self._escalate(
                            session, row, escalate_unassignable(facts, now, self._policy), now
                        )
                case Escalate():
                    self._escalate(session, row, outcome, now)
            session.flush()
            return _case_view(row, location, self._members(session, [row.id])[row.id])

    def _escalate(
        self, session: Session, row: CaseRow, escalation: Escalate, now: datetime
    ) -> None:
        row.escalation_level = escalation.level
        row.updated_at = now
        name = self._policy.level_name(escalation.level)
        self._add_event(
            session,
            row.id,
            now,
            CaseEventAction.ESCALATED,
            note=(
                f"still not taken on: notified the {name} level again"
                if escalation.repeated
                else f"not taken on in time: escalated to the {name} level"
            ),
            detail={"level": str(escalation.level), "level_name": name},
        )
        self._schedule(session, row.id, escalation.next, now)

    # --- roster --------------------------------------------------------------------------

    def put_site(self, site: Site) -> Site:
        """Create or replace a site."""
        with self._writing() as session:
            row = session.get(SiteRow, site.id, with_for_update=True)
            if row is None:
                row = SiteRow(id=site.id)
                session.add(row)
            row.name, row.timezone, row.edge_ids = _clean(site.name), site.timezone, site.edge_ids
            self._audit_roster(session, "site", site)
            session.flush()
            return _site(row)

    def list_sites(self, *, sites: frozenset[str] | None = None) -> list[Site]:
        """Return every site by id (only ``sites``, if given)."""
        query = select(SiteRow).order_by(SiteRow.id)
        if sites is not None:
            query = query.where(SiteRow.id.in_(sorted(sites)))
        with self._reading() as session:
            return [_site(row) for row in session.scalars(query)]

    def put_grid(self, grid: Grid) -> Grid:
        """Create or replace a grid of an existing site."""
        with self._writing() as session:
            if session.get(SiteRow, grid.site_id) is None:
                raise InvalidInputError(f"site {grid.site_id} does not exist")
            row = session.get(GridRow, grid.id, with_for_update=True)
            if row is None:
                row = GridRow(id=grid.id)
                session.add(row)
            row.site_id, row.name, row.places = grid.site_id, _clean(grid.name), grid.places
            self._audit_roster(session, "grid", grid)
            session.flush()
            return _grid(row)

    def list_grids(
        self, *, site_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[Grid]:
        """Return grids by id, optionally of one site (only of ``sites``, if given)."""
        query = select(GridRow).order_by(GridRow.id)
        if site_id is not None:
            query = query.where(GridRow.site_id == site_id)
        if sites is not None:
            query = query.where(GridRow.site_id.in_(sorted(sites)))
        with self._reading() as session:
            return [_grid(row) for row in session.scalars(query)]

    def put_responder(self, responder: Responder) -> Responder:
        """Create or replace a responder of an existing site, covering its existing grids."""
        with self._writing() as session:
            if session.get(SiteRow, responder.site_id) is None:
                raise InvalidInputError(f"site {responder.site_id} does not exist")
            known = set(
                session.scalars(select(GridRow.id).where(GridRow.site_id == responder.site_id))
            )
            unknown = sorted(set(responder.grid_ids) - known)
            if unknown:
                raise InvalidInputError(
                    f"grids {', '.join(unknown)} are not grids of site {responder.site_id}"
                )
            row = session.get(ResponderRow, responder.id, with_for_update=True)
            if row is None:
                row = ResponderRow(id=responder.id)
                session.add(row)
            row.site_id, row.name, row.role = (
                responder.site_id,
                _clean(responder.name),
                responder.role,
            )
            row.grid_ids = responder.grid_ids
            row.shifts = [shift.model_dump(mode="json") for shift in responder.shifts]
            row.active = responder.active
            self._audit_roster(session, "responder", responder)
            session.flush()
            return _responder(row)

    def list_responders(
        self, *, site_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[Responder]:
        """Return responders by id, optionally of one site (only of ``sites``, if given)."""
        query = select(ResponderRow).order_by(ResponderRow.id)
        if site_id is not None:
            query = query.where(ResponderRow.site_id == site_id)
        if sites is not None:
            query = query.where(ResponderRow.site_id.in_(sorted(sites)))
        with self._reading() as session:
            return [_responder(row) for row in session.scalars(query)]

    def _audit_roster(self, session: Session, what: str, record: Site | Grid | Responder) -> None:
        self._audit(
            session,
            AuditRecord(
                ts=self._clock(),
                action=AuditAction.ROSTER_CHANGED,
                detail={"record": what, "id": record.id, "value": record.model_dump_json()},
            ),
        )

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

    def list_households(self, *, sites: frozenset[str] | None = None) -> list[HouseholdView]:
        """Return every household by id, with its SOS buttons (only of ``sites``, if given)."""
        with self._reading() as session:
            buttons = self._buttons(session)
            placed = self._household_sites(session) if sites is not None else {}
            return [
                _household_view(row, buttons.get(row.id, []))
                for row in session.scalars(select(HouseholdRow).order_by(HouseholdRow.id))
                if sites is None or placed.get(row.id) in sites
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
            select(CaseRow.id, CaseRow.status, CaseRow.updated_at, CaseRow.acknowledged_at)
            .join(CaseMemberRow, CaseMemberRow.case_id == CaseRow.id)
            .where(
                CaseMemberRow.kind == AlertKind.SOS.value,
                CaseMemberRow.device_id.in_(device_ids),
            )
            .order_by(CaseRow.id.desc())
            .limit(1)
        )
        with self._reading() as session:
            found = session.execute(query).one_or_none()
        if found is None:
            return ResidentStatus(stage=resident_stage(None), case_id=None, updated_at=None)
        case_id, status, updated_at, acknowledged_at = found
        return ResidentStatus(
            stage=resident_stage(CaseStatus(status), acknowledged_at is not None),
            case_id=case_id,
            updated_at=updated_at,
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

    def list_edges(self, *, edge_ids: frozenset[str] | None = None) -> list[EdgeView]:
        """Return every edge that ever reported (only ``edge_ids``, if given), by id."""
        query = select(EdgeRow).order_by(EdgeRow.id)
        if edge_ids is not None:
            query = query.where(EdgeRow.id.in_(sorted(edge_ids)))
        with self._reading() as session:
            return [_edge_view(row) for row in session.scalars(query)]

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
            "case_members": CaseMemberRow,
            "case_events": CaseEventRow,
            "audit_log": AuditEntryRow,
            "case_timers": CaseTimerRow,
            "notifications": NotificationRow,
            "silences": SilenceRow,
            "edges": EdgeRow,
            "households": HouseholdRow,
            "household_devices": HouseholdDeviceRow,
        }
        with self._reading() as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in tables.items()
            }

    # --- silences ------------------------------------------------------------------------

    def create_silence(
        self,
        scope: SilenceScope,
        target: str,
        *,
        ends_at: datetime,
        reason: str,
        starts_at: datetime | None = None,
        kinds: Iterable[AlertKind] = (),
        actor: str | None = None,
    ) -> SilenceView:
        """Create a maintenance window or drill; refuse one that is over or unbounded."""
        now = self._clock()
        starts = starts_at or now
        if ends_at <= starts:
            raise InvalidInputError("a silence must end after it starts")
        if ends_at <= now:
            raise InvalidInputError("a silence that is already over silences nothing")
        if ends_at - starts > MAX_SILENCE:
            raise InvalidInputError(
                f"a silence may last at most {MAX_SILENCE.days} days: forgotten ones hide alarms"
            )
        if not reason.strip():
            raise InvalidInputError("a silence needs a reason")
        with self._writing() as session:
            if scope is SilenceScope.DEVICE and session.get(DeviceRow, target) is None:
                raise InvalidInputError(f"device {target} is not registered")
            row = SilenceRow(
                scope=scope.value,
                target=_clean(target),
                kinds=sorted(k.value for k in kinds),
                starts_at=starts,
                ends_at=ends_at,
                reason=_clean(reason),
                created_by=None if actor is None else _clean(actor)[:ID_LENGTH],
                created_at=now,
            )
            session.add(row)
            session.flush()
            self._audit(
                session,
                AuditRecord(
                    ts=now,
                    action=AuditAction.SILENCE_CREATED,
                    actor=row.created_by,
                    detail={
                        "silence_id": row.id,
                        "scope": row.scope,
                        "target": row.target,
                        "kinds": ",".join(row.kinds),
                        "starts_at": starts.astimezone(UTC).isoformat(),
                        "ends_at": ends_at.astimezone(UTC).isoformat(),
                        "reason": row.reason,
                    },
                ),
            )
            logger.info("silence %s set on %s %s by %s", row.id, scope, target, actor)
            return _silence_view(row)

    def list_silences(
        self, *, active_at: datetime | None = None, sites: frozenset[str] | None = None
    ) -> list[SilenceView]:
        """Return silences, newest first; only those in force at ``active_at`` if given, and
        only those of ``sites`` if given."""
        query = select(SilenceRow).order_by(SilenceRow.id.desc())
        if active_at is not None:
            query = query.where(SilenceRow.starts_at <= active_at, SilenceRow.ends_at > active_at)
        with self._reading() as session:
            placed = self._silence_sites(session) if sites is not None else {}
            return [
                _silence_view(row)
                for row in session.scalars(query)
                if sites is None or placed.get(row.id) in sites
            ]

    def end_silence(self, silence_id: int, *, actor: str | None = None) -> SilenceView:
        """End a silence now (alerts from now on open cases again)."""
        now = self._clock()
        with self._writing() as session:
            row = session.get(SilenceRow, silence_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"silence {silence_id} does not exist")
            if row.ends_at <= now:
                raise IllegalTransitionError(f"silence {silence_id} is already over")
            row.ends_at = max(now, row.starts_at)
            row.ended_at = now
            row.ended_by = None if actor is None else _clean(actor)[:ID_LENGTH]
            session.flush()
            self._audit(
                session,
                AuditRecord(
                    ts=now,
                    action=AuditAction.SILENCE_ENDED,
                    actor=row.ended_by,
                    detail={"silence_id": row.id},
                ),
            )
            return _silence_view(row)

    # --- audit trail ---------------------------------------------------------------------

    def list_audit(
        self, *, after_seq: int = 0, limit: int = 100, sites: frozenset[str] | None = None
    ) -> list[AuditEntryView]:
        """Return audit entries after ``after_seq``, oldest first (page on the last seq).

        With ``sites``, only the entries about those sites' records: an entry with a case
        belongs to the case's site, else one with an alert to the alert's device's site;
        entries about neither (accounts, sign-ins, the roster, silences) are left out. The
        filter is in the query, so a page still holds up to ``limit`` entries.
        """
        query = (
            select(AuditEntryRow)
            .where(AuditEntryRow.seq > after_seq)
            .order_by(AuditEntryRow.seq)
            .limit(limit)
        )
        with self._reading() as session:
            if sites is not None:
                placed = self._site_map(session).device_sites()
                devices = sorted(d for d, site in placed.items() if site in sites)
                of_case = AuditEntryRow.case_id.in_(
                    select(CaseRow.id).where(CaseRow.site_id.in_(sorted(sites)))
                )
                of_alert = and_(
                    AuditEntryRow.case_id.is_(None),
                    AuditEntryRow.alert_id.in_(
                        select(AlertRow.id).where(AlertRow.device_id.in_(devices))
                    ),
                )
                query = query.where(or_(of_case, of_alert))
            return [_audit_view(row) for row in session.scalars(query)]

    def verify_audit(self, *, page_size: int = 5000) -> ChainVerdict:
        """Check the whole audit chain and name its first broken link, if any."""
        verifier = ChainVerifier()
        engine = self._engine
        if self._dialect == "postgresql":
            # One snapshot for the head and every page, while other workers keep appending.
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with Session(engine) as session, session.begin():
            head = session.get_one(AuditHeadRow, _AUDIT_HEAD_ID)
            head_seq, head_hash = head.seq, head.hash
            after = 0
            while True:
                page = list(
                    session.scalars(
                        select(AuditEntryRow)
                        .where(AuditEntryRow.seq > after)
                        .order_by(AuditEntryRow.seq)
                        .limit(page_size)
                    )
                )
                if not page or not verifier.feed(_audit_entry(row) for row in page):
                    break
                after = page[-1].seq
        return verifier.finish(head_seq, head_hash)


def verify_audit_chain(settings: HubSettings) -> ChainVerdict:
    """Check the audit chain of the hub database ``settings`` name, without writing to it.

    Raises ``HubStartupError`` if there is no such database or it has no audit trail yet.
    """
    url = settings.resolved_database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise HubStartupError(f"there is no hub database at {parsed.database}")
    engine = create_hub_engine(url)
    try:
        if not inspect(engine).has_table(AuditHeadRow.__tablename__):
            raise HubStartupError("the database has no audit trail: run `linli hub` on it first")
        return HubStore(engine).verify_audit()
    except SQLAlchemyError as exc:
        raise HubStartupError(f"cannot read the hub database: {exc}") from exc
    finally:
        engine.dispose()


def _silence(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        scope=SilenceScope(row.scope),
        target=row.target,
        kinds=frozenset(AlertKind(k) for k in row.kinds),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _silence_view(row: SilenceRow) -> SilenceView:
    return SilenceView.model_validate(
        {
            "id": row.id,
            "scope": row.scope,
            "target": row.target,
            "kinds": row.kinds,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "reason": row.reason,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "ended_by": row.ended_by,
            "ended_at": row.ended_at,
        }
    )


def _site(row: SiteRow) -> Site:
    return Site(id=row.id, name=row.name, timezone=row.timezone, edge_ids=row.edge_ids)


def _grid(row: GridRow) -> Grid:
    return Grid(id=row.id, site_id=row.site_id, name=row.name, places=row.places)


def _responder(row: ResponderRow) -> Responder:
    return Responder.model_validate(
        {
            "id": row.id,
            "site_id": row.site_id,
            "name": row.name,
            "role": row.role,
            "grid_ids": row.grid_ids,
            "shifts": row.shifts,
            "active": row.active,
        }
    )
