"""A community moved to another street (a re-zoning of 街道): its past cases stay with the
street they happened under, its new ones go to the new street (``cases.street``); on SQLite and
PostgreSQL, through the repository and the request's and wellbeing check's own cases."""

from datetime import timedelta

from sqlalchemy import Engine, update

from devices.kinds import AlertKind
from hub.persistence.tables import CaseRow
from hub.roster.rules import Site
from hub.statistics.rules import GroupBy, grouped
from hub.store import HubStore
from tests.hub.factories import T0, make_alert
from tests.hub.test_statistics import statistics_store

DAY = timedelta(days=1)


def test_a_community_that_moves_street_leaves_its_past_cases_with_the_old_one(
    engine: Engine,
) -> None:
    store: HubStore = statistics_store(engine)  # Lanyuan under Jiaodaokou, district D
    [before] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", street="Beixinqiao", district="D"))
    later = make_alert(device_id="b3-co", kind=AlertKind.CO, ts=T0 + 2 * DAY)
    [after] = store.intake.ingest_alerts([later], T0 + 2 * DAY).cases_opened

    facts = store.statistics.case_facts(T0, T0 + 3 * DAY)
    assert {f.id: f.street for f in facts} == {before.id: "Jiaodaokou", after.id: "Beixinqiao"}
    by_street = grouped(facts, GroupBy.STREET)
    assert [(g.key, g.figures.opened) for g in by_street] == [("Beixinqiao", 1), ("Jiaodaokou", 1)]
    old = store.statistics.case_facts(T0, T0 + 3 * DAY, street="Jiaodaokou")
    assert [f.id for f in old] == [before.id]
    assert [f.id for f in store.statistics.case_facts(T0, T0 + DAY, street="Beixinqiao")] == []


def test_a_case_of_a_community_given_its_street_only_later_takes_that_street(
    engine: Engine,
) -> None:
    store: HubStore = statistics_store(engine)
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan"))  # no street, no district yet
    [case] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", street="Jiaodaokou", district="D"))
    [fact] = store.statistics.case_facts(T0, T0 + DAY, district="D")
    assert (fact.id, fact.street, fact.district) == (case.id, "Jiaodaokou", "D")


def test_a_case_keeps_its_street_and_district_as_a_pair(engine: Engine) -> None:
    store: HubStore = statistics_store(engine)
    [case] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    with engine.begin() as conn:  # opened under a street of no district
        conn.execute(update(CaseRow).where(CaseRow.id == case.id).values(district=None))
    [fact] = store.statistics.case_facts(T0, T0 + DAY)
    assert (fact.street, fact.district) == ("Jiaodaokou", None)
