"""An alert's times as the hub can reckon with them: pure, on plain values, no I/O.

An edge stamps an alarm with its device's own time when the device sends one
(``Alert.ts``: "device time, else receive time"), and ``devices.payloads`` reads any RFC 3339
time a ``datetime`` holds, the first days of year 1 included. The case intake reckons with an
alert's time (a window before the first alert of a case: ``ts - window``), and a time within a
window of year 1 raised ``OverflowError`` there. That is no database error: it escaped the
take, the hub's session failed with every other edge's alerts of the take unacknowledged, and
the broker handed the message again at each resubscription when it was retained: one message
on an edge's own alert topic (a stolen edge's, or an honest edge's alarm from a device whose
clock is broken) stopped the hub's alert intake for good (found by an outside review,
``tests/security/test_uplink_poison.py``).

So the hub takes an alert's times only within what every store of the hub holds
(``hub.ingest.telemetry_points``: 1677-09-21 to 2262-04-11, InfluxDB's int64 nanoseconds;
far from either end of what Python and the database hold, whatever window is reckoned):

- an event time outside it is the device's clock, not the alarm's: the alert is taken at the
  edge's time of decision (``detected_at``, the edge's own clock), the device's stamp kept as
  text in ``reason.values["ts_unreckonable"]`` for the operator. A fire is never refused for
  its detector's clock; every copy of the alert is read the same way, so a copy is still
  recognised as one;
- a time of decision outside it is the edge's own clock: that edge cannot be believed about
  any time, and the alert is refused (``time_unstorable``, acknowledged: its edge would send
  it again for ever).
"""

from datetime import UTC, datetime

from devices.messages import Alert
from hub.ingest.telemetry_points import EARLIEST_STORABLE, LATEST_STORABLE, TIME_UNSTORABLE

__all__ = ["TIME_UNSTORABLE", "TS_UNRECKONABLE", "reckonable", "within_reckoning"]

TS_UNRECKONABLE = "ts_unreckonable"
"""The key in ``reason.values`` that keeps a device's event time the hub did not take."""


def within_reckoning(moment: datetime) -> bool:
    """Whether the hub can reckon with ``moment``: it has a UTC value, within the stores'."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # '0001-01-01T00:00:00+14:00' has no UTC value at all
        return False
    return EARLIEST_STORABLE <= utc <= LATEST_STORABLE


def reckonable(alert: Alert) -> Alert | None:
    """Return ``alert`` as the hub takes it: as sent when both its times are within reckoning;
    stamped at its ``detected_at`` (its own ``ts`` kept in its reason) when only that is;
    None (refuse it) when its ``detected_at`` is not."""
    if not within_reckoning(alert.detected_at):
        return None
    if within_reckoning(alert.ts):
        return alert
    values = {**alert.reason.values, TS_UNRECKONABLE: alert.ts.isoformat()}
    reason = alert.reason.model_copy(update={"values": values})
    return alert.model_copy(update={"ts": alert.detected_at, "reason": reason})
