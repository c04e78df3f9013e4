"""Each device's check-in deadline as its edge's status gives it, shown with the device
(``devices.messages.Checkin``, ``DeviceView.checkin``): on SQLite and PostgreSQL."""

import pytest

from devices.kinds import DeviceKind
from devices.messages import Checkin, EdgeStatus
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_device, make_status

FLOOD = make_device("bike-flood", kind=DeviceKind.WATER_LEAK, location="Building 1/Bike room")
SMOKE = make_device("b3-smoke")
LEARNED = Checkin(deadline_s=93_600, source="learned", learned_interval_s=86_400)
DEFAULT = Checkin(deadline_s=7_200, source="default")


def _status(**update: object) -> EdgeStatus:
    return make_status("e1", devices=[FLOOD, SMOKE]).model_copy(update=update)


def _shown(store: HubStore) -> dict[str, Checkin | None]:
    return {device.id: device.checkin for device in store.fleet.list_devices()}


@pytest.mark.usefixtures("engine")
def test_each_device_shows_the_deadline_its_edge_last_gave(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.record_edge_status(_status(), clock.advance(1))
    # An edge older than check-ins: nothing to show.
    assert _shown(store) == {"b3-smoke": None, "bike-flood": None}

    store.fleet.record_edge_status(
        _status(checkins={"bike-flood": LEARNED, "b3-smoke": DEFAULT}), clock.advance(30)
    )
    assert _shown(store) == {"b3-smoke": DEFAULT, "bike-flood": LEARNED}
    assert store.fleet.get_device("bike-flood").checkin == LEARNED

    # The edge's last will (offline) says nothing of them: the last known are kept.
    store.fleet.record_edge_status(EdgeStatus(edge_id="e1", state="offline"), clock.advance(30))
    assert _shown(store) == {"b3-smoke": DEFAULT, "bike-flood": LEARNED}

    # Back online, learning again from the kind's default (its data was lost, say).
    store.fleet.record_edge_status(
        _status(checkins={"bike-flood": Checkin(deadline_s=21_600, source="default")}),
        clock.advance(30),
    )
    assert _shown(store) == {
        "b3-smoke": None,
        "bike-flood": Checkin(deadline_s=21_600, source="default"),
    }


@pytest.mark.usefixtures("engine")
def test_another_edges_deadlines_are_not_this_devices(store: HubStore, clock: FakeClock) -> None:
    """A device shows what its own edge says, not what another edge says of the same id."""
    store.fleet.record_edge_status(_status(checkins={"b3-smoke": DEFAULT}), clock.advance(1))
    store.fleet.record_edge_status(
        make_status("e2").model_copy(update={"checkins": {"b3-smoke": LEARNED}}),
        clock.advance(1),
    )
    assert _shown(store)["b3-smoke"] == DEFAULT
