"""Messages exactly as older edges of this repository serialised them, read by this hub.

An outside review of the promise in docs/contract.md that edges and hubs of different
versions keep talking (a fleet is upgraded over weeks). Each payload below was produced by
the code of the commit it names (``git archive <commit> devices edge``, run outside the
repository): its own ``edge.detection.detect`` on a device payload, its own ``Alert`` and
``EdgeStatus`` models, its own ``model_dump_json``. Only the payloads are kept here.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devices.topics import EdgeChannel, edge_topic
from hub.auth.rules import new_secret
from hub.ingest.messages import (
    AlertBatchMessage,
    AlertMessage,
    StatusMessage,
    TelemetryMessage,
    parse_uplink,
)
from linli.brokers import MosquittoProcess, free_port
from tests.hub.conftest import hub_on
from tests.hub.test_ingest_mqtt import RunningHub, acked, counters, edge_client, get_json, start_hub
from tests.polling import until

# Commit 5550427 (2026-12-04, alert batches; before 489ec0b made readings finite). Its edge
# took the native payload {"smoke": true, "smoke_density_db_per_m": 1e999}: the density read
# as infinity, the smoke flag raised a fire, and pydantic wrote the infinity as null.
OLD_FIRE_5550427 = (
    b'{"v":1,"id":"9176d5517f384dfcac5579d5b1a87507","edge_id":"e1","device_id":"b3-1201-smoke",'
    b'"kind":"smoke","state":"raised","severity":"critical","ts":"2026-12-04T08:00:00+08:00",'
    b'"detected_at":"2026-12-04T08:00:00+08:00","location":"Building 3/Floor 12/Unit 1201",'
    b'"reason":{"rule":"smoke=true","values":{"smoke":true,"smoke_density_db_per_m":null},'
    b'"profile":"device-flag"}}'
)
# The same edge's AlertBatch to a hub that offers batches: a button press, then that fire.
OLD_BATCH_5550427 = (
    b'{"v":1,"edge_id":"e1","alerts":[{"v":1,"id":"0347072bfe5245a68f4096e3383b8b63",'
    b'"edge_id":"e1","device_id":"b3-1201-sos","kind":"sos","state":"raised",'
    b'"severity":"critical","ts":"2026-12-04T08:00:00+08:00",'
    b'"detected_at":"2026-12-04T08:00:00+08:00","location":"Building 3/Floor 12/Unit 1201",'
    b'"reason":{"rule":"button_press","values":{"event":"press"},"profile":"sos-button"}},'
    b'{"v":1,"id":"9176d5517f384dfcac5579d5b1a87507","edge_id":"e1",'
    b'"device_id":"b3-1201-smoke","kind":"smoke","state":"raised","severity":"critical",'
    b'"ts":"2026-12-04T08:00:00+08:00","detected_at":"2026-12-04T08:00:00+08:00",'
    b'"location":"Building 3/Floor 12/Unit 1201","reason":{"rule":"smoke=true",'
    b'"values":{"smoke":true,"smoke_density_db_per_m":null},"profile":"device-flag"}}]}'
)
# The same edge's status (no checkins, no in_memory: it predates both).
OLD_STATUS_5550427 = (
    b'{"v":1,"edge_id":"e1","state":"online","ts":"2026-12-04T08:00:00+08:00","outbox_depth":2,'
    b'"devices":[{"id":"b3-1201-smoke","kind":"smoke","location":"Building 3/Floor 12/Unit 1201",'
    b'"edge_id":null,"zigbee_name":"smoke 1201"},{"id":"b3-1201-sos","kind":"sos_button",'
    b'"location":"Building 3/Floor 12/Unit 1201","edge_id":null,"zigbee_name":null}],'
    b'"counters":{"alerts_sent":2}}'
)

# Uplink messages of edges far back (a342f54, the first edge agent, 2026-11-22), in the
# middle and recent, each serialised by the commit named, as from edge ``edge-old``.
OLD_UPLINK: list[tuple[str, EdgeChannel, bytes]] = [
    (
        "a342f54 alert_sos",
        EdgeChannel.ALERT,
        (
            b'{"v":1,"id":"cc8aea364f1d4efeb7d6e8875fb0c9bf","edge_id":"edge-old","device_id":"b3-'
            b'1201-sos","kind":"sos","state":"raised","severity":"critical","ts":"2026-12-01T08:00'
            b':00+08:00","detected_at":"2026-12-01T08:00:00.040000+08:00","location":"Building 3/F'
            b'loor 12/Unit 1201","reason":{"rule":"button_press","values":{"event":"press"},"profi'
            b'le":"placeholder-thresholds"}}'
        ),
    ),
    (
        "a342f54 status_will",
        EdgeChannel.STATUS,
        (
            b'{"v":1,"edge_id":"edge-old","state":"offline","ts":null,"outbox_depth":0,"devices":['
            b'{"id":"b3-1201-sos","kind":"sos_button","location":"Building 3/Floor 12/Unit 1201","'
            b'edge_id":null,"zigbee_name":"sos 1201"},{"id":"b3-1201-smoke","kind":"smoke","locati'
            b'on":"Building 3/Floor 12/Unit 1201","edge_id":null,"zigbee_name":null}],"counters":{'
            b"}}"
        ),
    ),
    (
        "a342f54 telemetry",
        EdgeChannel.TELEMETRY,
        (
            b'{"v":1,"edge_id":"edge-old","points":[{"device_id":"b3-1201-smoke","ts":"2026-12-01T'
            b'08:00:00+08:00","readings":{"co_ppm":null,"temperature_c":21.5,"humidity_pct":null,"'
            b'gas_lel_pct":null,"smoke":false,"smoke_test":null,"water_leak":null,"contact":null,"'
            b'battery_pct":88.0,"battery_low":null,"tamper":null,"gas":null,"co_alarm":null}}]}'
        ),
    ),
    (
        "f6150d3 alert_smoke",
        EdgeChannel.ALERT,
        (
            b'{"v":1,"id":"a4e99753e6d543d5aed875e075f45113","edge_id":"edge-old","device_id":"b3-'
            b'1201-smoke","kind":"smoke","state":"raised","severity":"critical","ts":"2026-12-01T0'
            b'8:00:00+08:00","detected_at":"2026-12-01T08:00:00.040000+08:00","location":"Building'
            b' 3/Floor 12/Unit 1201","reason":{"rule":"smoke=true","values":{"smoke":true},"profil'
            b'e":"device-flag"}}'
        ),
    ),
    (
        "f6150d3 status_online",
        EdgeChannel.STATUS,
        (
            b'{"v":1,"edge_id":"edge-old","state":"online","ts":"2026-12-01T08:00:00+08:00","outbo'
            b'x_depth":2,"devices":[{"id":"b3-1201-sos","kind":"sos_button","location":"Building 3'
            b'/Floor 12/Unit 1201","edge_id":null,"zigbee_name":"sos 1201"},{"id":"b3-1201-smoke",'
            b'"kind":"smoke","location":"Building 3/Floor 12/Unit 1201","edge_id":null,"zigbee_nam'
            b'e":null}],"counters":{"alerts_sent":3,"rejected.unknown_device":1}}'
        ),
    ),
    (
        "3f118bc alert_sos",
        EdgeChannel.ALERT,
        (
            b'{"v":1,"id":"b1db44a5291446fcbfd84da58cdf9ffb","edge_id":"edge-old","device_id":"b3-'
            b'1201-sos","kind":"sos","state":"raised","severity":"critical","ts":"2026-12-01T08:00'
            b':00+08:00","detected_at":"2026-12-01T08:00:00.040000+08:00","location":"Building 3/F'
            b'loor 12/Unit 1201","reason":{"rule":"button_press","values":{"event":"press"},"profi'
            b'le":"sos-button"}}'
        ),
    ),
    (
        "5550427 alert_batch",
        EdgeChannel.ALERTS,
        (
            b'{"v":1,"edge_id":"edge-old","alerts":[{"v":1,"id":"4a46412aeff54659b65d14dc6d255798"'
            b',"edge_id":"edge-old","device_id":"b3-1201-sos","kind":"sos","state":"raised","sever'
            b'ity":"critical","ts":"2026-12-01T08:00:00+08:00","detected_at":"2026-12-01T08:00:00.'
            b'040000+08:00","location":"Building 3/Floor 12/Unit 1201","reason":{"rule":"button_pr'
            b'ess","values":{"event":"press"},"profile":"sos-button"}},{"v":1,"id":"99fdf917415c47'
            b'7aa6fcb34bd69b40fa","edge_id":"edge-old","device_id":"b3-1201-smoke","kind":"smoke",'
            b'"state":"raised","severity":"critical","ts":"2026-12-01T08:00:00+08:00","detected_at'
            b'":"2026-12-01T08:00:00.040000+08:00","location":"Building 3/Floor 12/Unit 1201","rea'
            b'son":{"rule":"smoke=true","values":{"smoke":true},"profile":"device-flag"}}]}'
        ),
    ),
    (
        "59b8827 status_online",
        EdgeChannel.STATUS,
        (
            b'{"v":1,"edge_id":"edge-old","state":"online","ts":"2026-12-01T08:00:00+08:00","outbo'
            b'x_depth":2,"devices":[{"id":"b3-1201-sos","kind":"sos_button","location":"Building 3'
            b'/Floor 12/Unit 1201","edge_id":null,"zigbee_name":"sos 1201"},{"id":"b3-1201-smoke",'
            b'"kind":"smoke","location":"Building 3/Floor 12/Unit 1201","edge_id":null,"zigbee_nam'
            b'e":null}],"counters":{"alerts_sent":3,"rejected.unknown_device":1},"checkins":{}}'
        ),
    ),
    (
        "59b8827 telemetry",
        EdgeChannel.TELEMETRY,
        (
            b'{"v":1,"edge_id":"edge-old","points":[{"device_id":"b3-1201-smoke","ts":"2026-12-01T'
            b'08:00:00+08:00","readings":{"co_ppm":null,"temperature_c":21.5,"humidity_pct":null,"'
            b'gas_lel_pct":null,"smoke":false,"smoke_test":null,"water_leak":null,"contact":null,"'
            b'occupancy":null,"presence":null,"battery_pct":88.0,"battery_low":null,"tamper":null,'
            b'"gas":null,"co_alarm":null,"smoke_density_db_per_m":null}}]}'
        ),
    ),
]


@pytest.mark.parametrize(
    ("label", "channel", "payload"), OLD_UPLINK, ids=[label for label, _, _ in OLD_UPLINK]
)
def test_uplink_messages_of_older_edges_are_read(
    label: str, channel: EdgeChannel, payload: bytes
) -> None:
    parsed = parse_uplink(edge_topic("edge-old", channel), payload, max_payload_bytes=262_144)
    assert isinstance(parsed, AlertMessage | AlertBatchMessage | StatusMessage | TelemetryMessage)
    if isinstance(parsed, AlertBatchMessage):
        assert parsed.rejected == []


def test_an_older_edges_fire_with_a_non_finite_value_in_its_reason_is_read_not_refused() -> None:
    """Refused as malformed, the fire was never acknowledged nor stored: its edge sent it again
    every 10 s for ever and no case opened. The value it could not write is left out."""
    parsed = parse_uplink(
        edge_topic("e1", EdgeChannel.ALERT), OLD_FIRE_5550427, max_payload_bytes=262_144
    )
    assert isinstance(parsed, AlertMessage), parsed
    assert parsed.alert.reason.values == {"smoke": True}


def test_an_older_edges_batch_keeps_its_fire_with_a_non_finite_value() -> None:
    parsed = parse_uplink(
        edge_topic("e1", EdgeChannel.ALERTS),
        OLD_BATCH_5550427,
        max_payload_bytes=262_144,
        max_batch_alerts=50,
    )
    assert isinstance(parsed, AlertBatchMessage), parsed
    assert parsed.rejected == []
    assert [a.kind.value for a in parsed.alerts] == ["sos", "smoke"]


def test_an_alert_with_a_null_value_and_another_fault_is_still_refused() -> None:
    """Only null reason values are mended: a null kind (or any other fault) still refuses."""
    data = json.loads(OLD_FIRE_5550427)
    data["kind"] = None
    parsed = parse_uplink(
        edge_topic("e1", EdgeChannel.ALERT), json.dumps(data).encode(), max_payload_bytes=262_144
    )
    assert type(parsed).__name__ == "RejectedMessage"


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    settings = hub_on(
        mosquitto, tmp_path / "hub", http_port=free_port(), bootstrap_token=new_secret()
    )
    running = await start_hub(settings)
    yield running
    await running.close()


@pytest.mark.mosquitto
async def test_an_older_edges_fire_reaches_a_case_through_a_real_hub(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """The edge of commit 5550427 sends its status, its fire alone and then in a batch with a
    press: every alert is acknowledged and stored, the fire without its unwritable value."""
    async with edge_client(mosquitto, "e1") as edge:
        await edge.publish(edge_topic("e1", EdgeChannel.STATUS), OLD_STATUS_5550427, qos=1)

        async def registered() -> bool:
            return (await counters(hub)).get("status", 0) >= 1

        await until(registered, "the old edge's status")
        await edge.publish(edge_topic("e1", EdgeChannel.ALERT), OLD_FIRE_5550427, qos=1)
        await acked(edge, "9176d5517f384dfcac5579d5b1a87507")
        await edge.publish(edge_topic("e1", EdgeChannel.ALERTS), OLD_BATCH_5550427, qos=1)
        await acked(edge, "0347072bfe5245a68f4096e3383b8b63", "9176d5517f384dfcac5579d5b1a87507")

    alerts: list[dict[str, Any]] = (await get_json(hub, "/api/v1/alerts"))["items"]
    by_id = {a["id"]: a for a in alerts}
    assert set(by_id) == {"9176d5517f384dfcac5579d5b1a87507", "0347072bfe5245a68f4096e3383b8b63"}
    fire = by_id["9176d5517f384dfcac5579d5b1a87507"]
    assert fire["reason"]["values"] == {"smoke": True}
    cases = (await get_json(hub, "/api/v1/cases"))["items"]
    assert any("b3-1201-smoke" in case["device_ids"] for case in cases)
    assert (await counters(hub)).get("rejected.malformed", 0) == 0
    # It predates checkins and in_memory ("an older edge sends none"): shown without them.
    [edge_row] = (await get_json(hub, "/api/v1/edges"))["items"]
    assert (edge_row["id"], edge_row["state"], edge_row["in_memory"]) == ("e1", "online", [])
    devices = (await get_json(hub, "/api/v1/devices"))["items"]
    assert {(d["id"], d["checkin"]) for d in devices} == {
        ("b3-1201-smoke", None),
        ("b3-1201-sos", None),
    }
