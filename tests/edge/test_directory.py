"""The device directory: site-file devices plus what the hub pushes, and the detectors
found unregistered."""

from devices.discovery import discovered_id, discovered_location
from devices.kinds import DeviceKind
from devices.observations import NativeAddress, ZigbeeAddress
from devices.registry import Device
from edge.directory import MAX_DISCOVERED, DeviceDirectory

SMOKE = Device(id="b3-smoke", kind=DeviceKind.SMOKE, location="B3/F12/1201")
SOS = Device(id="b3-sos", kind=DeviceKind.SOS_BUTTON, location="B3/F12/1201", zigbee_name="b3 sos")


def test_resolves_native_ids_and_zigbee_names() -> None:
    directory = DeviceDirectory([SMOKE, SOS])
    assert directory.resolve(NativeAddress("b3-smoke")) == SMOKE
    assert directory.resolve(ZigbeeAddress("b3 sos")) == SOS
    assert directory.resolve(NativeAddress("b3-sos")) == SOS


def test_unknown_devices_resolve_to_none() -> None:
    directory = DeviceDirectory([SMOKE, SOS])
    assert directory.resolve(NativeAddress("nobody")) is None
    assert directory.resolve(ZigbeeAddress("b3-smoke")) is None
    assert directory.resolve(ZigbeeAddress("nobody")) is None


def test_hub_devices_are_added_and_replaced_without_dropping_site_devices() -> None:
    directory = DeviceDirectory([SMOKE])
    leak = Device(id="bike-leak", kind=DeviceKind.WATER_LEAK, location="Basement", zigbee_name="lk")
    directory.replace_hub_devices([leak])
    assert directory.resolve(ZigbeeAddress("lk")) == leak
    assert directory.resolve(NativeAddress("b3-smoke")) == SMOKE
    directory.replace_hub_devices([])
    assert directory.resolve(ZigbeeAddress("lk")) is None
    assert directory.resolve(NativeAddress("b3-smoke")) == SMOKE
    assert len(directory) == 1


def test_a_hub_record_overrides_the_site_record_of_the_same_device() -> None:
    directory = DeviceDirectory([SOS])
    moved = SOS.model_copy(update={"location": "B3/F11/1101", "zigbee_name": "b3 sos new"})
    directory.replace_hub_devices([moved])
    assert directory.resolve(NativeAddress("b3-sos")) == moved
    assert directory.resolve(ZigbeeAddress("b3 sos new")) == moved
    assert directory.resolve(ZigbeeAddress("b3 sos")) is None
    directory.replace_hub_devices([])
    assert directory.resolve(ZigbeeAddress("b3 sos")) == SOS
    assert directory.devices() == [SOS]


# --- detectors discovered unregistered (edge.discovery) ----------------------------------

FOUND = Device(
    id=discovered_id("e1", "0x00158d0001d64498"),
    kind=DeviceKind.SMOKE,
    location=discovered_location("e1", "0x00158d0001d64498"),
    edge_id="e1",
    zigbee_name="0x00158d0001d64498",
)


def test_a_discovered_detector_is_listed_but_not_resolved_as_registered() -> None:
    directory = DeviceDirectory([SMOKE])
    assert directory.remember_discovered(FOUND)
    assert not directory.remember_discovered(FOUND)  # once

    assert directory.discovered("0x00158d0001d64498") == FOUND
    assert directory.discovered_devices() == [FOUND]
    assert directory.devices() == [SMOKE, FOUND]  # supervised, by id
    assert directory.resolve(ZigbeeAddress("0x00158d0001d64498")) is None
    assert directory.resolve(NativeAddress(FOUND.id)) is None  # no native identity of its own


def test_a_registration_of_its_name_takes_a_discovered_detector_over() -> None:
    directory = DeviceDirectory()
    directory.remember_discovered(FOUND)
    placed = Device(
        id="b5-0302-smoke",
        kind=DeviceKind.SMOKE,
        location="Building 5/Floor 3/Unit 302",
        zigbee_name="0x00158d0001d64498",
    )
    directory.replace_hub_devices([placed])

    assert directory.discovered("0x00158d0001d64498") is None
    assert directory.discovered_devices() == []
    assert directory.devices() == [placed]  # no longer supervised twice, nor listed
    assert directory.resolve(ZigbeeAddress("0x00158d0001d64498")) == placed


def test_the_hubs_copy_at_its_discovered_place_yields_the_name_to_a_placed_registration() -> None:
    """The hub registered the detector from the edge's inventory, at its discovered place, and
    an operator registered it again under another id: the operator's wins, whatever the order."""
    placed = Device(
        id="a-first-by-id",
        kind=DeviceKind.SMOKE,
        location="B5/F3/302",
        zigbee_name=FOUND.zigbee_name,
    )
    later = placed.model_copy(update={"id": "z-last-by-id"})
    for registered in ([FOUND, placed], [placed, FOUND], [FOUND, later], [later, FOUND]):
        directory = DeviceDirectory()
        directory.replace_hub_devices(registered)
        [other] = [d for d in registered if d is not FOUND]
        assert directory.resolve(ZigbeeAddress("0x00158d0001d64498")) == other
    # Alone, the hub's copy is the device (the edge restarted and forgot what it found).
    directory = DeviceDirectory()
    directory.replace_hub_devices([FOUND])
    assert directory.resolve(ZigbeeAddress("0x00158d0001d64498")) == FOUND
    assert directory.discovered_devices() == []


def test_so_many_discovered_detectors_are_remembered_and_no_more() -> None:
    directory = DeviceDirectory()
    for n in range(MAX_DISCOVERED):
        device = FOUND.model_copy(update={"id": f"found-{n:04d}", "zigbee_name": f"z{n}"})
        assert directory.remember_discovered(device)
    one_more = FOUND.model_copy(update={"id": "found-more", "zigbee_name": "z-more"})
    assert not directory.remember_discovered(one_more)
    assert len(directory.discovered_devices()) == MAX_DISCOVERED
    assert directory.discovered("z-more") is None
