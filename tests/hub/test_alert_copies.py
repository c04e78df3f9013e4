"""An id alone does not make a copy (``hub.cases.copies``): a stored id is acknowledged as a
copy only when the stored alert is the same alert; another alert under it is stored under an
id derived from what it is, and acknowledged under its own."""

from datetime import timedelta

from devices.kinds import AlertKind, Severity
from hub.cases.copies import StoredAlert, conflict_id, ids_to_read, sort_copies
from hub.cases.results import AlertRef
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_device, make_status

DOOR_ALARM_ID = "0b5e2a4c-1f0e-5a7e-9d2c-3b4a5c6d7e8f"


def test_a_copy_of_a_stored_alert_is_a_duplicate() -> None:
    alert = make_alert(id=DOOR_ALARM_ID)
    copies = sort_copies([alert], {alert.id: StoredAlert.of(alert)})
    assert copies.new == []
    assert copies.duplicates == [AlertRef.of(alert)]
    assert copies.renamed == {}


def test_another_alert_under_a_stored_id_is_new_under_a_derived_id() -> None:
    taken_ahead = make_alert(id=DOOR_ALARM_ID, edge_id="e2", device_id="e2-smoke")
    real = make_alert(id=DOOR_ALARM_ID, edge_id="e1", kind=AlertKind.DOOR_FORCED)
    copies = sort_copies([real], {DOOR_ALARM_ID: StoredAlert.of(taken_ahead)})
    [stored] = copies.new
    assert stored.id == conflict_id(real) != real.id
    assert stored.model_copy(update={"id": real.id}) == real, "only the id differs"
    assert copies.renamed == {stored.id: real.id}
    assert copies.duplicates == []
    # Sent again: its derived id is stored now, so it is a copy.
    again = sort_copies(
        [real], {DOOR_ALARM_ID: StoredAlert.of(taken_ahead), stored.id: StoredAlert.of(real)}
    )
    assert again.new == []
    assert again.duplicates == [AlertRef.of(real)]


def test_the_same_edge_installed_afresh_reusing_an_id_later_is_new() -> None:
    """Same edge, device and kind: only the event time tells a door's second break-in from
    a re-sent first one, when a reinstalled edge numbers its episodes from 1 again."""
    first = make_alert(id=DOOR_ALARM_ID, kind=AlertKind.DOOR_FORCED)
    later = make_alert(id=DOOR_ALARM_ID, kind=AlertKind.DOOR_FORCED, ts=T0 + timedelta(days=3))
    copies = sort_copies([later], {DOOR_ALARM_ID: StoredAlert.of(first)})
    assert [a.id for a in copies.new] == [conflict_id(later)]


def test_within_one_take_a_second_copy_is_a_duplicate_and_another_alert_is_renamed() -> None:
    a = make_alert(id=DOOR_ALARM_ID, edge_id="e2", device_id="e2-smoke")
    b = make_alert(id=DOOR_ALARM_ID, edge_id="e1")
    copies = sort_copies([a, a, b, b], {})
    assert [x.id for x in copies.new] == [DOOR_ALARM_ID, conflict_id(b)]
    assert copies.duplicates == [AlertRef.of(a), AlertRef.of(b)]
    assert copies.renamed == {conflict_id(b): DOOR_ALARM_ID}


def test_the_ids_read_are_those_stored_and_their_derived_ones() -> None:
    stored, fresh = make_alert(id=DOOR_ALARM_ID), make_alert()
    assert ids_to_read([stored, fresh], {DOOR_ALARM_ID}) == sorted(
        {DOOR_ALARM_ID, conflict_id(stored)}
    )


def test_an_alert_whose_id_was_taken_ahead_opens_its_case_and_is_acknowledged_as_sent(
    store: HubStore,
) -> None:
    """On the database (both dialects): the id taken by another edge's low-battery alert, the
    real smoke alarm still opens its case; the edge is acknowledged under the id it sent, and
    its copy, sent again, is a duplicate."""
    store.fleet.record_edge_status(make_status("e1", devices=[make_device()]), T0)
    e2_smoke = make_device("e2-smoke", location="Elsewhere/Unit 1", edge_id="e2")
    store.fleet.record_edge_status(make_status("e2", devices=[e2_smoke]), T0)
    decoy = make_alert(
        id=DOOR_ALARM_ID, edge_id="e2", device_id="e2-smoke", kind=AlertKind.BATTERY_LOW
    )
    store.intake.ingest_alerts([decoy], T0)
    fire = make_alert(id=DOOR_ALARM_ID, severity=Severity.CRITICAL, ts=T0 + timedelta(minutes=5))
    result = store.intake.ingest_alerts([fire], T0 + timedelta(minutes=5))
    [stored] = result.new
    assert stored.id == conflict_id(fire)
    assert result.duplicates == []
    assert [c.kind for c in result.cases_opened] == [AlertKind.SMOKE]
    assert result.ack_ids_by_edge() == {"e1": [DOOR_ALARM_ID]}
    again = store.intake.ingest_alerts([fire], T0 + timedelta(minutes=6))
    assert again.new == []
    assert again.duplicates == [AlertRef.of(fire)]
    assert again.ack_ids_by_edge() == {"e1": [DOOR_ALARM_ID]}
    trail = [e for e in store.audit.list_audit(limit=1000) if e.alert_id == stored.id]
    assert [e.detail.get("sent_as") for e in trail if e.action == "alert_stored"] == [DOOR_ALARM_ID]
