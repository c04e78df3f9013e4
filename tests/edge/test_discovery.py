"""Which unregistered senders the edge handles as detectors of their own (``edge.discovery``):
real Zigbee2MQTT messages of detectors, and of devices that are not detectors."""

import json
from pathlib import Path

import pytest

from devices.adapters import decode
from devices.discovery import discovered_id, discovered_location, is_placeholder
from devices.kinds import DeviceKind
from devices.location import Location, normalise_location
from devices.observations import (
    Decoded,
    DeviceEvent,
    NativeAddress,
    ShellyAddress,
    StateUpdate,
    TasmotaAddress,
    ZigbeeAddress,
)
from devices.payloads import Readings
from devices.registry import Device, check_identifier
from edge.discovery import detector_kind, discovered_device
from tests.conftest import realdata_records

DETECTORS = {
    "z2m_smoke_detector.json": DeviceKind.SMOKE,
    "z2m_gas_detector.json": DeviceKind.GAS,
    "z2m_water_leak.json": DeviceKind.WATER_LEAK,
}
NOT_DETECTORS = [
    "z2m_temperature_and_misc.json",
    "z2m_door_window_contact.json",
    "z2m_sos_emergency_button.json",
]


def _decoded_zigbee_records(realdata: Path, name: str) -> list[tuple[str, Decoded]]:
    """Every record of a realdata file on a Zigbee2MQTT device topic, decoded."""
    found = []
    for record in realdata_records(realdata, name):
        topic, payload = record.get("topic"), record.get("payload")
        if not isinstance(topic, str) or not isinstance(payload, dict):
            continue
        decoded = decode(topic, json.dumps(payload).encode())
        if decoded is not None and isinstance(decoded.address, ZigbeeAddress):
            found.append((topic, decoded))
    return found


@pytest.mark.parametrize(("name", "kind"), sorted(DETECTORS.items()))
def test_a_real_detectors_alarm_is_discovered_as_its_kind(
    realdata: Path, name: str, kind: DeviceKind
) -> None:
    records = _decoded_zigbee_records(realdata, name)
    discovered = [
        (topic, discovered_device("edge-b3", d.address, d.observations)) for topic, d in records
    ]
    assert discovered, f"no Zigbee2MQTT records in {name}"
    # Every record that carries the detector's own reading is discovered, as that kind; one
    # that carries only others (a gas detector's bare gas_density) is not.
    alarms = [(t, d) for t, d in discovered if d is not None]
    assert alarms, f"no record of {name} names its detector"
    for topic, device in alarms:
        assert device is not None
        assert device.kind is kind
        assert device.zigbee_name == topic.removeprefix("zigbee2mqtt/")
        assert device.edge_id == "edge-b3"


@pytest.mark.parametrize("name", NOT_DETECTORS)
def test_real_devices_that_are_not_detectors_are_not_discovered(realdata: Path, name: str) -> None:
    records = _decoded_zigbee_records(realdata, name)
    assert records, f"no Zigbee2MQTT records in {name}"
    for _topic, decoded in records:
        assert discovered_device("edge-b3", decoded.address, decoded.observations) is None


def test_each_detector_reading_names_its_kind_life_safety_first() -> None:
    def kind(**readings: object) -> DeviceKind | None:
        return detector_kind([StateUpdate(Readings.model_validate(readings))])

    assert kind(smoke=False) is DeviceKind.SMOKE
    assert kind(smoke_density_db_per_m=0.1) is DeviceKind.SMOKE
    assert kind(co_alarm=True) is DeviceKind.CO
    assert kind(co_ppm=12) is DeviceKind.CO
    assert kind(gas=False) is DeviceKind.GAS
    assert kind(gas_lel_pct=3) is DeviceKind.GAS
    assert kind(water_leak=True) is DeviceKind.WATER_LEAK
    assert kind(co_ppm=12, smoke=False) is DeviceKind.SMOKE  # a combined detector
    assert kind(temperature_c=80) is None  # a thermometer is no heat detector
    assert kind(contact=False, battery_pct=3, tamper=True) is None
    assert detector_kind([DeviceEvent("press")]) is None  # a button may be a light switch


def test_only_zigbee_senders_are_discovered() -> None:
    smoke = [StateUpdate(Readings(smoke=True))]
    for address in (
        NativeAddress("nobody"),
        TasmotaAddress("bridge", ("Kitchen",)),
        ShellyAddress("shellysmoke-a1b2c3"),
    ):
        assert discovered_device("edge-b3", address, smoke) is None
    assert isinstance(discovered_device("edge-b3", ZigbeeAddress("x"), smoke), Device)


@pytest.mark.parametrize(
    "name",
    [
        "0x00158d0001d64498",
        "Smoke",
        "kitchen/smoke",
        "sensore perdita gas",
        "厨房 烟感",
        "a" * 200,
        "//",
        "-",
    ],
)
def test_a_discovered_device_has_a_valid_stable_id_and_place_of_its_own_edge(name: str) -> None:
    device_id = discovered_id("edge-b3", name)
    assert check_identifier(device_id) == device_id
    assert discovered_id("edge-b3", name) == device_id
    assert discovered_id("edge-b4", name) != device_id
    assert discovered_id("edge-b3", name + "2") != device_id
    location = discovered_location("edge-b3", name)
    assert normalise_location(location) == location
    assert location.startswith("Unregistered devices of edge edge-b3/")
    # One place per edge at the building level: the fire rule's incidents stay per edge.
    here = Location.parse(location)
    assert here.shares_level(Location.parse(discovered_location("edge-b3", "other")), 1)
    assert not here.shares_level(Location.parse(discovered_location("edge-b4", name)), 1)


def test_a_long_edge_id_still_makes_a_valid_id() -> None:
    edge = "e" * 64
    device_id = discovered_id(edge, "smoke")
    assert check_identifier(device_id) == device_id
    assert device_id != discovered_id(edge, "smoke 2")


@pytest.mark.parametrize("name", ["0x00158d0001d64498", "kitchen/smoke", "厨房 烟感", "a" * 300])
def test_a_discovered_device_is_a_placeholder_until_it_is_placed(name: str) -> None:
    decoded = Decoded(ZigbeeAddress(name), (StateUpdate(Readings(smoke=False)),))
    device = discovered_device("edge-b3", decoded.address, decoded.observations)
    assert device is not None
    assert is_placeholder(device)
    assert not is_placeholder(device.model_copy(update={"location": "Building 5/Floor 3/302"}))
    # The same place under another edge, or with no Zigbee name, is no discovered place.
    assert not is_placeholder(device.model_copy(update={"edge_id": "edge-b4"}))
    assert not is_placeholder(device.model_copy(update={"zigbee_name": None}))
