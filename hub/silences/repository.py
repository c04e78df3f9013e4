"""The silences' repository: maintenance windows and drills, and which alerts they cover."""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.audit.chain import AuditAction, AuditRecord
from hub.auth.scoping import PlacedDevice, SiteMap, site_of_silence
from hub.errors import IllegalTransitionError, InvalidInputError
from hub.persistence.tables import ID_LENGTH, DeviceRow, GridRow, SilenceRow, SiteRow
from hub.persistence.transactions import Database, audit, clean, get_existing
from hub.roster.repository import grid_from_row, load_site_map, site_from_row
from hub.silences.rules import Silence, SilenceScope
from hub.silences.views import SilenceView

logger = logging.getLogger(__name__)

MAX_SILENCE = timedelta(days=31)
"""The longest a silence may last: a forgotten one hides alarms."""


def silence_sites_in(session: Session) -> dict[int, str | None]:
    """Return every silence's site id (None: no site), by silence id."""
    site_map = load_site_map(session)
    device_sites = site_map.device_sites()
    return {
        silence_id: site_of_silence(site_map, SilenceScope(scope), target, device_sites)
        for silence_id, scope, target in session.execute(
            select(SilenceRow.id, SilenceRow.scope, SilenceRow.target)
        )
    }


def silence_from_row(row: SilenceRow) -> Silence:
    """Return the silence a row stores, as the pure rules take it."""
    return Silence(
        id=row.id,
        scope=SilenceScope(row.scope),
        target=row.target,
        kinds=frozenset(AlertKind(k) for k in row.kinds),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _silence_views(session: Session, rows: list[SilenceRow]) -> list[SilenceView]:
    """Return the views of ``rows``, each with its site (read with the sites and grids, and
    only the devices the device silences among them name: not every device of the hub)."""
    if not rows:
        return []
    named = sorted({r.target for r in rows if r.scope == SilenceScope.DEVICE.value})
    site_map = SiteMap(
        sites=tuple(
            site_from_row(r) for r in session.scalars(select(SiteRow).order_by(SiteRow.id))
        ),
        grids=tuple(
            grid_from_row(r) for r in session.scalars(select(GridRow).order_by(GridRow.id))
        ),
        devices=tuple(
            PlacedDevice(id=device_id, edge_id=edge_id, location=location)
            for device_id, edge_id, location in session.execute(
                select(DeviceRow.id, DeviceRow.edge_id, DeviceRow.location).where(
                    DeviceRow.id.in_(named)
                )
            )
        )
        if named
        else (),
    )
    device_sites = site_map.device_sites()
    return [
        SilenceView.model_validate(row, from_attributes=True).model_copy(
            update={
                "site_id": site_of_silence(
                    site_map, SilenceScope(row.scope), row.target, device_sites
                )
            }
        )
        for row in rows
    ]


def _silence_view(session: Session, row: SilenceRow) -> SilenceView:
    [view] = _silence_views(session, [row])
    return view


class SilenceRepository:
    """Reads and writes silences; each public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def silence_sites(self) -> dict[int, str | None]:
        """Return every silence's site id (None: no site), by silence id."""
        with self._db.reading() as session:
            return silence_sites_in(session)

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
        """Create a maintenance window or drill; refuse one that is over or unbounded.

        One never starts before it is set (a ``starts_at`` in the past is taken as now): an
        alarm raised before anyone put the place on test, delivered late (an edge's store and
        forward after an outage), is no part of the test and must open its case."""
        now = self._db.clock()
        if ends_at <= now:
            raise InvalidInputError("a silence that is already over silences nothing")
        starts = now if starts_at is None else max(starts_at, now)
        if ends_at <= starts:
            raise InvalidInputError("a silence must end after it starts")
        if ends_at - starts > MAX_SILENCE:
            raise InvalidInputError(
                f"a silence may last at most {MAX_SILENCE.days} days: forgotten ones hide alarms"
            )
        if not reason.strip():
            raise InvalidInputError("a silence needs a reason")
        with self._db.writing() as session:
            if scope is SilenceScope.DEVICE and session.get(DeviceRow, target) is None:
                raise InvalidInputError(f"device {target} is not registered")
            row = SilenceRow(
                scope=scope.value,
                target=clean(target),
                kinds=sorted(k.value for k in kinds),
                starts_at=starts,
                ends_at=ends_at,
                reason=clean(reason),
                created_by=None if actor is None else clean(actor)[:ID_LENGTH],
                created_at=now,
            )
            session.add(row)
            session.flush()
            audit(
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
            return _silence_view(session, row)

    def list_silences(
        self, *, active_at: datetime | None = None, sites: frozenset[str] | None = None
    ) -> list[SilenceView]:
        """Return silences, newest first; only those in force at ``active_at`` if given, and
        only those of ``sites`` if given."""
        query = select(SilenceRow).order_by(SilenceRow.id.desc())
        if active_at is not None:
            query = query.where(SilenceRow.starts_at <= active_at, SilenceRow.ends_at > active_at)
        with self._db.reading() as session:
            views = _silence_views(session, list(session.scalars(query)))
            return [view for view in views if sites is None or view.site_id in sites]

    def end_silence(self, silence_id: int, *, actor: str | None = None) -> SilenceView:
        """End a silence now (alerts from now on open cases again), or cancel one that has
        not started (its audit entry says ``cancelled``)."""
        now = self._db.clock()
        with self._db.writing() as session:
            row = get_existing(
                session, SilenceRow, silence_id, f"silence {silence_id} does not exist", lock=True
            )
            if row.ends_at <= now:
                raise IllegalTransitionError(f"silence {silence_id} is already over")
            planned = row.ends_at
            # One not started yet is cancelled: it never covered anything.
            cancelled = row.starts_at > now
            row.ends_at = max(now, row.starts_at)
            row.ended_at = now
            row.ended_by = None if actor is None else clean(actor)[:ID_LENGTH]
            session.flush()
            audit(
                session,
                AuditRecord(
                    ts=now,
                    action=AuditAction.SILENCE_ENDED,
                    actor=row.ended_by,
                    # When it stopped covering alerts, and when it was to: the trail alone
                    # says which alarms it hid (the row can be edited).
                    detail={
                        "silence_id": row.id,
                        "ends_at": row.ends_at.astimezone(UTC).isoformat(),
                        "planned_ends_at": planned.astimezone(UTC).isoformat(),
                        # Only on a cancellation: an entry of one ended while in force reads
                        # as every such entry before 2026-12-08 did.
                        **({"cancelled": True} if cancelled else {}),
                    },
                ),
            )
            return _silence_view(session, row)
