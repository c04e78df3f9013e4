"""The care households' repository: profiles, contacts and sensors; the facts of each home's
check (sensors' liveness, the last sign of life); and what a check or an SOS leads to — a
wellbeing-check case and notices to the family, in one transaction per household.
The decisions are ``hub.care.rules``'s.
"""

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.audit.chain import AuditAction, AuditRecord
from hub.care.family import (
    check_to_new_contacts,
    seen_again,
    sos_devices,
    sos_on_check,
    sos_to_family,
    withdraw_from_removed,
)
from hub.care.rules import (
    LOOK_BACK,
    CareCheck,
    CareFacts,
    CareStatus,
    Sensor,
    SensorReading,
    WakingHours,
    away_problem,
    check_activity,
    last_sign_of_life,
)
from hub.care.views import CareSettings, CareView, Contact
from hub.cases.correlation import CaseCategory
from hub.cases.notices import enqueue_notices
from hub.cases.notify import Channel
from hub.cases.raised import open_hub_case
from hub.cases.records import CasePolicy, case_view, members
from hub.cases.rules import ACTIVE, CaseEventAction, CaseStatus
from hub.cases.views import CaseView
from hub.errors import InvalidInputError
from hub.persistence.community import CareContactRow, CareDeviceRow, CareProfileRow
from hub.persistence.tables import (
    AlertRow,
    CaseRow,
    DeviceRow,
    HouseholdRow,
    ReadingHistoryRow,
    SiteRow,
)
from hub.persistence.transactions import Database, audit, get_existing
from hub.residents.repository import (
    existing_household,
    household_device_id,
    household_sites_in,
)
from hub.roster.repository import load_site_map

logger = logging.getLogger(__name__)

WATCHER_KINDS: dict[DeviceKind, timedelta] = {
    DeviceKind.MOTION: timedelta(hours=6),
    DeviceKind.DOOR_CONTACT: timedelta(hours=6),
}
"""Sensors that can see a sign of life, with their check-in deadline (the edge's defaults)."""

AHEAD = timedelta(minutes=5)
"""How far ahead of the hub's clock a sign of life may be stamped and still count. One stamped
later (an edge whose clock runs ahead) would hold the count at zero until that time came: a
day ahead, a day with no check at all; it is left out, as if not seen."""


def _care_profile(session: Session, household_id: int, *, lock: bool = False) -> CareProfileRow:
    """Return a household's care profile, or raise NotFoundError: for a household that does
    not exist, in the words a scoped caller gets for another site's household
    (``check_in_scope``), so that the answer does not tell whether one exists there."""
    existing_household(session, household_id)
    missing = f"household {household_id} is not flagged for care"
    return get_existing(session, CareProfileRow, household_id, missing, lock=lock)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _trip_end(before: datetime | None, until: datetime | None, now: datetime) -> datetime | None:
    """Return the away-until to store: a trip ended early (``until`` None while the one stored
    lay ahead) ends now, and one whose end has passed keeps it, so that the count starts from
    the return, not from before the trip (before, "she is back" said after the trip's end date
    forgot the return, and a check counted from before the trip was raised at once). Raise
    InvalidInputError for a new end too far ahead (``hub.care.rules.away_problem``); one stored
    before the bound, sent back unchanged with other settings, stays."""
    problem = None if until == before else away_problem(until, now)
    if problem is not None:
        raise InvalidInputError(problem)
    if until is None and before is not None:
        return min(before, now)
    return until


def _zones(session: Session, placed: dict[int, str | None] | None = None) -> dict[int, str]:
    """Return each household's time zone, its site's (households without one: none here),
    read once for a whole round or list rather than once per household (``placed``: the
    households' sites, if the caller has them)."""
    zones: dict[str, str] = {
        site_id: zone for site_id, zone in session.execute(select(SiteRow.id, SiteRow.timezone))
    }
    if placed is None:
        placed = household_sites_in(session)
    return {
        household_id: zones[site]
        for household_id, site in placed.items()
        if site is not None and site in zones
    }


class CareRepository:
    """Reads and writes care households and runs their checks; a public method is a
    transaction (``watch``: one per household)."""

    def __init__(self, db: Database, policy: CasePolicy) -> None:
        self._db = db
        self._policy = policy

    def put_care(
        self,
        household_id: int,
        settings: CareSettings,
        actor: str | None,
        *,
        sites: frozenset[str] | None = None,
    ) -> CareView:
        """Flag a household for care (or change or end it), with consent, contacts, sensors.

        A caller scoped to ``sites`` names only its sites' sensors: another site's device is
        answered as an unregistered one, so the answer tells nothing of it.
        """
        now = self._db.clock()
        return self._db.inserting(
            lambda session: self._put_care(session, household_id, settings, actor, now, sites)
        )

    def _put_care(
        self,
        session: Session,
        household_id: int,
        settings: CareSettings,
        actor: str | None,
        now: datetime,
        sites: frozenset[str] | None,
    ) -> CareView:
        existing_household(session, household_id)
        kinds: dict[str, str] = dict(
            session.execute(
                select(DeviceRow.id, DeviceRow.kind).where(
                    DeviceRow.id.in_(settings.device_ids), DeviceRow.retired_at.is_(None)
                )
            ).all()
        )
        if sites is not None and kinds:
            placed = load_site_map(session).device_sites()
            kinds = {d: kind for d, kind in kinds.items() if placed.get(d) in sites}
        for device_id in settings.device_ids:
            if device_id not in kinds:
                raise InvalidInputError(f"device {device_id} is not registered (or retired)")
            if DeviceKind(kinds[device_id]) not in WATCHER_KINDS:
                raise InvalidInputError(
                    f"device {device_id} is a {kinds[device_id]}: a care household's "
                    "sensors are motion sensors and door contacts"
                )
        taken = session.scalars(
            select(CareDeviceRow.device_id).where(
                CareDeviceRow.device_id.in_(settings.device_ids),
                CareDeviceRow.household_id != household_id,
            )
        ).all()
        if taken:
            raise InvalidInputError(f"devices of another household: {', '.join(taken)}")
        row = session.get(CareProfileRow, household_id, with_for_update=True)
        if row is None:
            row = CareProfileRow(household_id=household_id, watched_since=now)
            session.add(row)
        elif settings.enabled and not row.enabled:
            row.watched_since = now
        row.enabled = settings.enabled
        row.consent_by = settings.consent.by
        row.consent_at = now
        row.consent_note = settings.consent.note
        row.quiet_minutes = round(settings.quiet_hours * 60)
        row.waking_from = _hhmm(settings.waking_from)
        row.waking_until = _hhmm(settings.waking_until)
        row.away_until = _trip_end(row.away_until, settings.away_until, now)
        row.updated_at = now
        row.updated_by = actor
        before = set(
            session.scalars(
                select(CareContactRow.target).where(CareContactRow.household_id == household_id)
            )
        )
        removed = before - {c.target for c in settings.contacts}
        withdraw_from_removed(session, household_id, removed, row.alarm_case_id, now)
        session.execute(delete(CareContactRow).where(CareContactRow.household_id == household_id))
        session.execute(delete(CareDeviceRow).where(CareDeviceRow.household_id == household_id))
        session.add_all(
            CareContactRow(
                household_id=household_id,
                name=c.name,
                relation=c.relation,
                channel=c.channel.value,
                target=c.target,
            )
            for c in settings.contacts
        )
        session.add_all(
            CareDeviceRow(device_id=d, household_id=household_id)
            for d in sorted(set(settings.device_ids))
        )
        audit(
            session,
            AuditRecord(
                ts=now,
                action=AuditAction.CARE_CHANGED,
                actor=actor,
                detail={
                    "household_id": household_id,
                    "enabled": row.enabled,
                    "consent_by": row.consent_by,
                    "contacts": len(settings.contacts),
                    "device_ids": sorted(set(settings.device_ids)),
                    "quiet_minutes": row.quiet_minutes,
                },
            ),
        )
        session.flush()
        logger.info("household %s care %s", household_id, "on" if row.enabled else "off")
        return self._view(session, row, now, _zones(session))

    def set_away(self, household_id: int, until: datetime | None, actor: str | None) -> CareView:
        """Say a care household is away until ``until`` (None: it is back)."""
        now = self._db.clock()
        with self._db.writing() as session:
            row = _care_profile(session, household_id, lock=True)
            row.away_until = _trip_end(row.away_until, until, now)
            row.updated_at, row.updated_by = now, actor
            detail = {"household_id": household_id, "away_until": until and until.isoformat()}
            audit(
                session,
                AuditRecord(ts=now, action=AuditAction.CARE_CHANGED, actor=actor, detail=detail),
            )
            session.flush()
            return self._view(session, row, now, _zones(session))

    def get_care(self, household_id: int) -> CareView:
        """Return a care household with what its home shows now, or raise NotFoundError."""
        with self._db.reading() as session:
            row = _care_profile(session, household_id)
            return self._view(session, row, self._db.clock(), _zones(session))

    def list_care(self, *, sites: frozenset[str] | None = None) -> list[CareView]:
        """Return every care household and its check now (only of ``sites``, if given)."""
        now = self._db.clock()
        with self._db.reading() as session:
            placed = household_sites_in(session)
            zones = _zones(session, placed)
            return [
                self._view(session, row, now, zones)
                for row in session.scalars(
                    select(CareProfileRow).order_by(CareProfileRow.household_id)
                )
                if sites is None or placed.get(row.household_id) in sites
            ]

    def watch(self) -> list[CaseView]:
        """Check every care household now: open a wellbeing check where a home is quiet too
        long, tell the family of it and of any SOS; return the cases opened or changed."""
        now = self._db.clock()
        with self._db.reading() as session:
            ids = session.scalars(
                select(CareProfileRow.household_id).where(CareProfileRow.enabled.is_(True))
            ).all()
            zones = _zones(session)  # once a round: thousands of households, not N² rows
        changed: list[CaseView] = []
        failed: list[int] = []
        for household_id in ids:
            try:
                with self._db.writing() as session:
                    changed.extend(self._watch_one(session, household_id, now, zones))
            except Exception:
                # One household's failure (a lock timeout, a bad row) must not leave every
                # household after it unchecked, round after round; the first is logged in
                # full, the rest counted (a database gone would otherwise log thousands).
                if not failed:
                    logger.exception("household %s: the care check failed", household_id)
                failed.append(household_id)
        if failed:
            logger.error("the care check failed for %d households: %s", len(failed), failed[:20])
        return changed

    def _watch_one(
        self, session: Session, household_id: int, now: datetime, zones: dict[int, str]
    ) -> list[CaseView]:
        row = session.get(CareProfileRow, household_id, with_for_update=True)
        if row is None or not row.enabled:
            return []
        household = session.get_one(HouseholdRow, household_id)
        contacts = self._contacts(session, household_id)
        # A daughter listed twice (as daughter and as guardian) gets one message, not two.
        targets = list(dict.fromkeys((c.channel, c.target) for c in contacts))
        changed = sos_to_family(session, self._policy, row, household, targets, now)
        check, last, pressed = self._check(session, row, now, zones)
        if self._alarm_active(session, row):
            told = check_to_new_contacts(session, self._policy, row, household, targets, now)
            # A count that now runs from a sign of life and is short of the limit: that sign
            # is newer than the one the check was raised on (not a trip marked since).
            seen = check.status is not CareStatus.AWAY and check.since == last
            if seen and last is not None and not check.wellbeing_check:
                if last == pressed:  # an SOS: a call for help, not news that she is well
                    told += sos_on_check(session, self._policy, row, household, last, now)
                else:
                    told += seen_again(session, self._policy, row, household, targets, last, now)
            # The check once, as it is now, however many lines it got this round.
            return changed + list({case.id: case for case in told}.values())
        if not check.wellbeing_check:
            return changed
        hours = check.quiet.total_seconds() / 3600
        # No sign found in the week searched: silent since before it, the count a floor.
        at_least = "at least " if last is None else ""
        note = (
            f"no sign of life at {household.name} for {at_least}{hours:.1f} waking hours "
            f"(since {check.since.isoformat()}): please check on them"
        )
        if check.status is CareStatus.SENSORS_SILENT:
            note += (
                f"; its sensors are silent ({', '.join(check.silent)}): nothing could be seen, "
                "please check the sensors too"
            )
        elif check.silent:
            # A dead motion sensor beside a live door contact: someone who stays in is unseen.
            note += (
                f"; some of its sensors are silent ({', '.join(check.silent)}): they may be "
                "well and unseen, please check the sensors too"
            )
        case = open_hub_case(
            session,
            self._policy,
            device_id=household_device_id(session, household, now),
            kind=AlertKind.NO_ACTIVITY,
            category=CaseCategory.WELLBEING,
            priority=Severity.HIGH,
            place=household.location,
            now=now,
            actor="hub-care",
            note=note,
        )
        row.alarm_case_id = case.id
        if targets:
            enqueue_notices(
                session,
                targets,
                case.id,
                CaseEventAction.OPENED,
                now,
                note,
                supervision=self._policy.supervision,
            )
        session.flush()
        logger.info("household %s: no activity, wellbeing check case %s", household_id, case.id)
        changed.append(case_view(case, household.location, members(session, [case.id])[case.id]))
        return changed

    def _alarm_active(self, session: Session, row: CareProfileRow) -> bool:
        if row.alarm_case_id is None:
            return False
        status = session.scalar(select(CaseRow.status).where(CaseRow.id == row.alarm_case_id))
        return status is not None and CaseStatus(status) in ACTIVE

    def _checked_at(self, session: Session, row: CareProfileRow) -> datetime | None:
        """Return when the household's last wellbeing check ended (someone went and saw),
        None while it is open or if there was none."""
        if row.alarm_case_id is None:
            return None
        case = session.get(CaseRow, row.alarm_case_id)
        if case is None or CaseStatus(case.status) in ACTIVE:
            return None
        return case.resolved_at or case.updated_at

    def _contacts(self, session: Session, household_id: int) -> list[Contact]:
        return [
            Contact(name=c.name, relation=c.relation, channel=Channel(c.channel), target=c.target)
            for c in session.scalars(
                select(CareContactRow)
                .where(CareContactRow.household_id == household_id)
                .order_by(CareContactRow.id)
            )
        ]

    def _check(
        self, session: Session, row: CareProfileRow, now: datetime, zones: dict[int, str]
    ) -> tuple[CareCheck, datetime | None, datetime | None]:
        """Gather the facts of one home; return the rules' verdict, the last sign of life and
        the last SOS press (``zones``: the households' time zones, ``_zones``)."""
        household_id = row.household_id
        watchers = list(
            session.execute(
                select(DeviceRow.id, DeviceRow.kind, DeviceRow.last_seen)
                .join(CareDeviceRow, CareDeviceRow.device_id == DeviceRow.id)
                .where(CareDeviceRow.household_id == household_id)
            )
        )
        sensors = [
            Sensor(device_id, last_seen, WATCHER_KINDS.get(DeviceKind(kind), timedelta(hours=6)))
            for device_id, kind, last_seen in watchers
        ]
        seen = self._last_seen(session, [w[0] for w in watchers], now)
        pressed = self._last_press(session, household_id, now)
        last = pressed if seen is None or (pressed is not None and pressed > seen) else seen
        # The SOS presses are searched all the way back, the readings LOOK_BACK back only.
        searched_from = now - LOOK_BACK if watchers else None
        waking = WakingHours(
            start=time.fromisoformat(row.waking_from),
            end=time.fromisoformat(row.waking_until),
            timezone=zones.get(household_id, WakingHours().timezone),
        )
        facts = CareFacts(
            last_activity=last,
            watched_since=row.watched_since,
            sensors=sensors,
            away_until=row.away_until,
            waking=waking,
            quiet_limit=timedelta(minutes=row.quiet_minutes),
            checked_at=self._checked_at(session, row),
            searched_from=searched_from,
        )
        return check_activity(facts, now), last, pressed

    def _last_seen(self, session: Session, sensors: list[str], now: datetime) -> datetime | None:
        """Return the last sign of life in the home's sensors' readings."""
        if not sensors:
            return None
        row = ReadingHistoryRow
        history = session.execute(
            select(row.device_id, row.ts, row.readings)
            .where(row.device_id.in_(sensors), row.ts >= now - LOOK_BACK, row.ts <= now + AHEAD)
            .order_by(row.ts.desc())
            .execution_options(yield_per=500)  # read until the answer is known
        )
        try:
            return last_sign_of_life(SensorReading(*r) for r in history)
        finally:
            history.close()

    def _last_press(self, session: Session, household_id: int, now: datetime) -> datetime | None:
        """Return the household's last SOS press (a sign of life too)."""
        return session.scalar(
            select(func.max(AlertRow.ts)).where(
                AlertRow.device_id.in_(sos_devices(session, household_id)),
                AlertRow.kind == AlertKind.SOS.value,
                AlertRow.ts <= now + AHEAD,
            )
        )

    def _view(
        self, session: Session, row: CareProfileRow, now: datetime, zones: dict[int, str]
    ) -> CareView:
        household = session.get_one(HouseholdRow, row.household_id)
        check, last, _ = self._check(session, row, now, zones)
        device_ids = session.scalars(
            select(CareDeviceRow.device_id)
            .where(CareDeviceRow.household_id == row.household_id)
            .order_by(CareDeviceRow.device_id)
        ).all()
        return CareView(
            household_id=row.household_id,
            household_name=household.name,
            enabled=row.enabled,
            consent_by=row.consent_by,
            consent_at=row.consent_at,
            contacts=self._contacts(session, row.household_id),
            device_ids=list(device_ids),
            quiet_hours=row.quiet_minutes / 60,
            waking_from=time.fromisoformat(row.waking_from),
            waking_until=time.fromisoformat(row.waking_until),
            away_until=row.away_until,
            status=check.status,
            last_activity=last,
            quiet_hours_so_far=round(check.quiet.total_seconds() / 3600, 2),
            silent_sensors=list(check.silent),
            alarm_case_id=row.alarm_case_id if self._alarm_active(session, row) else None,
        )
