"""The households' repository: households, their SOS buttons and page tokens."""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind
from devices.registry import Device
from hub.auth.scoping import site_of_household
from hub.cases.rules import CaseStatus
from hub.errors import InvalidInputError, NotFoundError
from hub.fleet.claims import Provenance
from hub.fleet.registrations import upsert_device
from hub.fleet.views import DeviceView, device_view
from hub.persistence.tables import (
    CaseMemberRow,
    CaseRow,
    DeviceRow,
    HouseholdDeviceRow,
    HouseholdRow,
)
from hub.persistence.transactions import Database, clean, get_existing
from hub.residents.rules import resident_stage, web_device_id
from hub.residents.views import HouseholdView, ResidentStatus
from hub.residents.withdrawals import household_devices, withdrawal_stands
from hub.roster.repository import load_site_map

logger = logging.getLogger(__name__)


def household_sites_in(session: Session) -> dict[int, str | None]:
    """Return every household's site id (None: no site), by household id."""
    site_map = load_site_map(session)
    device_sites = site_map.device_sites()
    owned = buttons(session)
    return {
        household_id: site_of_household(
            site_map, location, owned.get(household_id, []), device_sites
        )
        for household_id, location in session.execute(
            select(HouseholdRow.id, HouseholdRow.location)
        )
    }


def buttons(session: Session, household_id: int | None = None) -> dict[int, list[str]]:
    """Return the SOS buttons of each household (or of one), by household id."""
    query = select(HouseholdDeviceRow.household_id, HouseholdDeviceRow.device_id).order_by(
        HouseholdDeviceRow.device_id
    )
    if household_id is not None:
        query = query.where(HouseholdDeviceRow.household_id == household_id)
    buttons: dict[int, list[str]] = defaultdict(list)
    for owner, device_id in session.execute(query):
        buttons[owner].append(device_id)
    return buttons


def household_device_id(session: Session, household: HouseholdRow, now: datetime) -> str:
    """Return the device a household's case stands on: its first SOS button, or its virtual
    ``household-<id>-web`` button (registered on first use at the household's location)."""
    owned = buttons(session, household.id).get(household.id, [])
    if owned:
        return owned[0]
    device_id = web_device_id(household.id)
    if session.get(DeviceRow, device_id) is None:
        device = Device(id=device_id, kind=DeviceKind.SOS_BUTTON, location=household.location)
        upsert_device(session, device, now, by=Provenance.OPERATOR)
    return device_id


def existing_household(session: Session, household_id: int, *, lock: bool = False) -> HouseholdRow:
    """Return household ``household_id``, locked for update with ``lock``; raise NotFoundError
    if there is none."""
    missing = f"household {household_id} does not exist"
    return get_existing(session, HouseholdRow, household_id, missing, lock=lock)


def _household_view(row: HouseholdRow, device_ids: list[str]) -> HouseholdView:
    return HouseholdView(
        id=row.id,
        name=row.name,
        location=row.location,
        device_ids=device_ids,
        created_at=row.created_at,
    )


class HouseholdRepository:
    """Reads and writes households; each public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def household_sites(self) -> dict[int, str | None]:
        """Return every household's site id (None: no site), by household id."""
        with self._db.reading() as session:
            return household_sites_in(session)

    def household_places(self) -> dict[int, tuple[str, list[str]]]:
        """Return every household's location and SOS buttons (what places it in a site)."""
        with self._db.reading() as session:
            owned = buttons(session)
            return {
                household_id: (location, owned.get(household_id, []))
                for household_id, location in session.execute(
                    select(HouseholdRow.id, HouseholdRow.location)
                )
            }

    def create_household(
        self, name: str, location: str, device_ids: Iterable[str], token_hash: str
    ) -> HouseholdView:
        """Create a household with its SOS buttons; refuse unknown or already-linked devices."""
        wanted = sorted(set(device_ids))
        with self._db.writing() as session:
            kinds: dict[str, str] = {
                device_id: kind
                for device_id, kind in session.execute(
                    select(DeviceRow.id, DeviceRow.kind).where(
                        DeviceRow.id.in_(wanted), DeviceRow.retired_at.is_(None)
                    )
                )
            }
            for device_id in wanted:
                if device_id not in kinds:
                    raise InvalidInputError(f"device {device_id} is not registered (or retired)")
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
                name=clean(name),
                location=clean(location),
                token_hash=token_hash,
                created_at=self._db.clock(),
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
        with self._db.reading() as session:
            owned = buttons(session)
            placed = household_sites_in(session) if sites is not None else {}
            return [
                _household_view(row, owned.get(row.id, []))
                for row in session.scalars(select(HouseholdRow).order_by(HouseholdRow.id))
                if sites is None or placed.get(row.id) in sites
            ]

    def rotate_household_token(self, household_id: int, token_hash: str) -> HouseholdView:
        """Replace a household's token: the old one stops working at once."""
        with self._db.writing() as session:
            row = existing_household(session, household_id, lock=True)
            row.token_hash = token_hash
            session.flush()
            logger.info("household %s has a new access token", household_id)
            return _household_view(row, buttons(session, household_id).get(row.id, []))

    def household_by_token(self, token_hash: str) -> HouseholdView:
        """Return the household a token opens, or raise NotFoundError saying nothing more."""
        with self._db.reading() as session:
            row = session.scalars(
                select(HouseholdRow).where(HouseholdRow.token_hash == token_hash)
            ).one_or_none()
            if row is None:
                raise NotFoundError("not found")
            return _household_view(row, buttons(session, row.id).get(row.id, []))

    def household_sos_device(self, household: HouseholdView) -> DeviceView:
        """Return the device a page press is raised on: the first button, or a virtual one.

        The virtual ``household-<id>-web`` button is registered on first use, at the
        household's location, with no edge.
        """
        with self._db.writing() as session:
            if household.device_ids:
                return device_view(session.get_one(DeviceRow, household.device_ids[0]))
            device = Device(
                id=web_device_id(household.id),
                kind=DeviceKind.SOS_BUTTON,
                location=household.location,
            )
            return upsert_device(session, device, self._db.clock(), by=Provenance.OPERATOR).device

    def household_status(self, household: HouseholdView) -> ResidentStatus:
        """Return the stage of the household's most recent SOS case, from the database
        (``withdrawn`` while the resident's take-back of it is the latest word)."""
        device_ids = household_devices(household)
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
        with self._db.reading() as session:
            found = session.execute(query).one_or_none()
            if found is None:
                return ResidentStatus(stage=resident_stage(None), case_id=None, updated_at=None)
            case_id, status, updated_at, acknowledged_at = found
            withdrawn = withdrawal_stands(session, case_id, household.id)
        return ResidentStatus(
            stage=resident_stage(
                CaseStatus(status), acknowledged_at is not None, withdrawn=withdrawn
            ),
            case_id=case_id,
            updated_at=updated_at,
        )
