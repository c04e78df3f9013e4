"""The packaged sample site: it loads, and it has what the demo and the scenarios need."""

from devices.kinds import DeviceKind
from devices.site import SiteFile
from simulators.sensors import SIMULATORS
from simulators.sites import sample_site_path


def test_sample_site_loads_and_has_every_device_kind() -> None:
    site = SiteFile.load(sample_site_path())

    assert site.site.edge_id == "edge-courtyard"
    # Every kind a site file registers; a Zigbee bridge the edge lists itself.
    assert {d.kind for d in site.devices} == set(DeviceKind) - {DeviceKind.ZIGBEE_BRIDGE}
    assert 15 <= len(site.devices) <= 30


def test_sample_site_has_the_scenario_places() -> None:
    site = SiteFile.load(sample_site_path())
    at = {(d.location, d.kind) for d in site.devices}

    kitchen = "Building 3/Floor 12/Unit 1201/Kitchen"
    assert {(kitchen, DeviceKind.HEAT), (kitchen, DeviceKind.SMOKE)} <= at
    assert (kitchen, DeviceKind.SOS_BUTTON) in at
    assert ("Building 2/Floor 5/Unit 502/Water Heater Room", DeviceKind.CO) in at
    assert ("Boiler Room", DeviceKind.GAS) in at
    assert ("Bike Basement", DeviceKind.WATER_LEAK) in at
    assert {d.location.split("/")[0] for d in site.devices} >= {
        "Building 1",
        "Building 2",
        "Building 3",
        "Main Gate",
        "Bike Basement",
        "Boiler Room",
    }


def test_about_a_third_of_battery_devices_come_through_zigbee2mqtt() -> None:
    site = SiteFile.load(sample_site_path())
    battery = [d for d in site.devices if SIMULATORS[d.kind].battery_powered]
    zigbee = [d for d in battery if d.zigbee_name]

    assert 0.25 <= len(zigbee) / len(battery) <= 0.45
    assert all(" " in (d.zigbee_name or "") for d in zigbee)  # friendly names, as people type
    assert not [d for d in site.devices if d.zigbee_name and d not in battery]
