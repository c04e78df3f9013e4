"""Two operators (or two hub workers behind a load balancer) creating the same record at once.

A create-or-replace (``PUT``) reads the record locked and inserts it when there is none. When
another transaction has inserted the same key and not committed yet, PostgreSQL makes the
insert wait for it and then fail on the key: the second ``PUT`` answered 500 and changed
nothing. Now it runs once more, finds the first's row and replaces it, as if it had come
second. (SQLite's one writer never lets two such transactions overlap.)
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Insert, insert, select

from devices.access import DoorConfig
from devices.kinds import DeviceKind
from devices.registry import Device
from hub.access.repository import AccessStore
from hub.care.views import CareSettings, Consent
from hub.errors import InvalidInputError
from hub.persistence.access import AccessDoorRow, AccessSiteRow
from hub.persistence.community import CareProfileRow
from hub.persistence.tables import GridRow, ResponderRow, SiteRow
from hub.residents.rules import issue_token
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_incidents import wait_until_blocked_on_a_lock

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def _put_while_another_inserts(engine: Engine, theirs: Insert, put: Callable[[], Any]) -> Any:
    """Run ``put`` while another transaction has run ``theirs`` (an insert of the same
    record) and not committed; commit theirs once ``put`` waits for it. Return what ``put``
    returned."""
    with engine.connect() as other:
        other.execute(theirs)
        with ThreadPoolExecutor(max_workers=1) as mine:
            done = mine.submit(put)
            wait_until_blocked_on_a_lock(engine, other_than=other)
            other.commit()
            return done.result(timeout=60)


def test_a_site_created_twice_at_once_is_the_later_put(pg_engine: Engine) -> None:
    store = HubStore(pg_engine, clock=FakeClock(NOW))
    theirs = insert(SiteRow).values(id="lanyuan", name="Theirs", timezone="UTC", edge_ids=[])
    site = Site(id="lanyuan", name="Lanyuan", edge_ids=["e1"], street="Jiefang Road")
    assert _put_while_another_inserts(pg_engine, theirs, lambda: store.roster.put_site(site))
    assert store.roster.list_sites() == [site]


def test_a_grid_and_a_responder_created_twice_at_once_are_the_later_puts(
    pg_engine: Engine,
) -> None:
    store = HubStore(pg_engine, clock=FakeClock(NOW))
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan"))
    grid = Grid(id="g-b2", site_id="lanyuan", name="Building 2", places=["Building 2"])
    theirs = insert(GridRow).values(id="g-b2", site_id="lanyuan", name="Theirs", places=[])
    _put_while_another_inserts(pg_engine, theirs, lambda: store.roster.put_grid(grid))
    assert store.roster.list_grids() == [grid]

    responder = Responder(
        id="grid-2",
        site_id="lanyuan",
        name="Liu Yang",
        role=ResponderRole.GRID_WORKER,
        grid_ids=["g-b2"],
    )
    theirs = insert(ResponderRow).values(
        id="grid-2",
        site_id="lanyuan",
        name="Theirs",
        role=ResponderRole.SECURITY.value,
        grid_ids=[],
        shifts=[],
        active=False,
    )
    _put_while_another_inserts(pg_engine, theirs, lambda: store.roster.put_responder(responder))
    assert store.roster.list_responders() == [responder]


def test_care_flagged_twice_at_once_is_the_later_settings(pg_engine: Engine) -> None:
    store = HubStore(pg_engine, clock=FakeClock(NOW))
    store.fleet.upsert_devices(
        [Device(id="b2-motion", kind=DeviceKind.MOTION, location="Building 2/Unit 301")]
    )
    household = store.households.create_household(
        "Grandma Zhao", "Building 2/Unit 301", [], issue_token()[1]
    )
    theirs = insert(CareProfileRow).values(
        household_id=household.id,
        enabled=False,
        consent_by="someone else",
        consent_at=NOW,
        quiet_minutes=60,
        waking_from="07:00",
        waking_until="22:00",
        watched_since=NOW,
        updated_at=NOW,
    )
    settings = CareSettings(
        consent=Consent(by="Zhao Min (daughter, guardian)"), device_ids=["b2-motion"]
    )
    view = _put_while_another_inserts(
        pg_engine, theirs, lambda: store.care.put_care(household.id, settings, "op.wang")
    )
    assert view.enabled
    with store.db.reading() as session:
        [(by, minutes)] = session.execute(
            select(CareProfileRow.consent_by, CareProfileRow.quiet_minutes)
        ).all()
    assert (by, minutes) == ("Zhao Min (daughter, guardian)", round(settings.quiet_hours * 60))


def test_a_door_id_taken_by_another_site_meanwhile_is_refused_not_a_failure(
    pg_engine: Engine,
) -> None:
    """Two sites' operators create a door of the same id at once. (Two puts of one site's door
    take turns already: each locks its site.) The later one is told the door is the other
    site's, a 400, not a failure."""
    access = AccessStore(pg_engine, clock=FakeClock(NOW))
    access.sites.create_site("edge-a", "Courtyard A", "Asia/Shanghai")
    access.sites.create_site("edge-b", "Courtyard B", "Asia/Shanghai")
    theirs = insert(AccessDoorRow).values(
        id="gate",
        edge_id="edge-b",
        config=DoorConfig(id="gate", reader_id="b-reader").model_dump(mode="json"),
    )
    gate = DoorConfig(id="gate", reader_id="gate-reader", contact_id="gate-door")

    def put() -> str:
        try:
            access.sites.put_door("edge-a", gate)
        except InvalidInputError as refused:
            return str(refused)
        raise AssertionError("the door was put on two sites")

    assert _put_while_another_inserts(pg_engine, theirs, put) == "door gate belongs to site edge-b"
    assert [d.edge_id for d in access.sites.list_doors()] == ["edge-b"]


def test_a_door_access_site_created_twice_at_once_is_refused_the_second_time(
    pg_engine: Engine,
) -> None:
    access = AccessStore(pg_engine, clock=FakeClock(NOW))
    theirs = insert(AccessSiteRow).values(
        edge_id="edge-a",
        name="Theirs",
        timezone="UTC",
        hash_key="00" * 32,
        version=0,
        created_at=NOW,
    )

    def create() -> str:
        try:
            access.sites.create_site("edge-a", "Courtyard", "Asia/Shanghai")
        except InvalidInputError as refused:
            return str(refused)
        raise AssertionError("one site created twice")

    assert _put_while_another_inserts(pg_engine, theirs, create) == "site edge-a already exists"
    assert [site.name for site in access.sites.list_sites()] == ["Theirs"]
