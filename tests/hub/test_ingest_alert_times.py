"""An alert's times as the hub takes them (``hub.ingest.alert_times``), on plain values; and a
take that one alert makes fail outside the database, against a real Mosquitto and SQLite.

Before, an alert stamped in the first days of year 1 raised ``OverflowError`` in the case
intake, and that ended the hub's session with every alert of the take unacknowledged
(``tests/security/test_uplink_poison.py`` shows it over the broker as ``linli broker init``
configures it)."""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.messages import Alert, AlertBatch
from devices.topics import EdgeChannel, edge_topic
from hub.cases.intake import CaseIntake, Screen
from hub.cases.results import IngestResult
from hub.ingest.alert_times import TS_UNRECKONABLE, reckonable, within_reckoning
from hub.ingest.link import MqttIngest
from hub.ingest.messages import AlertBatchMessage, AlertMessage, RejectedMessage, parse_uplink
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.factories import make_alert, make_device
from tests.hub.test_ingest_mqtt import SMOKE, acked, edge_client, hub_settings
from tests.polling import until

LIMIT = 4096
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


def stamped(ts: datetime, detected_at: datetime = NOW) -> Alert:
    """Return a fire alert stamped ``ts`` by its device, decided at ``detected_at``."""
    return make_alert(ts=ts).model_copy(update={"detected_at": detected_at})


def test_a_device_time_the_hub_cannot_reckon_with_is_replaced_by_the_edges() -> None:
    for ts in (YEAR_ONE, datetime(1600, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)):
        taken = reckonable(stamped(ts))
        assert taken is not None
        assert taken.ts == NOW
        assert taken.reason.values[TS_UNRECKONABLE] == ts.isoformat()
        assert taken.reason.values["smoke"] is True


def test_times_within_reckoning_are_taken_as_they_are() -> None:
    alert = stamped(datetime(1970, 1, 1, tzinfo=UTC))  # an edge box without network time
    assert reckonable(alert) is alert
    assert not within_reckoning(datetime.fromisoformat("0001-01-01T00:00:00+14:00"))


def test_an_alert_decided_by_a_clock_the_hub_cannot_reckon_with_is_refused_and_acknowledged() -> (
    None
):
    alert = stamped(NOW, detected_at=YEAR_ONE)
    parsed = parse_uplink("linli/edge/e1/alert", alert.model_dump_json(), max_payload_bytes=LIMIT)
    assert isinstance(parsed, RejectedMessage)
    assert (parsed.reason, parsed.message_id) == ("time_unstorable", alert.id)


def test_the_wire_alert_and_batch_are_taken_at_the_edges_time() -> None:
    # The same alert read twice is the same alert: a copy is still recognised as one.
    raw = stamped(YEAR_ONE).model_dump_json()
    first = parse_uplink("linli/edge/e1/alert", raw, max_payload_bytes=LIMIT)
    again = parse_uplink("linli/edge/e1/alert", raw, max_payload_bytes=LIMIT)
    assert isinstance(first, AlertMessage)
    assert first == again
    assert first.alert.ts == NOW

    good, far, refused = stamped(NOW), stamped(YEAR_ONE), stamped(NOW, detected_at=YEAR_ONE)
    batch = AlertBatch(edge_id="e1", alerts=[good, far, refused]).model_dump_json()
    parsed = parse_uplink("linli/edge/e1/alerts", batch, max_payload_bytes=LIMIT)
    assert isinstance(parsed, AlertBatchMessage)
    assert [(a.id, a.ts) for a in parsed.alerts] == [(good.id, NOW), (far.id, NOW)]
    assert [(r.reason, r.message_id) for r in parsed.rejected] == [("time_unstorable", refused.id)]

    # Also when another alert of the batch does not validate (read alert by alert).
    data = json.loads(batch)
    data["alerts"].append({"id": "not-an-alert"})
    salvaged = parse_uplink("linli/edge/e1/alerts", json.dumps(data), max_payload_bytes=LIMIT)
    assert isinstance(salvaged, AlertBatchMessage)
    assert [(a.id, a.ts) for a in salvaged.alerts] == [(good.id, NOW), (far.id, NOW)]
    assert [r.reason for r in salvaged.rejected] == ["time_unstorable", "malformed"]


class FailingIntake(CaseIntake):
    """The real intake, failing outside the database on one alert: a bug its values hit."""

    def __init__(self, store: HubStore, failing: str) -> None:
        super().__init__(store.db, store.policy)
        self.failing = failing

    def ingest_alerts(
        self, alerts: Sequence[Alert], received_at: datetime, screen: Screen | None = None
    ) -> IngestResult:
        if any(alert.id == self.failing for alert in alerts):
            raise OverflowError("date value out of range")
        return super().ingest_alerts(alerts, received_at, screen)


@pytest.mark.mosquitto
async def test_an_alert_the_case_rules_fail_on_costs_no_other_alert_and_no_session(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto, tmp_path)
    engine = create_hub_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    failing = make_alert(device_id=SMOKE["id"])
    store = HubStore(engine)
    store.intake = FailingIntake(store, failing.id)
    store.fleet.register_device(make_device(SMOKE["id"]))
    ingest = MqttIngest(settings, store, EventBus())
    try:
        async with running(ingest.run()), edge_client(mosquitto) as edge:

            async def connected() -> bool:
                return ingest.connected

            await until(connected, "the ingest is connected")
            topic = edge_topic("e1", EdgeChannel.ALERT)
            goods = [make_alert(device_id=SMOKE["id"]) for _ in range(3)]
            await edge.publish(topic, goods[0].model_dump_json(), qos=1)
            await edge.publish(topic, failing.model_dump_json(), qos=1)
            for good in goods[1:]:
                await edge.publish(topic, good.model_dump_json(), qos=1)
            await acked(edge, *(g.id for g in goods))
            assert sorted(a.id for a in store.cases.list_alerts()) == sorted(g.id for g in goods)
            assert ingest.counters["alerts_failed"] >= 1
            assert ingest.counters["crashes"] == 0
            assert ingest.connected
    finally:
        engine.dispose()
