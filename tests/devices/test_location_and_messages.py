"""Locations as paths, the site file, and the edge↔hub wire messages."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.kinds import AlertKind, AlertState, Severity, forwarding_rank
from devices.location import Location, lies_within, place_key
from devices.messages import Alert, AlertReason
from devices.registry import Device
from devices.site import SiteFile


def test_location_levels() -> None:
    unit = Location.parse(" Building 3 / Floor 12 /Unit 1201")
    assert str(unit) == "Building 3/Floor 12/Unit 1201"
    assert unit.at_level(1) == Location(("Building 3",))
    assert unit.within(Location.parse("Building 3/Floor 12"))
    assert not unit.within(Location.parse("Building 31"))
    other = Location.parse("Building 3/Floor 11/Unit 1101")
    assert unit.shares_level(other, 1)
    assert not unit.shares_level(other, 2)
    assert not unit.shares_level(Location.parse("Building 3"), 2)


@pytest.mark.parametrize("bad", ["", "/", "Building 3//Unit", "/Building 3"])
def test_bad_locations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="location"):
        Location.parse(bad)


def test_device_model_is_strict() -> None:
    with pytest.raises(ValidationError):
        Device.model_validate({"id": "a", "kind": "toaster", "location": "B1"})
    with pytest.raises(ValidationError):
        Device.model_validate({"id": "a", "kind": "smoke", "location": "B1", "colour": "red"})


def test_life_safety_leaves_first_and_sos_before_all() -> None:
    ranks = {kind: forwarding_rank(kind) for kind in AlertKind}
    assert ranks[AlertKind.SOS] < ranks[AlertKind.SMOKE] < ranks[AlertKind.WATER_LEAK]
    assert ranks[AlertKind.WATER_LEAK] < ranks[AlertKind.BATTERY_LOW]
    assert Severity.CRITICAL.rank < Severity.LOW.rank


def alert(**changes: object) -> Alert:
    base = Alert(
        id="a1b2c3d4e5",
        edge_id="edge-1",
        device_id="co-1",
        kind=AlertKind.CO,
        state=AlertState.RAISED,
        severity=Severity.CRITICAL,
        ts=datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        detected_at=datetime(2026, 11, 22, 8, 0, 1, tzinfo=UTC),
        reason=AlertReason(rule="co_ppm >= 50", values={"co_ppm": 80.0}),
    )
    return base.model_copy(update=changes)


def test_alert_round_trips_and_tolerates_fields_from_a_newer_peer() -> None:
    original = alert()
    wire = original.model_dump_json()
    assert Alert.model_validate_json(wire) == original
    newer = wire[:-1] + ', "confidence": 0.9}'
    assert Alert.model_validate_json(newer) == original


def test_alert_requires_an_aware_event_time_and_a_proper_id() -> None:
    wire = alert().model_dump_json()
    with pytest.raises(ValidationError):
        Alert.model_validate_json(wire.replace("2026-11-22T08:00:00Z", "2026-11-22T08:00:00"))
    with pytest.raises(ValidationError):
        Alert.model_validate_json(wire.replace("a1b2c3d4e5", "x"))


def test_site_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "Test"\nedge_id = "edge-t"\n'
        '[[devices]]\nid = "s1"\nkind = "smoke"\nlocation = "B1/F1"\nzigbee_name = "s 1"\n'
    )
    site = SiteFile.load(path)
    assert [d.edge_id for d in site.with_edge()] == ["edge-t"]
    path.write_text(path.read_text() + '[[devices]]\nid = "s1"\nkind = "co"\nlocation = "B1"\n')
    with pytest.raises(ValidationError, match="unique"):
        SiteFile.load(path)


def test_two_spellings_of_one_place_are_one_place() -> None:
    unit = Location.parse("Building 3/Floor 12/Unit 1201")
    for other in ("building 3", "BUILDING  3/floor 12", "Ｂｕｉｌｄｉｎｇ\u30003/Floor 12"):
        assert unit.within(Location.parse(other)), other
    assert not unit.within(Location.parse("Building 33"))
    assert not Location.parse("Building 3").within(unit)
    assert unit.shares_level(Location.parse("building 3/FLOOR 12/Unit 1202"), 2)
    assert lies_within("３号楼/12层/1201室", "3号楼")
    assert (
        place_key("Building  3/Ｕｎｉｔ １")
        == place_key("building 3/unit 1")
        == "building 3/unit 1"
    )
    assert str(Location.parse(" Building 3 / Unit 1 ")) == "Building 3/Unit 1", "spelling kept"
