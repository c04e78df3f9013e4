"""Retiring a device (``hub.fleet.retirement``): the rules on plain values, then the store on
SQLite and PostgreSQL.

A replaced detector, a discovered detector registered again under another id: listed for ever
before, and shown as a fault on the site plan once silent. Retired, it leaves the lists and its
edge's registry; its history stays; an alert from it brings it back."""

from datetime import timedelta

import pytest

from devices.kinds import FAULTS, AlertKind, AlertState, DeviceKind
from hub.auth.rules import Permission, Principal, Role, required_permission
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.errors import InvalidInputError, NotFoundError
from hub.fleet.claims import Provenance
from hub.fleet.retirement import (
    DeviceInUseError,
    RetiredTake,
    Ties,
    inventory_brings_back,
    refusal,
    sort_retired,
)
from hub.ingest.identity import intake_screen
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.test_fleet_adoption import record_inventory

SMOKE = make_device("b3-1201-smoke")
OTHER = make_device("b3-1202-smoke", location="Building 3/Floor 12/Unit 1202")


def test_a_device_nothing_needs_may_be_retired() -> None:
    assert refusal("d1", Ties()) is None


def test_what_still_needs_a_device_is_named() -> None:
    assert refusal("d1", Ties(open_cases=(4, 7))) == (
        "device d1 cannot be retired: it is in unfinished case #4, #7 (resolve it first)"
    )
    assert refusal("d1", Ties(households=(2,), care_households=(3,))) == (
        "device d1 cannot be retired: it is the SOS button of household #2 (take it off "
        "first); the quiet-day watch of household #3 reads it (take it off first)"
    )


def test_an_alarm_brings_a_retired_device_back_and_its_faults_and_clearances_do_not() -> None:
    fault = make_alert(id="alert-01", device_id="d1", kind=AlertKind.DEVICE_TAMPER, ts=T0)
    cleared = make_alert(id="alert-02", device_id="d1", state=AlertState.CLEARED, ts=T0)
    alarm = make_alert(
        id="alert-03", device_id="d2", kind=AlertKind.CO, ts=T0 + timedelta(seconds=1)
    )
    other = make_alert(id="alert-04", device_id="d2", kind=AlertKind.BATTERY_LOW, ts=T0)
    in_service = make_alert(id="alert-05", device_id="d3", kind=AlertKind.DEVICE_OFFLINE, ts=T0)

    take = sort_retired([fault, cleared, alarm, other, in_service], {"d1", "d2"})

    # d2 is back from its CO alarm, and then its battery alert is any device's.
    assert take == RetiredTake(back={"d2": "alert-03"}, kept={"alert-01", "alert-02"})
    for kind in FAULTS:
        assert sort_retired([make_alert(device_id="d1", kind=kind)], {"d1"}).back == {}
    for kind in (AlertKind.SMOKE, AlertKind.SOS, AlertKind.DOOR_FORCED, AlertKind.CAMERA_FIRE):
        assert sort_retired(
            [make_alert(id="alert-xx", device_id="d1", kind=kind)], {"d1"}
        ).back == {"d1": "alert-xx"}


def test_only_another_edges_inventory_brings_a_retired_device_back() -> None:
    assert not inventory_brings_back("e1", "e1")
    assert inventory_brings_back("e1", "e2")
    assert inventory_brings_back(None, "e2")
    assert not inventory_brings_back("e1", None)


# --- the store --------------------------------------------------------------------------


def _audit(store: HubStore) -> list[tuple[str, str | None, dict[str, object]]]:
    return [
        (entry.action, entry.actor, entry.detail)
        for entry in store.audit.list_audit(limit=1000)
        if entry.action.startswith("device_")
    ]


@pytest.mark.usefixtures("engine")
def test_a_retired_device_leaves_the_lists_and_its_edges_registry_and_keeps_its_history(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.upsert_devices([SMOKE, OTHER])
    [case] = store.intake.ingest_alerts([make_alert(device_id=SMOKE.id)], clock.now).cases_opened
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE, actor="op-1"
    )
    retired_at = clock.advance(60)

    change = store.fleet.retire_device(SMOKE.id, actor="op-1", reason="replaced by b3-1201-s2")

    assert (change.changed, change.edges_affected) == (True, frozenset({"e1"}))
    view = change.device
    assert (view.retired_at, view.retired_by, view.retired_reason) == (
        retired_at,
        "op-1",
        "replaced by b3-1201-s2",
    )
    assert [d.id for d in store.fleet.list_devices()] == [OTHER.id]
    assert [d.id for d in store.fleet.list_devices(retired=True)] == [SMOKE.id]
    assert store.fleet.device_registry("e1").devices == [OTHER]
    # Its history stays: the device, how its case was judged, the case itself.
    assert store.fleet.get_device(SMOKE.id).case_resolutions == {Resolution.NUISANCE: 1}
    assert store.cases.get_case(case.id).device_ids == [SMOKE.id]
    assert _audit(store) == [
        (
            "device_retired",
            "op-1",
            {"device_id": SMOKE.id, "edge_id": "e1", "reason": "replaced by b3-1201-s2"},
        )
    ]

    # A blank reason is no reason.
    assert (
        store.fleet.retire_device(OTHER.id, actor="op-1", reason="  ").device.retired_reason is None
    )
    # Again: nothing changes, no registry to send, no entry more.
    clock.advance(60)
    again = store.fleet.retire_device(SMOKE.id, actor="op-2")
    assert (again.changed, again.edges_affected) == (False, frozenset())
    assert (again.device.retired_at, again.device.retired_by) == (retired_at, "op-1")
    assert len(_audit(store)) == 2


@pytest.mark.usefixtures("engine")
def test_a_device_in_an_unfinished_case_is_not_retired(store: HubStore, clock: FakeClock) -> None:
    store.fleet.upsert_devices([SMOKE])
    [case] = store.intake.ingest_alerts([make_alert(device_id=SMOKE.id)], clock.now).cases_opened
    before = store.db.count_rows()

    with pytest.raises(DeviceInUseError, match=rf"unfinished case #{case.id}\b"):
        store.fleet.retire_device(SMOKE.id, actor="op-1")

    assert store.db.count_rows() == before
    assert [d.id for d in store.fleet.list_devices()] == [SMOKE.id]
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="real fire", resolution=Resolution.REAL, actor="op-1"
    )
    assert store.fleet.retire_device(SMOKE.id, actor="op-1").changed


@pytest.mark.usefixtures("engine")
def test_a_households_sos_button_is_not_retired(store: HubStore) -> None:
    button = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)
    store.fleet.upsert_devices([button])
    household = store.households.create_household("Li", button.location, [button.id], "h" * 64)

    with pytest.raises(DeviceInUseError, match=rf"SOS button of household #{household.id}\b"):
        store.fleet.retire_device(button.id, actor="op-1")
    assert store.fleet.get_device(button.id).retired_at is None


@pytest.mark.usefixtures("engine")
def test_a_retired_button_cannot_be_given_to_a_household(store: HubStore) -> None:
    button = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)
    store.fleet.upsert_devices([button])
    store.fleet.retire_device(button.id, actor="op-1")

    with pytest.raises(InvalidInputError, match="b3-1201-sos is not registered"):
        store.households.create_household("Li", button.location, [button.id], "h" * 64)


@pytest.mark.usefixtures("engine")
def test_an_alert_from_a_retired_device_opens_its_case_and_brings_it_back(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.upsert_devices([SMOKE])
    store.fleet.retire_device(SMOKE.id, actor="op-1", reason="removed?")
    # Taken off the ceiling, then silent, and its alarm cleared: stored, silenced, no case.
    upkeep = [
        make_alert(device_id=SMOKE.id, kind=AlertKind.DEVICE_TAMPER, ts=clock.advance(10)),
        make_alert(device_id=SMOKE.id, kind=AlertKind.DEVICE_OFFLINE, ts=clock.advance(10)),
        make_alert(device_id=SMOKE.id, state=AlertState.CLEARED, ts=clock.advance(10)),
    ]
    kept = store.intake.ingest_alerts(upkeep, clock.advance(1), intake_screen)
    assert [a.id for a in kept.new] == [a.id for a in upkeep]
    assert (kept.cases_opened, sorted(kept.silenced)) == ([], sorted(a.id for a in upkeep))
    assert store.fleet.get_device(SMOKE.id).retired_at is not None
    assert [
        (e.alert_id, e.detail)
        for e in store.audit.list_audit(limit=1000)
        if e.action == "alert_silenced"
    ] == [(a.id, {"retired_device": SMOKE.id}) for a in upkeep]

    fire = make_alert(device_id=SMOKE.id, ts=clock.advance(60))

    result = store.intake.ingest_alerts([fire], clock.advance(1), intake_screen)

    [case] = result.cases_opened
    assert (case.kind, case.device_ids) == (AlertKind.SMOKE, [SMOKE.id])
    view = store.fleet.get_device(SMOKE.id)
    assert (view.retired_at, view.retired_by, view.retired_reason) == (None, None, None)
    assert [d.id for d in store.fleet.list_devices()] == [SMOKE.id]
    retired, returned = _audit(store)
    assert retired[0] == "device_retired"
    assert returned[0] == "device_returned"
    assert returned[2]["device_id"] == SMOKE.id
    assert returned[2]["by"] == "alert"
    [entry] = [e for e in store.audit.list_audit(limit=1000) if e.action == "device_returned"]
    assert entry.alert_id == fire.id
    assert store.audit.verify_audit().intact

    # Its next alert is any alert's: nothing more to bring back.
    store.intake.ingest_alerts(
        [make_alert(device_id=SMOKE.id, ts=clock.advance(5))], clock.advance(1), intake_screen
    )
    assert len(_audit(store)) == 2


@pytest.mark.usefixtures("engine")
def test_its_own_edges_inventory_leaves_it_retired_and_another_edges_brings_it_back(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.upsert_devices([SMOKE, OTHER])
    store.fleet.retire_device(SMOKE.id, actor="op-1")

    record_inventory(store, "e1", [SMOKE, OTHER], clock)
    assert [d.id for d in store.fleet.list_devices()] == [OTHER.id]
    assert store.fleet.device_registry("e1").devices == [OTHER]
    # Listed with another place by its own edge: still retired, the place not taken.
    record_inventory(
        store, "e1", [SMOKE.model_copy(update={"location": "Building 9"}), OTHER], clock
    )
    assert store.fleet.get_device(SMOKE.id).location == SMOKE.location
    assert store.fleet.get_device(SMOKE.id).retired_at is not None

    moved = SMOKE.model_copy(update={"edge_id": "e2", "location": "Building 5/Unit 501"})
    record_inventory(store, "e2", [moved], clock)
    view = store.fleet.get_device(SMOKE.id)
    assert (view.retired_at, view.edge_id, view.location) == (None, "e2", "Building 5/Unit 501")
    # The operator vouched for it at e1: at e2 it is trusted on first use, as a new device.
    assert view.registered_by is Provenance.INVENTORY
    assert store.fleet.device_registry("e2").devices == [moved]
    assert [(a, d.get("by")) for a, _, d in _audit(store)] == [
        ("device_retired", None),
        ("device_returned", "inventory registration"),
    ]


@pytest.mark.usefixtures("engine")
def test_an_operators_registration_brings_it_back(store: HubStore, clock: FakeClock) -> None:
    store.fleet.upsert_devices([SMOKE])
    store.fleet.retire_device(SMOKE.id, actor="op-1")

    change = store.fleet.register_device(SMOKE.model_copy(update={"location": "Building 3/Lobby"}))

    assert change.changed
    assert change.edges_affected == frozenset({"e1"})
    assert (change.device.retired_at, change.device.registered_by) == (None, Provenance.OPERATOR)
    assert store.fleet.device_registry("e1").devices == [
        SMOKE.model_copy(update={"location": "Building 3/Lobby"})
    ]
    assert [a for a, _, _ in _audit(store)] == ["device_retired", "device_returned"]


@pytest.mark.usefixtures("engine")
def test_retiring_a_device_nobody_registered_is_not_found(store: HubStore) -> None:
    with pytest.raises(NotFoundError, match="device ghost is not registered"):
        store.fleet.retire_device("ghost", actor="op-1")
    assert store.cases.list_cases(status=CaseStatus.OPEN) == []


def test_retiring_needs_the_right_to_manage_devices() -> None:
    assert required_permission("DELETE", "/api/v1/devices/b3-1201-smoke") is Permission.MANAGE
    assert not Principal("wang", Role.RESPONDER).can(Permission.MANAGE)


@pytest.mark.usefixtures("engine")
def test_another_edges_alarm_about_a_retired_device_is_cased_beside_a_conflict(
    store: HubStore, clock: FakeClock
) -> None:
    """An operator vouched for the device at e1, then retired it; e2 (where it was moved, or a
    squatter) raises its fire. Refused, as it would be for a device in service, the fire would be
    lost: the operator's word was for e1, which no longer has it. Taken, beside a conflict case
    naming e2, as for any device no operator vouched for."""
    store.fleet.upsert_devices([SMOKE])
    store.fleet.retire_device(SMOKE.id, actor="op-1")
    fire = make_alert(device_id=SMOKE.id, edge_id="e2", ts=clock.advance(60), location="B5/301")

    result = store.intake.ingest_alerts([fire], clock.advance(1), intake_screen)

    assert [a.id for a in result.new] == [fire.id]
    assert result.rejected == []
    assert {c.kind for c in result.cases_opened} == {
        AlertKind.SMOKE,
        AlertKind.DEVICE_CLAIM_CONFLICT,
    }
    assert store.fleet.get_device(SMOKE.id).retired_at is None  # its alarm brought it back
