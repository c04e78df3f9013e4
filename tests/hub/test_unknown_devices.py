"""Alerts about a device the hub does not know yet: held back for a grace, then refused
(hub.ingest.unknown_devices), on plain values and an injected time."""

from datetime import timedelta

from hub.cases.results import AlertRef, RejectedAlert
from hub.ingest.unknown_devices import UnknownDeviceGrace
from tests.hub.factories import T0


def _refused(alert_id: str, reason: str = "unknown_device") -> RejectedAlert:
    return RejectedAlert(AlertRef(alert_id, "e1", "b9-0101-smoke"), reason)


def test_an_unknown_devices_alert_is_held_for_the_grace_then_refused_for_good() -> None:
    grace = UnknownDeviceGrace(120)
    first = _refused("alert-0001")
    assert grace.judge([first], T0) == ([first], [])
    # The edge's re-sends within the grace: still held, timed from the first.
    assert grace.judge([first], T0 + timedelta(seconds=119)) == ([first], [])
    assert grace.judge([first], T0 + timedelta(seconds=120)) == ([], [first])
    assert len(grace) == 0
    # A copy after it was refused (the ack lost on the way): the grace starts again. Bounded
    # all the same: each grace ends in an acknowledgement.
    assert grace.judge([first], T0 + timedelta(seconds=121)) == ([first], [])


def test_other_refusals_and_a_grace_of_zero_are_final_at_once() -> None:
    grace = UnknownDeviceGrace(120)
    forged = _refused("alert-0002", "not_this_edges_device")
    malformed = _refused("alert-0003", "unstorable")
    assert grace.judge([forged, malformed], T0) == ([], [forged, malformed])
    assert UnknownDeviceGrace(0).judge([_refused("alert-0004")], T0) == (
        [],
        [_refused("alert-0004")],
    )


def test_an_alert_stored_once_its_device_is_known_is_forgotten() -> None:
    grace = UnknownDeviceGrace(120)
    grace.judge([_refused("alert-0005"), _refused("alert-0006")], T0)
    grace.forget(["alert-0005", "not-held"])
    assert len(grace) == 1


def test_what_it_holds_is_bounded_and_the_oldest_goes_first() -> None:
    grace = UnknownDeviceGrace(120, max_held=2)
    grace.judge([_refused("alert-0007")], T0)
    grace.judge([_refused("alert-0008"), _refused("alert-0009")], T0 + timedelta(seconds=60))
    assert len(grace) == 2
    # The first was forgotten: seen again after its grace, it is held afresh, not refused.
    later = T0 + timedelta(seconds=150)
    assert grace.judge([_refused("alert-0007")], later) == ([_refused("alert-0007")], [])
    # ...which made room by forgetting the oldest then held; the youngest is kept.
    assert grace.judge([_refused("alert-0009")], T0 + timedelta(seconds=180)) == (
        [],
        [_refused("alert-0009")],
    )
    assert grace.judge([_refused("alert-0008")], T0 + timedelta(seconds=180)) == (
        [_refused("alert-0008")],
        [],
    )
