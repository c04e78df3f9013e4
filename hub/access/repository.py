"""Every door access repository, over one database: ``AccessStore``.

Each concept has its repository (one transaction per method): ``sites`` (sites and their
doors, ``hub.access.sites``), ``groups`` (schedules and groups, ``hub.access.groups``),
``people`` (people, credentials, the bulk import, ``hub.access.people``), ``allow_lists``
(what each edge's allow-list holds, by version, ``hub.access.versions``) and ``log`` (the
access log, ``hub.access.log``). This container only builds them over one ``Database`` with
one clock, so that the access routes, the access link and tests get all of them in one object:
``store.people.add_credential(...)``, ``store.allow_lists.updates_since(...)``.
"""

from sqlalchemy import Engine

from hub.access.groups import GroupRepository
from hub.access.log import AccessLogRepository
from hub.access.people import PeopleRepository
from hub.access.sites import SiteRepository
from hub.access.versions import AllowListRepository
from hub.persistence.transactions import Clock, Database, utc_now


class AccessStore:
    """The door access repositories over one database and one clock."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.db = Database(engine, clock=clock)
        self.sites = SiteRepository(self.db)
        """Sites' door access settings and their doors."""
        self.groups = GroupRepository(self.db)
        """Schedules and groups."""
        self.people = PeopleRepository(self.db)
        """People, their credentials, and the bulk import."""
        self.allow_lists = AllowListRepository(self.db)
        """What each edge's allow-list holds, by version."""
        self.log = AccessLogRepository(self.db)
        """The access log."""
