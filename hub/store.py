"""Every repository of the hub's own records, over one database: ``HubStore``.

Each feature package owns its repository (``hub/<feature>/repository.py``); this container
only builds them over one ``Database`` with one clock and one case policy, so that the app's
lifespan, the CLI and tests get all of them in one object: ``store.cases.act(...)``,
``store.intake.ingest_alerts(...)``, ``store.fleet.list_devices()``. Methods are synchronous,
one transaction each: async callers run them with ``asyncio.to_thread``.

Door access, evidence and accounts have repositories of their own with their own lifetimes
(``hub.access``, ``hub.evidence``, ``hub.auth``); they share the engine, not this object.
"""

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from hub.audit.repository import AuditRepository
from hub.care.repository import CareRepository
from hub.cases.correlation import DEFAULT_RULES, CorrelationRules
from hub.cases.deadlines import DeadlineRepository
from hub.cases.intake import CaseIntake
from hub.cases.notices import NoticeRepository
from hub.cases.notify import Channel
from hub.cases.records import DEFAULT_REOPEN_WITHIN, CasePolicy
from hub.cases.repository import CaseRepository
from hub.cases.supervision import DEFAULT_POLICY, SupervisionPolicy
from hub.fleet.repository import FleetRepository
from hub.notices.repository import NoticeRepository as ResidentNoticeRepository
from hub.persistence.transactions import Clock, Database, utc_now
from hub.positions.repository import PositionRepository
from hub.requests.photos import PhotoFiles
from hub.requests.repository import RequestRepository
from hub.requests.stages import StageTeller
from hub.residents.repository import HouseholdRepository
from hub.roster.repository import RosterRepository
from hub.silences.repository import SilenceRepository
from hub.statistics.repository import StatisticsRepository


class HubStore:
    """The hub's repositories over one database, one clock and one case policy."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        rules: CorrelationRules = DEFAULT_RULES,
        reopen_within: timedelta = DEFAULT_REOPEN_WITHIN,
        supervision: SupervisionPolicy = DEFAULT_POLICY,
        notify: Sequence[tuple[Channel, str]] = (),
        household_notify: Sequence[tuple[Channel, str]] = (),
        photo_dir: Path | None = None,
    ) -> None:
        self.db = Database(engine, clock=clock)
        self.policy = CasePolicy(
            rules=rules, reopen_within=reopen_within, supervision=supervision, notify=tuple(notify)
        )
        self.fleet = FleetRepository(self.db, self.policy)
        """Devices and edges."""
        self.roster = RosterRepository(self.db)
        """Sites, grids, responders, and where each device is placed."""
        self.intake = CaseIntake(self.db, self.policy)
        """Alerts into cases."""
        self.cases = CaseRepository(self.db, self.policy)
        """Alerts and cases read, and people's actions on cases."""
        self.deadlines = DeadlineRepository(self.db, self.policy)
        """Case deadlines fired."""
        self.notices = NoticeRepository(self.db)
        """The queue of case notices out."""
        self.silences = SilenceRepository(self.db)
        """Maintenance windows and drills."""
        self.households = HouseholdRepository(self.db)
        """Households and their SOS buttons."""
        self.audit = AuditRepository(self.db)
        """The audit trail, read and verified."""
        self.requests = RequestRepository(self.db, self.policy, self.cases, PhotoFiles(photo_dir))
        """Residents' requests (点单) with their photos (none kept without ``photo_dir``),
        updates and ratings."""
        self.resident_notices = ResidentNoticeRepository(self.db, tuple(household_notify))
        """Notices (通知) to households, with read receipts (not the case notices above); each
        recipient's copy goes to ``household_notify`` and to a care household's family."""
        self.request_stages = StageTeller(self.db, tuple(household_notify))
        """Households told of their requests' new stages through the messaging gateway."""
        self.care = CareRepository(self.db, self.policy)
        """Care households (独居老人) and their no-activity checks."""
        self.statistics = StatisticsRepository(self.db)
        """What the statistics up the chain are made of."""
        self.positions = PositionRepository(self.db, self.policy)
        """Responders' live positions (OwnTracks), and cases marked on site."""
