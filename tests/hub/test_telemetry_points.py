"""Found by a review: one telemetry point the hub cannot take (a value that does not validate,
a time no store holds, a clock years ahead) refused, or lost, the other points of its batch.
Now the batch is read point by point and only the bad points are refused, each counted under
``rejected.<reason>`` with its edge and device."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from devices.messages import TelemetryPoint
from devices.payloads import Readings
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.ingest.messages import (
    RawTelemetry,
    RejectedMessage,
    TelemetryMessage,
    parse_telemetry,
    parse_uplink,
)
from hub.ingest.telemetry_points import MAX_CLOCK_AHEAD
from linli.brokers import MosquittoProcess
from tests.hub.factories import T0, make_device
from tests.hub.http import api_client
from tests.hub.test_telemetry_influx import (
    DEADLINE,
    VictoriaMetrics,
    eventually,
    hub_settings,
    publish,
    publish_inventory,
)
from tests.hub.test_telemetry_influx import victoria as victoria  # a fixture, used by name
from tests.polling import wait_until

TOPIC = "linli/edge/e1/telemetry"


def point(device_id: str, ts: datetime, value: float) -> str:
    """Return one point's JSON as an edge sends it."""
    readings = Readings(co_ppm=value, temperature_c=20.5)
    return TelemetryPoint(device_id=device_id, ts=ts, readings=readings).model_dump_json()


def raw_batch(points: list[str], edge_id: str = "e1") -> bytes:
    """Return a batch's payload, its points' JSON as given (valid or not)."""
    return f'{{"v": 1, "edge_id": {json.dumps(edge_id)}, "points": [{", ".join(points)}]}}'.encode()


def good_points(count: int, start: datetime, device_id: str = "d1") -> list[str]:
    """Return ``count`` valid points a second apart from ``start``."""
    return [point(device_id, start + timedelta(seconds=i), float(i)) for i in range(count)]


def parsed(raw: bytes, now: datetime | None = None) -> TelemetryMessage:
    """Parse a deferred batch the way the readings lane does; fail if it was refused whole."""
    deferred = RawTelemetry(TOPIC, "e1", raw)
    result = parse_telemetry(deferred) if now is None else parse_telemetry(deferred, now)
    assert isinstance(result, TelemetryMessage), result
    return result


AT = '"ts": "2025-03-01T02:00:00Z"'
BAD_POINTS = {
    # JSON has no infinity; the parsers read 1e999 as one.
    "infinite value": f'{{"device_id": "d9", {AT}, "readings": {{"co_ppm": 1e999}}}}',
    "wrong type": f'{{"device_id": "d9", {AT}, "readings": {{"co_ppm": "x"}}}}',
    "overlong id": f'{{"device_id": "{"d" * 300}", {AT}, "readings": {{}}}}',
    "no time": '{"device_id": "d9", "readings": {"co_ppm": 1.0}}',
    "not a time": '{"device_id": "d9", "ts": "yesterday", "readings": {}}',
}


@pytest.mark.parametrize("bad", BAD_POINTS, ids=list(BAD_POINTS))
def test_one_point_that_does_not_validate_costs_only_itself(bad: str) -> None:
    points = good_points(499, T0)
    message = parsed(raw_batch([*points[:250], BAD_POINTS[bad], *points[250:]]))
    assert [p.readings.co_ppm for p in message.batch.points] == [float(i) for i in range(499)]
    assert len(message.rejected) == 1
    refused = message.rejected[0]
    assert (refused.reason, refused.edge_id, refused.topic) == ("malformed", "e1", TOPIC)
    if bad != "overlong id":
        assert refused.device_id == "d9"
    assert "d9" in refused.payload_head or bad == "overlong id"


def test_a_batch_that_names_no_readable_edge_is_still_refused_whole() -> None:
    raw = raw_batch(good_points(3, T0), edge_id="not an id!")
    result = parse_telemetry(RawTelemetry(TOPIC, "e1", raw))
    assert isinstance(result, RejectedMessage)
    assert result.reason == "malformed"


UNSTORABLE = (
    "0001-01-01T00:00:00+14:00",  # UTC in the year 0: no datetime, no database column
    "9999-12-31T23:59:59-14:00",  # UTC in the year 10000
    "1500-01-01T00:00:00Z",  # before int64 nanoseconds (line protocol) begin, 1677
    "2300-01-01T00:00:00Z",  # after they end, 2262
)


@pytest.mark.parametrize("ts", UNSTORABLE)
def test_a_point_at_a_time_no_store_holds_is_refused_alone(ts: str) -> None:
    points = good_points(10, T0)
    odd = json.dumps({"device_id": "d9", "ts": ts, "readings": {"co_ppm": 3.0}})
    message = parsed(raw_batch([*points[:5], odd, *points[5:]]))
    assert len(message.batch.points) == 10
    assert all(p.device_id == "d1" for p in message.batch.points)
    [refused] = message.rejected
    assert (refused.reason, refused.device_id) == ("time_unstorable", "d9")


def test_a_point_further_ahead_of_the_hubs_clock_than_the_skew_is_refused() -> None:
    now = T0 + timedelta(hours=1)
    edge_of_skew = point("d2", now + MAX_CLOCK_AHEAD, 1.0)
    past_it = point("d3", now + MAX_CLOCK_AHEAD + timedelta(milliseconds=1), 2.0)
    years_ahead = point("d4", now.replace(year=2031), 3.0)
    message = parsed(raw_batch([*good_points(5, T0), edge_of_skew, past_it, years_ahead]), now)
    assert [p.device_id for p in message.batch.points] == ["d1"] * 5 + ["d2"]
    assert [(r.reason, r.device_id) for r in message.rejected] == [
        ("time_ahead", "d3"),
        ("time_ahead", "d4"),
    ]
    assert "ahead of the hub's clock" in message.rejected[0].detail


def test_the_direct_path_keeps_the_good_points_too() -> None:
    raw = raw_batch([*good_points(3, T0), '{"device_id": "d9"}'])
    result = parse_uplink(TOPIC, raw, max_payload_bytes=1 << 20)
    assert isinstance(result, TelemetryMessage)
    assert len(result.batch.points) == 3
    assert [r.reason for r in result.rejected] == ["malformed"]


# --- through a running hub ---------------------------------------------------------------


@pytest.mark.mosquitto
async def test_a_running_hub_records_the_good_points_and_counts_the_bad_ones(
    tmp_path: Path, mosquitto: MosquittoProcess, victoria: VictoriaMetrics
) -> None:
    # The hub's clock is injected: a fixed instant near the present (the server keeps a year).
    now = datetime.now(UTC).replace(microsecond=0)
    settings = hub_settings(tmp_path, mosquitto, victoria.url)
    settings = settings.model_copy(update={"influx_buffer_max": 5_000})
    devices = [make_device(name) for name in ("d1", "d2", "d3")]
    start = now - timedelta(minutes=30)
    infinite = point("d1", start - timedelta(seconds=1), 1.0).replace(
        '"co_ppm":1.0', '"co_ppm":1e999'
    )
    assert "1e999" in infinite
    first = raw_batch([*good_points(499, start, "d1"), infinite])
    year_zero = json.dumps({"device_id": "d2", "ts": UNSTORABLE[0], "readings": {"co_ppm": 7.0}})
    second = raw_batch([*good_points(10, start, "d2"), year_zero])
    ahead = point("d3", now + timedelta(days=400), 99.0)
    third = raw_batch([*good_points(10, start, "d3"), ahead])
    async with api_client(create_app(settings, clock=lambda: now)) as http:
        await eventually(http, lambda health: health["mqtt_connected"], "/api/v1/health")
        await publish_inventory(mosquitto.port, *devices)
        for raw in (first, second, third):
            await publish(mosquitto.port, edge_topic("e1", EdgeChannel.TELEMETRY), raw.decode())

        def stored() -> dict[str, int] | None:
            counts = {
                series["metric"]["device_id"]: len(series["values"])
                for series in victoria.export("reading_co_ppm")
            }
            return counts if counts == {"d1": 499, "d2": 10, "d3": 10} else None

        await asyncio.to_thread(wait_until, stored, timeout=DEADLINE, what="the good points")
        health = await eventually(
            http,
            lambda body: body["counters"].get("telemetry_points", 0) >= 519,
            "/api/v1/health",
        )
        counters = health["counters"]
        assert counters["rejected.malformed"] == 1
        assert counters["rejected.time_unstorable"] == 1
        assert counters["rejected.time_ahead"] == 1
        window = {"start": (start - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
        path = "/api/v1/console/readings?" + urlencode({"device_id": "d1", **window})
        await eventually(http, lambda body: len(body["items"]) == 499, path)
        listed = (await http.get("/api/v1/devices")).json()["items"]
        last_seen = {device["id"]: device["last_seen"] for device in listed}
        assert datetime.fromisoformat(last_seen["d3"]) <= now
