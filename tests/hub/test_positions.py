"""Responders' positions, the pure rules (``hub.positions.rules``), the OwnTracks message as the
hub reads it, and nearest-first in the dispatch rules."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.cases.dispatch import choose_responder
from hub.errors import InvalidInputError
from hub.positions.rules import (
    FRESH_FOR,
    MapPlace,
    Position,
    distance_m,
    distances,
    fresh,
    on_site,
    place_coordinates,
    read_owntracks,
)
from hub.roster.rules import Responder, ResponderRole

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 02:00 in Shanghai
BUILDING_3 = MapPlace(place="Building 3", lat=39.93900, lon=116.40600)
METRE_LAT = 1 / 111_195  # about a metre of latitude, in degrees


def north_of(place: MapPlace, metres: float, at: datetime = NOW) -> Position:
    return Position(place.lat + metres * METRE_LAT, place.lon, at)


def test_great_circle_distances() -> None:
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)
    assert distance_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)  # at the equator
    assert distance_m(60, 0, 60, 1) == pytest.approx(111_195 / 2, rel=1e-3)  # cos 60° = 1/2
    near = north_of(BUILDING_3, 80)
    assert distance_m(near.lat, near.lon, BUILDING_3.lat, BUILDING_3.lon) == pytest.approx(80, 0.01)
    assert distance_m(0, 0, 0, 180) == pytest.approx(20_015_087, rel=1e-4)  # half the equator


def test_a_place_is_where_the_longest_map_place_containing_it_is() -> None:
    site = MapPlace(place="Lanyuan", lat=39.0, lon=116.0)
    boiler = MapPlace(
        place="Lanyuan/Building 3/Basement", lat=39.1, lon=116.1, kind="hazard_source"
    )
    building = MapPlace(place="Lanyuan/Building 3", lat=39.2, lon=116.2)
    places = [site, boiler, building]
    assert place_coordinates(places, "Lanyuan/Building 3/Floor 12/1201") == building
    assert place_coordinates(places, "Lanyuan/Building 3/Basement/Boiler room") == boiler
    assert place_coordinates(places, "Lanyuan/Gate") == site
    assert place_coordinates(places, "Meiyuan/Building 3") is None
    assert place_coordinates(places, "") is None  # not a location path: nowhere


def test_a_position_counts_while_fresh_and_on_site_within_reach() -> None:
    assert fresh(north_of(BUILDING_3, 0, NOW - FRESH_FOR), NOW)
    assert not fresh(north_of(BUILDING_3, 0, NOW - FRESH_FOR - timedelta(seconds=1)), NOW)
    assert not fresh(north_of(BUILDING_3, 0, NOW + timedelta(hours=1)), NOW)  # a clock ahead
    assert on_site(north_of(BUILDING_3, 45), BUILDING_3)
    assert not on_site(north_of(BUILDING_3, 60), BUILDING_3)
    vague = north_of(BUILDING_3, 60)
    assert on_site(Position(vague.lat, vague.lon, NOW, accuracy_m=20), BUILDING_3)
    # An accuracy of a kilometre cannot tell: not on site, however near the fix.
    far = north_of(BUILDING_3, 120)
    assert not on_site(Position(far.lat, far.lon, NOW, accuracy_m=1000), BUILDING_3)
    assert not on_site(Position(vague.lat, vague.lon, NOW, accuracy_m=1000), BUILDING_3)
    positions = {"a": north_of(BUILDING_3, 80), "b": north_of(BUILDING_3, 600, NOW - FRESH_FOR * 2)}
    assert list(distances(BUILDING_3, positions, NOW)) == ["a"]


PATROL = Responder(id="patrol-far", site_id="lanyuan", name="Far", role=ResponderRole.SECURITY)


def test_the_nearest_fitting_responder_goes_first() -> None:
    near = PATROL.model_copy(update={"id": "patrol-near", "name": "Near"})
    unplaced = PATROL.model_copy(update={"id": "patrol-aa", "name": "No phone"})
    roster = [PATROL, near, unplaced]
    roles = [ResponderRole.SECURITY]

    def chosen(metres: dict[str, float] | None) -> str | None:
        found = choose_responder(
            roles, "lanyuan", None, roster, NOW, "Asia/Shanghai", distances=metres
        )
        return None if found is None else found.id

    assert chosen({"patrol-far": 600.0, "patrol-near": 80.0}) == "patrol-near"
    assert chosen({"patrol-far": 600.0}) == "patrol-far"  # a known position beats none
    assert chosen(None) == "patrol-aa"  # no map: the lowest id, as before
    # The role and the grid still come first: a grid's own worker before a nearer site-wide one.
    worker = Responder(
        id="grid-3", site_id="lanyuan", name="W", role=ResponderRole.GRID_WORKER, grid_ids=["g-b3"]
    )
    site_wide = Responder(id="prop", site_id="lanyuan", name="S", role=ResponderRole.GRID_WORKER)
    found = choose_responder(
        [ResponderRole.GRID_WORKER],
        "lanyuan",
        "g-b3",
        [worker, site_wide],
        NOW,
        "Asia/Shanghai",
        distances={"grid-3": 900.0, "prop": 10.0},
    )
    assert found is not None
    assert found.id == "grid-3"


# --- the OwnTracks message -----------------------------------------------------------------

# As the OwnTracks booklet shows a location (its JSON page), with the fields Linli does not read.
BOOKLET_LOCATION = (
    b'{"_type":"location","acc":13,"alt":52,"batt":71,"bs":1,"conn":"w","created_at":1772474390,'
    b'"lat":39.93905,"lon":116.40610,"m":1,"t":"u","tid":"PN","tst":1772474390,"vac":0,'
    b'"vel":0,"BSSID":"ab:cd:ef:01:23:45","SSID":"courtyard"}'
)


def test_an_owntracks_location_is_read_and_other_messages_are_let_pass() -> None:
    now = datetime.fromtimestamp(1772474400, UTC)
    location = read_owntracks(BOOKLET_LOCATION, now)
    assert location is not None
    position = location.position()
    assert (position.lat, position.lon, position.accuracy_m) == (39.93905, 116.40610, 13)
    assert position.at == datetime.fromtimestamp(1772474390, UTC)
    assert read_owntracks(b"", now) is None  # a friend deleted: ignored
    assert read_owntracks(b'{"_type":"transition","event":"enter"}', now) is None
    assert read_owntracks(b'{"_type":"lwt","tst":1772474390}', now) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "a JSON object with a '_type'"),
        (b'{"lat": 1, "lon": 2}', "a JSON object with a '_type'"),
        (b'{"_type":"location","lat":91,"lon":116,"tst":1772474390}', "lat"),
        (b'{"_type":"location","lat":39,"lon":"east","tst":1772474390}', "lon"),
        (b'{"_type":"location","lat":39,"lon":116}', "tst"),
        (b'{"_type":"location","lat":39,"lon":116,"tst":1772474390,"acc":-1}', "acc"),
        (b'{"_type":"location","lat":39,"lon":116,"tst":1772990000}', "ahead of the hub"),
        (b'{"_type":"location","lat":1e999,"lon":116,"tst":1772474390}', "lat"),
        (b"[" * 5_000, "nested too deeply"),  # RecursionError, not ValueError, in json.loads
    ],
)
def test_what_is_not_an_owntracks_location_is_refused_with_its_reason(
    body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        read_owntracks(body, datetime.fromtimestamp(1772474400, UTC))
