"""An incident is one site's: places are named within their site (every community has its
Building 3), so two sites' alarms at places of the same name are two cases, each placed and
seen in its own site (``hub.cases.correlation.place_route_key``)."""

from datetime import timedelta

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.correlation import place_route_key
from hub.roster.rules import Grid, Site
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_device, make_status

UNIT = "Building 3/Floor 2/Unit 201"


def test_the_same_place_in_two_sites_is_two_incidents() -> None:
    assert place_route_key("fire", "Building 3", "lanyuan") != place_route_key(
        "fire", "Building 3", "meiyuan"
    )
    assert place_route_key("fire", "Building 3", "lanyuan") == place_route_key(
        "fire", "building 3", "lanyuan"
    ), "still one key for every spelling of the place"
    assert place_route_key("fire", "Building 3") == place_route_key("fire", "Building 3", None)


def two_sites(store: HubStore) -> None:
    """Lanyuan and Meiyuan, each with its edge, a smoke detector in its Building 3 and a
    resident's page button (no edge: placed by its grid) in the same unit."""
    for site, edge in (("lanyuan", "e-lan"), ("meiyuan", "e-mei")):
        store.roster.put_site(Site(id=site, name=site.title(), edge_ids=[edge]))
        store.roster.put_grid(Grid(id=f"g-{site}", site_id=site, name="B3", places=["Building 3"]))
        smoke = make_device(f"{site}-smoke", location=UNIT, edge_id=edge)
        store.fleet.record_edge_status(make_status(edge, devices=[smoke]), T0)


def test_two_sites_fires_in_their_building_3_are_two_cases_each_in_its_site(
    store: HubStore,
) -> None:
    """Found by an outside review: a stolen edge of one site listed a detector at a place of
    another and raised it first; that site's real fire then joined the decoy's case, placed
    and dispatched in the thief's site and invisible to its own. Any two sites sharing a
    place name met the same way, without an attacker."""
    two_sites(store)
    first = store.intake.ingest_alerts(
        [make_alert(device_id="meiyuan-smoke", edge_id="e-mei", severity=Severity.CRITICAL)], T0
    )
    later = T0 + timedelta(seconds=30)
    second = store.intake.ingest_alerts(
        [make_alert(device_id="lanyuan-smoke", edge_id="e-lan", ts=later)], later
    )
    [mei] = first.cases_opened
    assert second.cases_updated == [], "not joined to the other site's case"
    [lan] = second.cases_opened
    assert (mei.site_id, lan.site_id) == ("meiyuan", "lanyuan")
    assert [c.site_id for c in store.cases.list_cases(sites=frozenset({"lanyuan"}))] == ["lanyuan"]


def test_an_sos_from_a_residents_page_still_joins_its_own_sites_fire(store: HubStore) -> None:
    """A page button has no edge: its site is its grid's, so it still attaches to a fire of
    its own site's building, and not to the other site's."""
    two_sites(store)
    store.fleet.register_device(
        make_device("lanyuan-page", kind=DeviceKind.SOS_BUTTON, location=UNIT, edge_id=None)
    )
    fire = store.intake.ingest_alerts(
        [make_alert(device_id="meiyuan-smoke", edge_id="e-mei")], T0
    ).cases_opened
    own = store.intake.ingest_alerts(
        [make_alert(device_id="lanyuan-smoke", edge_id="e-lan")], T0
    ).cases_opened
    press = make_alert(
        device_id="lanyuan-page",
        edge_id="hub",
        kind=AlertKind.SOS,
        severity=Severity.CRITICAL,
        ts=T0 + timedelta(seconds=10),
    )
    joined = store.intake.ingest_alerts([press], T0 + timedelta(seconds=10))
    assert joined.cases_opened == []
    [case] = joined.cases_updated
    assert case.id == own[0].id != fire[0].id
