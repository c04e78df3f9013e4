"""The alerts an intake returns (what the live stream shows at once) are the alerts the API
reads back later: built from the wire alert without a second validation, field for field."""

from datetime import UTC, timedelta, timezone

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import AlertReason
from hub.cases.views import AlertView
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device


def test_the_intakes_alert_views_are_the_stored_alerts(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(make_device("smoke-1"))
    store.fleet.register_device(make_device("gas-1", kind=DeviceKind.GAS, location="Boiler room"))
    beijing = timezone(timedelta(hours=8))
    alerts = [
        make_alert(device_id="smoke-1", ts=T0.astimezone(beijing)),
        make_alert(device_id="smoke-1", state=AlertState.CLEARED, ts=T0 + timedelta(seconds=3)),
        make_alert(
            device_id="gas-1",
            kind=AlertKind.GAS,
            severity=Severity.CRITICAL,
            ts=T0 + timedelta(seconds=1),
            location="Boiler room, north wall",
        ),
    ]
    alerts[2] = alerts[2].model_copy(
        update={"reason": AlertReason(rule="gas_lel", values={"gas_lel_pct": 25.5, "ok": False})}
    )
    result = store.intake.ingest_alerts(alerts, clock.now)

    stored = {alert.id: alert for alert in store.cases.list_alerts()}
    assert [view.id for view in result.new] == [alert.id for alert in alerts]
    for view in result.new:
        assert view.model_fields_set == set(AlertView.model_fields)
        assert view == stored[view.id]
        assert view.model_dump_json() == stored[view.id].model_dump_json()
        assert view.ts.tzinfo == UTC
        assert view.case_id is not None
    assert result.new[2].location == "Boiler room, north wall"
    assert result.new[0].location == make_device("smoke-1").location
