"""Claims on another edge's device (``hub.fleet.claims``, ``hub.fleet.conflicts``): the rules on
plain values, then recorded and reported by the store on SQLite and PostgreSQL."""

from collections.abc import Mapping, Sequence

import pytest

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert
from devices.registry import Device
from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.cases.views import CaseView
from hub.fleet.claims import (
    Claim,
    Provenance,
    Registration,
    claim_note,
    conflict_priority,
    worth_a_line,
)
from hub.ingest.identity import intake_screen, screen_inventory
from hub.roster.rules import Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device, make_status

SMOKE = "b3-1201-smoke"
FIRE = make_alert(device_id=SMOKE, edge_id="e2")
LOW_BATTERY = make_alert(
    device_id=SMOKE, edge_id="e2", kind=AlertKind.BATTERY_LOW, severity=Severity.LOW
)


def test_an_operator_vouches_and_an_inventory_or_an_unknown_past_does_not() -> None:
    assert Registration.of("e1", Provenance.OPERATOR) == Registration("e1", vouched=True)
    assert Registration.of("e1", Provenance.INVENTORY) == Registration("e1", vouched=False)
    assert Registration.of("e1", None) == Registration("e1", vouched=False)


def test_a_refused_life_safety_alert_makes_the_conflict_critical() -> None:
    """It is on no other case: the conflict case is where an operator finds it."""
    assert conflict_priority(Claim(SMOKE, "e2", "e1", alert=FIRE, refused=True)) is (
        Severity.CRITICAL
    )
    # Taken (a case of its own), a fault, an inventory: someone speaks for a device not theirs.
    for claim in (
        Claim(SMOKE, "e2", "e1", alert=FIRE),
        Claim(SMOKE, "e2", "e1", alert=LOW_BATTERY, refused=True),
        Claim(SMOKE, "e2", "e1", location="Building 3"),
    ):
        assert conflict_priority(claim) is Severity.HIGH


def test_a_line_for_each_new_edge_and_each_life_safety_alert_not_for_each_heartbeat() -> None:
    inventory = Claim(SMOKE, "e2", "e1", location="Building 3")
    assert worth_a_line(inventory, new=True)
    assert not worth_a_line(inventory, new=False)
    assert worth_a_line(Claim(SMOKE, "e2", "e1", alert=FIRE), new=False)
    assert worth_a_line(Claim(SMOKE, "e2", "e1", alert=FIRE, refused=True), new=False)
    assert not worth_a_line(Claim(SMOKE, "e2", "e1", alert=LOW_BATTERY), new=False)


def test_the_line_says_who_claims_what_and_what_became_of_it() -> None:
    listed = claim_note(Claim(SMOKE, "e2", "e1", location="Lanyuan/3"))
    assert "edge e2" in listed
    assert "registered to edge e1" in listed
    assert "'Lanyuan/3'" in listed
    refused = claim_note(Claim(SMOKE, "e2", "e1", alert=FIRE, refused=True))
    assert f"alert {FIRE.id}" in refused
    assert "smoke alert" in refused
    assert "refused" in refused
    assert "taken: contested" in claim_note(Claim(SMOKE, "e2", "e1", alert=FIRE))


# --- in the store ---------------------------------------------------------------------


def _status(
    store: HubStore, edge_id: str, devices: list[Device], clock: FakeClock
) -> CaseView | None:
    """Record an edge's status as the ingest does; return the conflict case it touched."""

    def screen(
        listed: Sequence[Device], registered: Mapping[str, Registration]
    ) -> tuple[list[Device], list[Claim]]:
        screened = screen_inventory(edge_id, listed, registered)
        return screened.kept, screened.claims

    recorded = store.fleet.record_edge_status(
        make_status(edge_id, devices=devices), clock.advance(30), screen
    )
    touched = recorded.conflicts.cases_opened + recorded.conflicts.cases_updated
    assert len(touched) <= 1
    return touched[0] if touched else None


def _lines(store: HubStore, case_id: int) -> list[tuple[str, str | None]]:
    events = store.cases.get_case(case_id).events
    return [(e.note or "", e.alert_id) for e in events if e.action is CaseEventAction.CLAIMED]


def _fire(edge_id: str, clock: FakeClock, **update: object) -> Alert:
    return make_alert(device_id=SMOKE, edge_id=edge_id, ts=clock.now).model_copy(update=update)


@pytest.mark.usefixtures("engine")
def test_claims_are_recorded_reported_once_and_settled_by_an_operator(
    store: HubStore, clock: FakeClock
) -> None:
    squatter = make_device(SMOKE, edge_id="e1", location="nowhere")
    real = make_device(SMOKE, edge_id="e2", location="Lanyuan/3/1201")
    # The first inventory registers it, trusted on first use: no claim, no case.
    first = store.fleet.record_edge_status(
        make_status("e1", devices=[squatter]),
        clock.advance(1),
        lambda devices, reg: (list(devices), []),
    )
    assert first.edges_changed == {"e1"}
    assert first.conflicts.cases_opened == []
    [device] = store.fleet.list_devices()
    assert (device.edge_id, device.registered_by) == ("e1", "inventory")

    # A second edge lists it: not moved; one conflict case, high, one line.
    conflict = _status(store, "e2", [real], clock)
    assert conflict is not None
    assert (conflict.kind, conflict.priority, conflict.category) == (
        AlertKind.DEVICE_CLAIM_CONFLICT,
        Severity.HIGH,
        CaseCategory.SECURITY,
    )
    [(line, _)] = _lines(store, conflict.id)
    assert "'Lanyuan/3/1201'" in line
    # ...and again at its next heartbeat: counted, no second line, no second case.
    again = store.fleet.record_edge_status(
        make_status("e2", devices=[real]),
        clock.advance(30),
        lambda devices, reg: (
            [],
            screen_inventory("e2", devices, reg).claims,
        ),
    )
    assert again.conflicts.cases_opened == again.conflicts.cases_updated == []
    assert len(_lines(store, conflict.id)) == 1

    # The second edge's fire, and its clearance in the same batch, are taken: a fire case,
    # and a line each on the conflict case (one claim row, two alerts counted).
    fire = _fire("e2", clock)
    cleared = _fire("e2", clock, id="cleared", state=AlertState.CLEARED)
    result = store.intake.ingest_alerts([fire, cleared], clock.advance(1), intake_screen)
    assert sorted(a.id for a in result.new) == sorted([fire.id, cleared.id])
    assert result.rejected == []
    assert [c.kind for c in result.cases_opened] == [AlertKind.SMOKE]
    assert [c.id for c in result.cases_updated] == [conflict.id]
    assert sorted(str(a) for _, a in _lines(store, conflict.id)) == sorted(
        ["None", fire.id, cleared.id]
    )

    # An operator registers it to the second edge: vouched, the claims forgotten.
    store.fleet.register_device(real)
    [device] = store.fleet.list_devices()
    assert (device.edge_id, device.registered_by) == ("e2", "operator")
    # The first edge's fire is now refused, acknowledged as judged, on the conflict case,
    # which turns critical; its inventory is a claim anew (it was forgotten).
    forged = _fire("e1", clock, id="forged-fire")
    result = store.intake.ingest_alerts([forged], clock.advance(1), intake_screen)
    assert result.new == []
    assert [(r.alert.id, r.reason) for r in result.rejected] == [(forged.id, "foreign_device")]
    assert result.ack_ids_by_edge() == {"e1": [forged.id]}
    [updated] = result.cases_updated
    assert (updated.id, updated.priority) == (conflict.id, Severity.CRITICAL)
    lines = _lines(store, conflict.id)
    assert [alert for _, alert in lines][-1] == forged.id
    assert len(lines) == 4
    assert "refused: an operator registered it" in lines[-1][0]
    # Its inventory afterwards is the same claim (made anew by that fire): counted, quiet.
    assert _status(store, "e1", [squatter], clock) is None
    assert len(_lines(store, conflict.id)) == 4
    open_kinds = {c.kind for c in store.cases.list_cases(status=CaseStatus.OPEN)}
    assert open_kinds == {AlertKind.SMOKE, AlertKind.DEVICE_CLAIM_CONFLICT}


@pytest.mark.usefixtures("engine")
def test_a_refused_fire_after_the_conflict_was_resolved_opens_a_new_one(
    store: HubStore, clock: FakeClock
) -> None:
    """Resolving the case without registering the device only acknowledges it: the claim's
    repeats stay quiet, but a refused fire is never put nowhere."""
    store.fleet.register_device(make_device(SMOKE, edge_id="e1"))
    first = store.intake.ingest_alerts([_fire("e2", clock)], clock.advance(1), intake_screen)
    [conflict] = first.cases_opened
    store.cases.act(
        conflict.id,
        CaseAction.RESOLVE,
        actor="op",
        note="checked: a test edge",
        resolution=Resolution.FALSE_ALARM,
    )
    second = store.intake.ingest_alerts(
        [_fire("e2", clock, id="second", state=AlertState.RAISED)], clock.advance(60), intake_screen
    )
    [reopened] = second.cases_opened
    assert reopened.id != conflict.id
    assert reopened.priority is Severity.CRITICAL


@pytest.mark.usefixtures("engine")
def test_a_contested_fire_is_cased_where_its_own_edge_says_not_where_the_squatter_did(
    store: HubStore, clock: FakeClock
) -> None:
    """The squatter's inventory chose the registered place and, through its edge, the site
    whose responders a case goes to; the real edge's fire goes to the real edge's site."""
    store.roster.put_site(Site(id="meiyuan", name="Meiyuan", edge_ids=["e1"]))
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["e2"]))
    squat = make_status("e1", devices=[make_device(SMOKE, edge_id="e1", location="Meiyuan/9")])
    store.fleet.record_edge_status(squat, clock.advance(1), lambda d, r: (list(d), []))
    assert _status(
        store, "e2", [make_device(SMOKE, edge_id="e2", location="Lanyuan/3/1201")], clock
    )

    fire = _fire("e2", clock)
    result = store.intake.ingest_alerts([fire], clock.advance(1), intake_screen)
    [case] = result.cases_opened
    assert case.kind is AlertKind.SMOKE
    assert case.place == "Lanyuan"  # the fire rule's place: the first level of the location
    assert store.cases.get_case(case.id).site_id == "lanyuan"
    # The squatter's own alert about it is placed where its registration says.
    own = _fire("e1", clock, id="squatters-own", kind=AlertKind.HEAT)
    [squatters] = store.intake.ingest_alerts([own], clock.advance(1), intake_screen).cases_opened
    assert (squatters.place, store.cases.get_case(squatters.id).site_id) == ("Meiyuan", "meiyuan")


@pytest.mark.usefixtures("engine")
def test_a_detector_registered_with_no_edge_is_not_vouched_for_the_first_edge_to_list_it(
    store: HubStore, clock: FakeClock
) -> None:
    """Found by an outside review: an operator registered a detector before its edge was
    known; a stolen edge listed it first and took it over vouched (the operator's word kept),
    so the real edge's fires about it were refused as ``foreign_device``: silenced. The
    operator vouched for no edge: the first edge takes it unvouched, and the real edge's fire
    is a claim taken, a fire case and a conflict case."""
    store.fleet.register_device(make_device(SMOKE, edge_id=None, location="Lanyuan/3/1201"))
    squatter = make_device(SMOKE, edge_id="e1", location="nowhere")
    store.fleet.record_edge_status(
        make_status("e1", devices=[squatter]),
        clock.advance(1),
        lambda devices, reg: (list(devices), []),
    )
    [device] = store.fleet.list_devices()
    assert (device.edge_id, device.registered_by) == ("e1", "inventory")
    fire = _fire("e2", clock)
    result = store.intake.ingest_alerts([fire], clock.advance(1), intake_screen)
    assert [a.id for a in result.new] == [fire.id]
    assert result.rejected == []
    assert sorted(c.kind for c in result.cases_opened) == sorted(
        [AlertKind.SMOKE, AlertKind.DEVICE_CLAIM_CONFLICT]
    )
