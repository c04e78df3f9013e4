"""Telemetry off the ingest path: the bounded buffer, line protocol, the batch worker, history."""

import contextlib
import functools
import http.server
import re
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, timedelta, timezone, tzinfo

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.mqtt_link import Backoff
from devices.payloads import Readings
from hub.telemetry.history import ReadingHistory, history_rows, incident_window
from hub.telemetry.influx import TelemetryRejectedError, TelemetryWriteError
from hub.telemetry.writer import (
    MEASUREMENT,
    BatchWorker,
    InfluxLineWriter,
    SendBuffer,
    TelemetryForwarder,
    escape_key,
    line_protocol,
    line_protocol_batch,
    telemetry_items,
)
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.polling import wait_until
from tests.threaded_server import served_in_thread

FLAGS = frozenset(
    name for name, info in Readings.model_fields.items() if "bool" in str(info.annotation)
)


def point(device_id: str, seconds: float, **readings: float | bool) -> TelemetryPoint:
    """Return one device's readings at T0 + seconds."""
    return TelemetryPoint(
        device_id=device_id,
        ts=T0 + timedelta(seconds=seconds),
        readings=Readings.model_validate(readings),
    )


def batch(*points: TelemetryPoint, edge_id: str = "e1") -> TelemetryBatch:
    """Return a telemetry batch of an edge."""
    return TelemetryBatch(edge_id=edge_id, points=list(points))


def fast_backoff() -> Backoff:
    """Return a backoff of a few milliseconds, so retries happen within a test."""
    return Backoff(initial=0.01, maximum=0.02, rng=lambda: 1.0)


# --- the bounded buffer -----------------------------------------------------------------


def test_a_full_buffer_drops_its_oldest_items_and_says_how_many() -> None:
    buffer: SendBuffer[int] = SendBuffer(3)
    assert buffer.offer([1, 2]) == 0
    assert buffer.offer([3, 4, 5]) == 2
    assert buffer.take(10) == [3, 4, 5]
    assert len(buffer) == 0


def test_a_failed_batch_goes_back_to_the_head_in_order() -> None:
    buffer: SendBuffer[int] = SendBuffer(4)
    buffer.offer([1, 2, 3])
    taken = buffer.take(2)
    buffer.offer([4, 5])
    # Putting [1, 2] back makes 5 items for 4 places: the oldest (1) goes.
    assert buffer.give_back(taken) == 1
    assert buffer.take(10) == [2, 3, 4, 5]


@pytest.mark.parametrize("a_first", [True, False])
def test_batches_taken_across_offers_come_back_in_place_whichever_returns_first(
    a_first: bool,
) -> None:
    buffer: SendBuffer[int] = SendBuffer(10)
    buffer.offer(range(4))
    buffer.offer(range(4, 8))
    a = buffer.take_runs(3)
    b = buffer.take_runs(3)  # the end of the first offer and the start of the second
    assert [item for _, run in b for item in run] == [3, 4, 5]
    assert buffer.offer(range(8, 12)) == 0
    dropped = sum(buffer.give_back_runs(batch) for batch in ((a, b) if a_first else (b, a)))
    # Twelve items for ten places: the two oldest go, the rest keep their order.
    assert (dropped, len(buffer)) == (2, 10)
    assert buffer.take(20) == list(range(2, 12))
    assert len(buffer) == 0


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["offer", "take", "give_back"]), st.integers(0, 7)), max_size=40
)


@settings(deadline=None, database=None)
@given(capacity=st.integers(1, 12), operations=OPERATIONS)
def test_the_buffer_behaves_as_a_sorted_list_of_numbered_items(
    capacity: int, operations: list[tuple[str, int]]
) -> None:
    # The model: every item numbered by arrival, the buffer sorted by number, the lowest
    # numbers dropped past capacity; batches out may come back in any order.
    buffer: SendBuffer[int] = SendBuffer(capacity)
    model: list[int] = []
    out: list[list[tuple[int, list[int]]]] = []
    arrived = 0
    for operation, n in operations:
        if operation == "offer":
            dropped = buffer.offer(range(arrived, arrived + n))
            model += range(arrived, arrived + n)
            arrived += n
        elif operation == "take":
            out.append(buffer.take_runs(n))
            assert [item for _, run in out[-1] for item in run] == model[:n]
            del model[:n]
            dropped = 0
        elif out:
            batch = out.pop(n % len(out))
            dropped = buffer.give_back_runs(batch)
            model = sorted(model + [item for _, run in batch for item in run])
        else:
            continue
        assert dropped == max(0, len(model) - capacity)
        del model[:dropped]
        assert len(buffer) == len(model)
    assert buffer.take(len(model) + 1) == model


def test_a_buffer_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SendBuffer[int](0)


# --- line protocol ----------------------------------------------------------------------


def test_a_point_becomes_one_line_with_tags_float_fields_and_millisecond_time() -> None:
    item = telemetry_items(batch(point("b3-co", 1.5, co_ppm=35, smoke=False)))[0]
    ts_ms = int((T0 + timedelta(seconds=1.5)).timestamp() * 1000)
    assert line_protocol(item) == (
        f"reading,device_id=b3-co,edge_id=e1 co_ppm=35.0,smoke=false {ts_ms}"
    )


def test_a_point_without_readings_writes_nothing() -> None:
    assert line_protocol(telemetry_items(batch(point("b3-co", 0)))[0]) is None


def reference_escape(text: str) -> str:
    """Escape a tag value for line protocol the plain way: a backslash before each special."""
    return re.sub(r"([\\, =])", r"\\\1", text)


def reference_line(edge_id: str, p: TelemetryPoint) -> str | None:
    """Render a point the plain way, through ``Readings.present()`` (what the fast path skips)."""

    def value_text(value: float | bool) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return repr(float(value))

    fields = ",".join(f"{name}={value_text(value)}" for name, value in p.readings.present().items())
    if not fields:
        return None
    ts_ms = round(p.ts.timestamp() * 1000)
    tags = f"device_id={reference_escape(p.device_id)},edge_id={reference_escape(edge_id)}"
    return f"reading,{tags} {fields} {ts_ms}"


def test_the_fast_encoder_writes_what_the_readings_model_presents() -> None:
    every = {
        name: (i % 2 == 0) if name in FLAGS else float(i) + 0.25
        for i, name in enumerate(Readings.model_fields)
    }
    points = [
        point("b3-co", 0.001, co_ppm=35, smoke=False),
        point("b3-co", 1.5, temperature_c=-12.5, battery_low=True, smoke_density_db_per_m=0.1),
        point("b4-all", 2.25, **every),
        point("b5-none", 3),
        point("b6-int", 4, humidity_pct=55, contact=True),
    ]
    for edge_id in ("e1", "edge-2"):
        items = telemetry_items(batch(*points, edge_id=edge_id))
        expected = [reference_line(edge_id, p) for p in points]
        assert [line_protocol(item) for item in items] == expected
        assert line_protocol_batch(items) == [line for line in expected if line is not None]
    # Every field appears once, in the model's order, flags as booleans.
    line = line_protocol(telemetry_items(batch(points[2]))[0])
    assert line is not None
    assert [f.split("=")[0] for f in line.split(" ")[1].split(",")] == list(Readings.model_fields)


def test_tag_values_with_line_protocol_specials_are_escaped() -> None:
    assert escape_key("a b,c=d\\e") == "a\\ b\\,c\\=d\\\\e"
    # Double quotes are literal in tag keys, tag values and field keys.
    assert escape_key('say "hi"') == 'say\\ "hi"'


@settings(deadline=None, database=None)
@given(text=st.text(alphabet=' ,="\\ab\u00e9', max_size=12))
def test_escaping_puts_one_backslash_before_each_special_and_nothing_else(text: str) -> None:
    escaped = escape_key(text)
    assert escaped == reference_escape(text)
    # Read back the way a line protocol parser does: a backslash takes the next character.
    assert re.sub(r"\\(.)", r"\1", escaped) == text
    assert re.search(r"(?<!\\)(?:\\\\)*[ ,=]", escaped) is None  # no special left bare


def test_the_measurement_and_field_keys_need_no_escaping_and_get_none() -> None:
    # The measurement and field keys are Linli's own names: plain, so written as they are.
    assert re.fullmatch(r"[a-z_]+", MEASUREMENT)
    for name in Readings.model_fields:
        assert re.fullmatch(r"[a-z_]+", name)
        assert escape_key(name) == name


def test_timestamps_of_a_batch_mixing_time_zones_are_each_their_own() -> None:
    # The encoder looks up a zone's epoch once per run of points sharing it: a change of zone
    # in the middle of a batch, or a zone with daylight saving, must not reuse the last one.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    instants = [T0 + timedelta(days=d, milliseconds=ms) for d in (0, 100, 200) for ms in (0, 1)]
    zones: list[tzinfo] = [UTC, pydantic_core.TzInfo(3600), berlin, timezone(timedelta(hours=-5))]
    points = [
        TelemetryPoint(device_id="b3-co", ts=t.astimezone(z), readings=Readings(co_ppm=1))
        for t in instants
        for z in zones
    ]
    lines = line_protocol_batch(telemetry_items(batch(*points)))
    assert [int(line.rsplit(" ", 1)[1]) for line in lines] == [
        round(t.timestamp() * 1000) for t in instants for _ in zones
    ]


def test_timestamps_parsed_from_json_as_the_hub_receives_them() -> None:
    sent = batch(point("b3-co", 1.5, co_ppm=35), point("b3-co", 2.0004, co_ppm=36))
    received = TelemetryBatch.model_validate_json(
        sent.model_dump_json().replace("+00:00", "+05:45").replace("Z", "+05:45")
    )
    assert isinstance(received.points[0].ts.tzinfo, pydantic_core.TzInfo)
    assert line_protocol_batch(telemetry_items(received)) == [
        reference_line("e1", p) for p in received.points
    ]


def test_numbers_equal_in_value_but_rendered_apart_are_never_confused() -> None:
    # The encoder remembers rendered numbers: 0.0 and -0.0 (equal, rendered apart), 1 and 1.0
    # (equal, both "1.0"), and a flag's True (equal to 1.0) must each still come out right,
    # whichever was seen first.
    values: list[dict[str, float | bool]] = [
        {"co_ppm": 0.0, "temperature_c": -0.0},
        {"temperature_c": -0.0, "co_ppm": 0.0},
        {"co_ppm": 1, "smoke": True},
        {"co_ppm": 1.0, "smoke": True, "battery_low": False},
        {"humidity_pct": 1.0, "smoke": True},
        {"co_ppm": 1e-7, "temperature_c": 1499.9999999999998},
    ]
    points = [point("b3-co", i, **v) for i, v in enumerate(values)]
    expected = [reference_line("e1", p) for p in points]
    for ordering in (points, points[::-1], points + points):
        items = telemetry_items(batch(*ordering))
        assert line_protocol_batch(items) == [reference_line("e1", p) for p in ordering]
    assert all(" co_ppm=0.0,temperature_c=-0.0 " in str(line) for line in expected[:2])


TAG_VALUES = st.text(alphabet='ab1_-. ,=\\"é', min_size=1, max_size=8)
"""Ids with line protocol's specials: a valid id has none, but the encoder must not rely on it."""
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100),
    st.sampled_from([0.0, -0.0, 1.0, 0.1, 1e-7, 99.99999999999999]),
)
READINGS = st.fixed_dictionaries(
    {},
    optional={
        name: st.none() | (st.booleans() if name in FLAGS else NUMBERS)
        for name in Readings.model_fields
    },
).map(Readings.model_validate)
ZONES = st.one_of(
    st.integers(min_value=-720, max_value=720).map(lambda m: timezone(timedelta(minutes=m))),
    # What pydantic gives a parsed "Z" or "+05:45": the encoder's fast path for fixed offsets.
    st.integers(min_value=-720, max_value=720).map(lambda m: pydantic_core.TzInfo(m * 60)),
    # A zone with daylight saving: its offset changes, so no fast path may assume it fixed.
    st.just(zoneinfo.ZoneInfo("Europe/Berlin")),
)
TIMES = st.builds(
    lambda micros, zone: (T0 + timedelta(microseconds=micros)).astimezone(zone),
    # Whole and half milliseconds included: where rounding could tell two renderings apart.
    st.integers(min_value=-(10**12), max_value=10**12)
    | st.integers(min_value=-(10**9), max_value=10**9).map(lambda ms: ms * 1000 + 500),
    ZONES,
)
POINTS = st.builds(
    TelemetryPoint.model_construct,  # unvalidated: the tags may need escaping
    device_id=TAG_VALUES,
    ts=TIMES,
    readings=READINGS,
)


@settings(deadline=None, database=None)
@given(edge_id=TAG_VALUES, points=st.lists(POINTS, max_size=20))
def test_the_fast_encoder_writes_byte_for_byte_what_the_plain_rendering_does(
    edge_id: str, points: list[TelemetryPoint]
) -> None:
    items = [(edge_id, p) for p in points]
    expected = [reference_line(edge_id, p) for p in points]
    assert [line_protocol(item) for item in items] == expected
    assert line_protocol_batch(items) == [line for line in expected if line is not None]


# --- the worker ---------------------------------------------------------------------------


class FlakyServer:
    """A flush target that fails while ``down`` is set, recording what it accepted."""

    def __init__(self) -> None:
        self.down = False
        self.accepted: list[int] = []
        self.attempts = 0
        self.lock = threading.Lock()
        # Give it its sizes (and a backoff) to make a batch worker that writes here and retries
        # while the server is down.
        self.worker = functools.partial(
            BatchWorker[int], "t", self.flush, retry_on=(TelemetryWriteError,)
        )

    def flush(self, items: list[int]) -> None:
        """Accept the items, or raise while down."""
        with self.lock:
            self.attempts += 1
            if self.down:
                raise TelemetryWriteError("server down")
            self.accepted.extend(items)


def test_the_worker_writes_in_batches_from_its_own_thread() -> None:
    server = FlakyServer()
    worker = server.worker(batch_size=10, flush_seconds=0.05, capacity=1000)
    worker.start()
    try:
        worker.submit(range(25))
        wait_until(lambda: len(server.accepted) == 25, timeout=5.0, interval=0.01)
    finally:
        worker.stop()
    assert server.accepted == list(range(25))
    counters = worker.counters
    assert counters["points_written"] == 25
    assert counters["batches_written"] == 3
    assert counters.get("points_dropped", 0) == 0


def write_through_an_outage(
    server: FlakyServer, *, writers: int, failed_writes: int, accepted: int | None = None
) -> BatchWorker[int]:
    """Offer items 0-199, twenty at a time, to a worker holding 50 while ``server`` is down.

    Once ``failed_writes`` writes have failed, check the buffer held at most 50, bring the
    server back, wait for the buffer to empty (and, if given, for ``accepted`` items to have
    arrived) and return the worker, stopped.
    """
    server.down = True
    worker = server.worker(
        batch_size=10, flush_seconds=0.01, capacity=50, backoff=fast_backoff(), writers=writers
    )
    worker.start()
    try:
        # Handing over never waits for the dead server: these return while every write fails.
        for start in range(0, 200, 20):
            worker.submit(range(start, start + 20))
        wait_until(lambda: server.attempts >= failed_writes, timeout=5.0, interval=0.01)
        assert worker.buffered <= 50
        server.down = False
        wait_until(
            lambda: worker.buffered == 0 and (accepted is None or len(server.accepted) == accepted),
            timeout=5.0,
            interval=0.01,
        )
    finally:
        worker.stop()
    return worker


def test_while_the_server_is_down_the_buffer_stays_bounded_then_retried_batches_arrive() -> None:
    server = FlakyServer()
    counters = write_through_an_outage(server, writers=1, failed_writes=3, accepted=50).counters
    assert counters["points_dropped"] == 150
    assert counters["write_failures"] >= 3
    # The freshest 50 survive, in order.
    assert server.accepted == list(range(150, 200))


def test_stopping_with_a_dead_server_counts_what_was_not_written() -> None:
    server = FlakyServer()
    server.down = True
    worker = server.worker(
        batch_size=100, flush_seconds=10.0, capacity=1000, backoff=fast_backoff()
    )
    worker.start()
    worker.submit(range(30))
    worker.stop()  # with a 10 s flush interval: stop must not wait for it (pytest-timeout)
    assert worker.counters["points_dropped"] == 30
    assert worker.buffered == 0


class RecordingWriter:
    """A line writer that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed = False

    def write(self, lines: list[str]) -> None:
        """Keep the lines."""
        self.lines.extend(lines)

    def close(self) -> None:
        """Remember the close."""
        self.closed = True


def test_the_forwarder_skips_points_without_readings_and_closes_its_writer() -> None:
    writer = RecordingWriter()
    forwarder = TelemetryForwarder(writer, batch_size=10, flush_seconds=0.01)
    forwarder.start()
    forwarder.submit(
        batch(point("a", 0, temperature_c=20), point("b", 1), point("c", 2, smoke=True))
    )
    wait_until(lambda: len(writer.lines) == 2, timeout=5.0, interval=0.01)
    forwarder.stop()
    assert [line.split(",")[1] for line in writer.lines] == ["device_id=a", "device_id=c"]
    assert writer.closed


# --- console history ------------------------------------------------------------------


def test_rows_merge_readings_of_one_device_at_one_instant() -> None:
    rows = history_rows(
        telemetry_items(
            batch(point("a", 0, temperature_c=20), point("a", 0, humidity_pct=40), point("b", 0))
        )
    )
    assert len(rows) == 1
    assert rows[0]["readings"] == {"temperature_c": 20.0, "humidity_pct": 40.0}


def test_the_incident_window_never_ends_in_the_future() -> None:
    opened, last = T0, T0 + timedelta(minutes=5)
    start, end = incident_window(opened, last, T0 + timedelta(minutes=10))
    assert (start, end) == (T0 - timedelta(minutes=30), T0 + timedelta(minutes=10))
    _, end_later = incident_window(opened, last, T0 + timedelta(hours=2))
    assert end_later == last + timedelta(minutes=30)


def written(history: ReadingHistory, count: int) -> None:
    """Wait until the history's worker has written ``count`` readings in all."""
    wait_until(
        lambda: history.worker.counters.get("points_written", 0) == count,
        timeout=5.0,
        interval=0.01,
    )


def test_history_keeps_readings_once_and_prunes_them_by_age(engine: Engine) -> None:
    clock = FakeClock(T0 + timedelta(minutes=1))
    history = ReadingHistory(engine, retention=timedelta(hours=1), clock=clock, flush_seconds=0.01)
    history.start()
    try:
        readings = batch(point("a", 0, co_ppm=10), point("a", 60, co_ppm=40), point("b", 30))
        history.submit(readings)
        history.submit(readings)  # a re-sent batch is stored once
        written(history, 6)
        history.submit(readings)  # and once more, after the first are stored
        written(history, 9)
    finally:
        history.stop()
    samples = history.readings(["a", "b"], T0 - timedelta(minutes=1), T0 + timedelta(minutes=5))
    assert [(s.device_id, s.readings) for s in samples] == [
        ("a", {"co_ppm": 10.0}),
        ("a", {"co_ppm": 40.0}),
    ]
    assert history.readings(["a"], T0 + timedelta(seconds=30), T0 + timedelta(minutes=5)) == [
        samples[1]
    ]
    # More than a chart takes: the first, or (the console's incident chart) the latest, each
    # oldest first.
    window = (T0 - timedelta(minutes=1), T0 + timedelta(minutes=5))
    assert history.readings(["a"], *window, limit=1) == samples[:1]
    assert history.readings(["a"], *window, limit=1, newest=True) == samples[1:]
    assert history.readings(["a", "b"], *window, newest=True) == samples
    # Kept the retention (a care sensor's longer: tests/hub/test_telemetry_retention.py).
    assert history.prune(T0 + timedelta(hours=1, seconds=30)) == 1
    assert [s.ts for s in history.readings(["a"], T0, T0 + timedelta(hours=2))] == [
        T0 + timedelta(seconds=60)
    ]


def worked(
    flush: Callable[[list[int]], None],
    items: Iterable[int],
    done: Callable[[BatchWorker[int]], bool],
    *,
    batch_size: int = 5,
    drop_on: tuple[type[Exception], ...] = (TelemetryRejectedError,),
    backoff: Backoff | None = None,
) -> BatchWorker[int]:
    """Run a batch worker of ``flush`` over ``items`` until ``done``; return it, stopped."""
    worker: BatchWorker[int] = BatchWorker(
        "t",
        flush,
        batch_size=batch_size,
        flush_seconds=0.01,
        capacity=100,
        retry_on=(TelemetryWriteError,),
        drop_on=drop_on,
        backoff=backoff,
    )
    worker.start()
    try:
        worker.submit(items)
        wait_until(lambda: done(worker), timeout=5.0, interval=0.01)
    finally:
        worker.stop()
    return worker


def test_a_refused_point_costs_itself_not_the_batch_and_later_batches_still_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    accepted: list[int] = []
    attempts: list[list[int]] = []

    def flush(items: list[int]) -> None:
        attempts.append(items)
        if 13 in items:
            raise TelemetryRejectedError("the server refused the batch")
        accepted.extend(items)

    worker = worked(flush, range(20), lambda _: len(accepted) == 19)
    assert sorted(accepted) == [i for i in range(20) if i != 13]
    # Halved until the refused point stands alone: [10..14] → [10, 11] + [12, 13, 14] → …
    assert [13] in attempts
    assert len(attempts) <= 4 + 1 + 2 * 3  # the batches, and halves at most three levels deep
    assert worker.counters["batches_rejected"] == 1
    assert worker.counters["points_refused"] == 1
    assert worker.counters["points_dropped"] == 1
    assert worker.counters["points_written"] == 19
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert "dropped 1 of a batch of 5" in refusals[0].getMessage()
    assert "13" in refusals[0].getMessage()
    assert refusals[0].exc_info is None  # an expected refusal: no traceback


def test_a_sink_refusing_everything_drops_every_point_once_and_logs_a_line_a_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def flush(items: list[int]) -> None:
        raise ValueError("a bug the points set off")

    worker = worked(
        flush,
        range(16),
        lambda w: w.counters.get("points_dropped", 0) == 16,
        batch_size=8,
        drop_on=(),
    )
    assert worker.counters["batches_rejected"] == 2
    assert worker.counters.get("points_written", 0) == 0
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.getMessage().split(" as refused")[0] for r in refusals] == [
        "t: dropped 8 of a batch of 8 points"
    ] * 2
    assert all(r.exc_info is not None for r in refusals)  # not an expected kind: a traceback


def test_a_retryable_failure_while_halving_gives_the_whole_batch_back() -> None:
    """The server goes away while a refused batch is being halved: the batch is retried whole,
    and the points written before the failure are written again, not lost nor counted twice."""
    written: list[int] = []
    down = {"left": 1}

    def flush(items: list[int]) -> None:
        if 3 in items:
            raise TelemetryRejectedError("refused")
        if len(items) < 8 and down["left"]:
            down["left"] -= 1
            raise TelemetryWriteError("connection reset")
        written.extend(items)

    worker = worked(
        flush,
        range(8),
        lambda _: set(written) >= set(range(8)) - {3},
        batch_size=8,
        backoff=fast_backoff(),
    )
    assert worker.counters["write_failures"] == 1
    assert worker.counters["points_written"] == 7
    assert worker.counters["points_refused"] == 1


def test_history_stores_a_batch_beside_a_row_the_database_refuses(engine: Engine) -> None:
    """One point the table refuses (no device: NOT NULL) in a batch of others' readings: the
    others are stored, the one is counted as refused."""
    clock = FakeClock(T0 + timedelta(minutes=1))
    history = ReadingHistory(engine, retention=timedelta(days=1), clock=clock, flush_seconds=0.01)
    bad = TelemetryPoint.model_construct(
        device_id=None,  # type: ignore[arg-type]  # what no validated point holds
        ts=T0,
        readings=Readings.model_validate({"co_ppm": 5}),
    )
    good = [point(f"d{i}", i, co_ppm=float(i)) for i in range(9)]
    history.start()
    try:
        history.submit(batch(*good[:4], bad, *good[4:]))
        written(history, 9)
    finally:
        history.stop()
    assert history.worker.counters["points_refused"] == 1
    stored = history.readings([f"d{i}" for i in range(9)], T0, T0 + timedelta(minutes=1))
    assert sorted(s.device_id for s in stored) == [f"d{i}" for i in range(9)]


def test_several_writer_threads_deliver_every_item_once() -> None:
    server = FlakyServer()
    worker = server.worker(batch_size=7, flush_seconds=0.01, capacity=10_000, writers=3)
    worker.start()
    try:
        for start in range(0, 1000, 50):
            worker.submit(range(start, start + 50))
        wait_until(lambda: len(server.accepted) >= 1000, timeout=5.0, interval=0.01)
    finally:
        worker.stop()
    assert sorted(server.accepted) == list(range(1000))
    assert worker.counters["points_written"] == 1000
    assert worker.counters.get("points_dropped", 0) == 0


def test_several_writer_threads_keep_the_buffer_bounded_and_retry_while_down() -> None:
    server = FlakyServer()
    counters = write_through_an_outage(server, writers=2, failed_writes=4).counters
    # Nothing vanishes unaccounted: every item was written or counted as dropped, once.
    assert len(server.accepted) == len(set(server.accepted))
    assert len(server.accepted) + counters["points_dropped"] == 200
    assert counters["points_written"] == len(server.accepted)
    assert set(range(150, 200)) <= set(server.accepted)


def test_a_batch_worker_needs_a_writer_thread() -> None:
    with pytest.raises(ValueError, match="at least one writer"):
        BatchWorker[int]("t", lambda _items: None, batch_size=1, flush_seconds=1, capacity=1,
                         retry_on=(), writers=0)  # fmt: skip


class AnsweringServer(http.server.BaseHTTPRequestHandler):
    """Answers every write with the status the test put on the server."""

    def do_POST(self) -> None:
        """Read the body and answer with the configured status."""
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status: int = self.server.status  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, TelemetryRejectedError), (413, TelemetryRejectedError), (503, TelemetryWriteError)],
)
def test_the_influx_writer_tells_a_refused_batch_from_a_failed_write(
    status: int, error: type[Exception]
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AnsweringServer)
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    writer = InfluxLineWriter(
        f"http://127.0.0.1:{server.server_address[1]}", "t", "o", "b", timeout_seconds=2
    )
    try:
        with pytest.raises(error):
            writer.write(["reading,device_id=a,edge_id=e co_ppm=1.0 1"])
    finally:
        writer.close()
        server.shutdown()
        server.server_close()


Request = tuple[str, str | None, bytes, int]
"""What ``KeepAliveServer`` saw of a request: path, Authorization, body, the client's port."""


class KeepAliveServer(AnsweringServer):
    """Answers 204 over HTTP/1.1 keep-alive, recording each request and its client port."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Record the request, then answer 204 (closing the connection if the test says so)."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server: KeepAliveHTTPServer = self.server  # type: ignore[assignment]
        server.seen.append(
            (self.path, self.headers.get("Authorization"), body, self.client_address[1])
        )
        self.send_response(204)
        closing = server.closing
        if closing == "announced":
            self.send_header("Connection", "close")
        self.end_headers()
        # "silently": as a server whose idle timeout fires, without saying so in the answer.
        self.close_connection = closing != "never"


class KeepAliveHTTPServer(http.server.ThreadingHTTPServer):
    """Serves ``KeepAliveServer``, recording requests; ``closed`` is set once it closed one."""

    def __init__(self, closing: str) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveServer)
        self.closing = closing
        self.seen: list[Request] = []
        self.closed = threading.Event()

    def shutdown_request(self, request: object) -> None:
        """Close the connection, and say so."""
        super().shutdown_request(request)  # type: ignore[arg-type]
        self.closed.set()


@contextlib.contextmanager
def keep_alive_server(*, closing: str) -> Iterator[KeepAliveHTTPServer]:
    """Run a ``KeepAliveHTTPServer`` in a thread."""
    with served_in_thread(KeepAliveHTTPServer(closing)) as server:
        yield server


@pytest.mark.parametrize("closing", ["never", "announced", "silently"])
def test_the_influx_writer_posts_each_batch_as_one_body_reusing_a_kept_alive_connection(
    closing: str,
) -> None:
    with keep_alive_server(closing=closing) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/prefix/"
        writer = InfluxLineWriter(url, "s3cret", "my org", "b", timeout_seconds=2)
        try:
            writer.write(["a x=1.0 1", "a x=2.0 2"])
            if closing == "silently":
                assert server.closed.wait(5)  # the idle connection is closed before the next write
            writer.write(["a x=3.0 3"])
        finally:
            writer.close()
    seen = server.seen
    path = "/prefix/api/v2/write?org=my+org&bucket=b&precision=ms"
    assert [request[:3] for request in seen] == [
        (path, "Token s3cret", b"a x=1.0 1\na x=2.0 2"),
        (path, "Token s3cret", b"a x=3.0 3"),
    ]
    # A kept-alive connection carries both; one the server closed is replaced, not reused
    # (the silent close is seen before the write: the idle socket reads as closed).
    assert (seen[0][3] == seen[1][3]) is (closing == "never")


def test_the_influx_writer_takes_a_host_and_port_without_a_scheme_as_http() -> None:
    with keep_alive_server(closing="never") as server:
        writer = InfluxLineWriter(
            f"127.0.0.1:{server.server_address[1]}", "t", "o", "b", timeout_seconds=2
        )
        try:
            writer.write(["a x=1.0 1"])
        finally:
            writer.close()
    assert [request[0] for request in server.seen] == ["/api/v2/write?org=o&bucket=b&precision=ms"]


def test_the_influx_writer_refuses_a_url_it_cannot_post_to() -> None:
    with pytest.raises(ValueError, match="not an http"):
        InfluxLineWriter("ftp://influx.example", "t", "o", "b", timeout_seconds=2)


def test_the_tag_cache_starts_over_when_full_and_lines_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hub.telemetry.writer as writer

    monkeypatch.setattr(writer, "_PREFIXES_MAX", 3)
    points = [point(f"b{i}-co", i, co_ppm=i) for i in range(10)]
    for edge_id in ("e1", "e2", "e1"):
        items = telemetry_items(batch(*points, edge_id=edge_id))
        assert line_protocol_batch(items) == [reference_line(edge_id, p) for p in points]
    assert sum(len(devices) for devices in writer._PREFIXES.values()) <= 3
