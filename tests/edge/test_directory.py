"""The device directory: site-file devices plus what the hub pushes."""

from devices.kinds import DeviceKind
from devices.observations import NativeAddress, ZigbeeAddress
from devices.registry import Device
from edge.directory import DeviceDirectory

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
