"""A responder's fix locks only the cases it may mark: those whose team holds the responder.

Every on-call phone reports every 30 s or so; a fix used to lock every active case of its
site (``SELECT ... FOR UPDATE``), so a fire case that an alert, an acknowledgement or an
escalation was updating held up every phone of the site, and each fix held up those in turn
(and could deadlock with a transaction locking two cases in another order)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from hub.persistence.tables import CaseRow
from hub.positions.rules import MapPlace, Position
from hub.roster.rules import Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
BUILDING_3 = MapPlace(place="Building 3", lat=39.939, lon=116.406)


def test_a_fix_does_not_wait_for_a_case_its_responder_is_not_on(pg_engine: Engine) -> None:
    clock = FakeClock(NOW)
    store = HubStore(pg_engine, clock=clock)
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["e1"], map=[BUILDING_3]))
    # A volunteer: never dispatched to a fire, so on no fire's team.
    volunteer = Responder(id="vol-1", site_id="lanyuan", name="V", role=ResponderRole.VOLUNTEER)
    store.roster.put_responder(volunteer)
    store.fleet.register_device(make_device("b3-1201-smoke"))
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert "vol-1" not in [m.responder for m in fire.team]

    clock.advance(30)
    here = Position(BUILDING_3.lat, BUILDING_3.lon, clock.now - timedelta(seconds=5), 10)
    phone = ThreadPoolExecutor(max_workers=1)
    with pg_engine.connect() as other_worker:
        # Another worker is in the middle of updating the fire case.
        other_worker.execute(select(CaseRow.id).where(CaseRow.id == fire.id).with_for_update())
        try:
            taken = phone.submit(store.positions.report, "vol-1", here)
            assert taken.result(timeout=10) == []
        finally:
            other_worker.rollback()
            phone.shutdown()
    [where] = store.positions.positions()
    assert where.responder_id == "vol-1"
