"""An edge's alert about a device the hub never registered (``hub.fleet.rules.adopted_device``):
the rule on plain values, then the intake on SQLite and PostgreSQL.

The edge raises alerts only for devices its inventory lists, so such an alert means the hub
missed that inventory: a lost status, or a hub restored from a backup older than the device.
Refusing the alert (acknowledged: final) lost the fire."""

from collections.abc import Mapping, Sequence

import pytest

from devices.discovery import discovered_id, discovered_location
from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import Alert
from devices.registry import Device
from hub.cases.rules import CaseStatus
from hub.fleet.claims import Claim, Provenance, Registration
from hub.fleet.rules import adopted_device
from hub.ingest.identity import intake_screen, screen_inventory
from hub.roster.rules import Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_status

SMOKE = "lanyuan-3-1201-smoke"
PLACE = "Lanyuan/Building 3/Unit 1201"


def _alert(clock: FakeClock, **update: object) -> Alert:
    alert = make_alert(device_id=SMOKE, edge_id="e2", ts=clock.now, location=PLACE)
    return alert.model_copy(update=update)


@pytest.mark.parametrize(
    ("kind", "device"),
    [
        (AlertKind.SMOKE, DeviceKind.SMOKE),
        (AlertKind.CO, DeviceKind.CO),
        (AlertKind.HEAT, DeviceKind.HEAT),
        (AlertKind.GAS, DeviceKind.GAS),
        (AlertKind.WATER_LEAK, DeviceKind.WATER_LEAK),
        (AlertKind.SOS, DeviceKind.SOS_BUTTON),
        (AlertKind.CAMERA_FIRE, DeviceKind.CAMERA),
        (AlertKind.CAMERA_TAMPER, DeviceKind.CAMERA),
    ],
)
def test_an_alert_that_says_what_raised_it_makes_a_registration(
    kind: AlertKind, device: DeviceKind, clock: FakeClock
) -> None:
    assert adopted_device(_alert(clock, kind=kind)) == Device(
        id=SMOKE, kind=device, location=PLACE, edge_id="e2"
    )


@pytest.mark.parametrize(
    "kind",
    [
        AlertKind.BATTERY_LOW,
        AlertKind.DEVICE_OFFLINE,
        AlertKind.DEVICE_TAMPER,
        AlertKind.DOOR_FORCED,
        AlertKind.DEVICE_FLOODING,
    ],
)
def test_an_alert_that_does_not_say_what_raised_it_makes_none(
    kind: AlertKind, clock: FakeClock
) -> None:
    assert adopted_device(_alert(clock, kind=kind)) is None


def test_a_missing_or_unusable_location_places_the_device_at_its_id(clock: FakeClock) -> None:
    for location in (None, "", "Building 3//Unit 1", "x" * 300):
        device = adopted_device(_alert(clock, location=location))
        assert device is not None
        assert device.location == SMOKE


# --- in the intake ----------------------------------------------------------------------


def record_inventory(
    store: HubStore, edge_id: str, devices: list[Device], clock: FakeClock
) -> None:
    """Record an edge's status listing ``devices``, screened as the hub's ingest screens it."""

    def screen(
        listed: Sequence[Device], registered: Mapping[str, Registration]
    ) -> tuple[list[Device], list[Claim]]:
        screened = screen_inventory(edge_id, listed, registered)
        return screened.kept, screened.claims

    store.fleet.record_edge_status(make_status(edge_id, devices=devices), clock.advance(30), screen)


@pytest.mark.usefixtures("engine")
def test_a_fire_about_a_device_the_hub_missed_is_cased_and_the_next_inventory_takes_over(
    store: HubStore, clock: FakeClock
) -> None:
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["e2"]))
    before = store.db.count_rows()
    fire = _alert(clock)
    result = store.intake.ingest_alerts([fire], clock.advance(1), intake_screen)

    assert [a.id for a in result.new] == [fire.id]
    assert result.rejected == []
    [case] = result.cases_opened
    assert (case.kind, case.priority, case.place) == (AlertKind.SMOKE, Severity.HIGH, "Lanyuan")
    assert store.cases.get_case(case.id).site_id == "lanyuan"
    assert result.ack_ids_by_edge() == {"e2": [fire.id]}
    [device] = store.fleet.list_devices()
    assert (device.id, device.kind, device.location, device.edge_id, device.registered_by) == (
        SMOKE,
        DeviceKind.SMOKE,
        PLACE,
        "e2",
        Provenance.ALERT,
    )
    assert store.db.count_rows()["devices"] == before["devices"] + 1
    # Never sent to the edge: its own entry (a Zigbee name here) would be overridden.
    assert store.fleet.device_registry("e2").devices == []

    # The device's next alert is an alert like any: no second registration.
    again = store.intake.ingest_alerts(
        [_alert(clock, id="again", kind=AlertKind.HEAT)], clock.advance(1), intake_screen
    )
    assert [a.id for a in again.new] == ["again"]
    assert store.db.count_rows()["devices"] == before["devices"] + 1

    # The edge's inventory arrives: its entry replaces the alert's, and is sent back.
    listed = Device(
        id=SMOKE, kind=DeviceKind.SMOKE, location=PLACE, edge_id="e2", zigbee_name="b3 1201 smoke"
    )
    record_inventory(store, "e2", [listed], clock)
    [device] = store.fleet.list_devices()
    assert (device.registered_by, device.zigbee_name) == (Provenance.INVENTORY, "b3 1201 smoke")
    assert store.fleet.device_registry("e2").devices == [listed]
    assert [c.kind for c in store.cases.list_cases(status=CaseStatus.OPEN)] == [AlertKind.SMOKE]


@pytest.mark.usefixtures("engine")
def test_an_inventory_the_same_as_the_alert_still_takes_the_device_over(
    store: HubStore, clock: FakeClock
) -> None:
    """A native device's inventory entry is what its alert said: confirmed all the same, and
    the registry the edge is sent names it from then on."""
    store.intake.ingest_alerts([_alert(clock)], clock.advance(1), intake_screen)
    listed = Device(id=SMOKE, kind=DeviceKind.SMOKE, location=PLACE, edge_id="e2")
    recorded = store.fleet.record_edge_status(
        make_status("e2", devices=[listed]),
        clock.advance(30),
        lambda devices, registered: (list(devices), []),
    )
    assert recorded.edges_changed == {"e2"}
    [device] = store.fleet.list_devices()
    assert device.registered_by is Provenance.INVENTORY
    assert store.fleet.device_registry("e2").devices == [listed]


@pytest.mark.usefixtures("engine")
def test_an_alert_that_does_not_say_what_its_device_is_is_still_refused(
    store: HubStore, clock: FakeClock
) -> None:
    before = store.db.count_rows()
    low = _alert(clock, kind=AlertKind.BATTERY_LOW, severity=Severity.LOW)
    result = store.intake.ingest_alerts([low], clock.advance(1), intake_screen)
    assert result.new == []
    assert [(r.alert.id, r.reason) for r in result.rejected] == [(low.id, "unknown_device")]
    assert result.ack_ids_by_edge() == {"e2": [low.id]}
    assert store.db.count_rows() == before


@pytest.mark.usefixtures("engine")
def test_an_adopted_device_is_no_better_than_an_inventorys_for_another_edge(
    store: HubStore, clock: FakeClock
) -> None:
    """Registered from a stolen edge's made-up alert, it does not make the real edge's fire a
    refusal: another edge's claim is taken (contested), as against an inventory."""
    store.intake.ingest_alerts([_alert(clock, edge_id="e9")], clock.advance(1), intake_screen)
    real = _alert(clock, id="real-fire")
    result = store.intake.ingest_alerts([real], clock.advance(1), intake_screen)
    assert [a.id for a in result.new] == ["real-fire"]
    # At one place, it joins the first fire's case; the claim opens a conflict case.
    assert [c.kind for c in result.cases_updated] == [AlertKind.SMOKE]
    assert [c.kind for c in result.cases_opened] == [AlertKind.DEVICE_CLAIM_CONFLICT]
    [device] = store.fleet.list_devices()
    assert device.edge_id == "e9"  # a claim never moves a device; an operator does


@pytest.mark.usefixtures("engine")
def test_without_a_screen_nothing_is_registered(store: HubStore, clock: FakeClock) -> None:
    """Only an edge's uplink is screened; the hub's own alerts (a resident's page) name
    devices it registered itself."""
    before = store.db.count_rows()
    result = store.intake.ingest_alerts([_alert(clock)], clock.advance(1))
    assert [r.reason for r in result.rejected] == ["unknown_device"]
    assert store.db.count_rows() == before


@pytest.mark.usefixtures("engine")
def test_an_edges_placeholder_never_displaces_the_operators_placement(
    store: HubStore, clock: FakeClock
) -> None:
    """A Zigbee detector the edge found unregistered is listed at its discovered place until
    the edge hears of its registration; a status sent in between must not move the detector
    the operator just placed back to "Unregistered devices of edge …" (a fresh-clone run saw
    the console list it there after its alarms came from the real place)."""
    name = "0x00158d0001d64498"
    device_id = discovered_id("e2", name)
    found = Device(
        id=device_id,
        kind=DeviceKind.SMOKE,
        location=discovered_location("e2", name),
        edge_id="e2",
        zigbee_name=name,
    )
    record_inventory(store, "e2", [found], clock)
    placed = found.model_copy(update={"location": PLACE})
    store.fleet.register_device(placed)

    record_inventory(store, "e2", [found], clock)  # sent before the edge heard of it

    [device] = store.fleet.list_devices()
    assert (device.location, device.registered_by) == (PLACE, Provenance.OPERATOR)
    assert store.fleet.device_registry("e2").devices == [placed]
    # Once the edge has it, its inventory says the same: nothing to write.
    record_inventory(store, "e2", [placed], clock)
    assert store.fleet.get_device(device_id).location == PLACE
