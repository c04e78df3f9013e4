"""City-scale load: many simulated edges speaking the real uplink protocol to the hub's broker.

Each ``SimulatedEdge`` is what ``edge.uplink`` is on the wire, without devices or an outbox:
one persistent MQTT session per edge (``devices.mqtt_link``: the same connect options,
credentials, TLS, backoff and reconnect loop as a real edge), the retained ``EdgeStatus``
with its device inventory at every connect and every ``heartbeat_s`` (last will: offline),
alerts as ``Alert`` at QoS 1 kept until the hub's ``AlertAck`` names them and re-sent after
``resend_after_s`` or a reconnect, at most ``max_in_flight`` on the wire at once (the
outbox's window: ``load_tally.SendWindow``), door passages as ``AccessLogBatch`` kept until
``AccessLogAck`` the same way, and readings as best-effort ``TelemetryBatch`` (QoS 0) every
``telemetry_flush_s``.

``run_load`` plays the pure schedule of ``simulators.load_mix`` against them in real time,
waits for every acknowledgement (up to ``drain_s``), and returns a ``LoadResult``: the
``LoadTally`` (sent, acknowledged, latency publish → committed, since the hub acknowledges
only after its commit). ``check_hub`` then asks the hub's ``/api/v1`` what it stored, for
the lost and duplicated counts.
"""

import asyncio
import logging
import random
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiomqtt
import httpx
from pydantic import ValidationError

from devices.access import AccessEventKind, AccessLogAck, AccessLogBatch, AccessRecord
from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import (
    Alert,
    AlertAck,
    AlertReason,
    EdgeStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.mqtt_link import Backoff, MqttEndpoint, MqttLink, checkpoint, payload_bytes
from devices.payloads import Readings
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from simulators.load_mix import (
    HAZARD,
    EventKind,
    LoadEvent,
    LoadPlan,
    SimDevice,
    SimEdge,
    fleet,
    schedule,
)
from simulators.load_tally import LoadTally, Reconciled, SendWindow, reconcile

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]


def utc_now() -> datetime:
    """Return the wall clock, in UTC (the payloads' timestamps)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LoadTarget:
    """The hub's broker the simulated edges connect to, and how."""

    host: str
    port: int
    credentials_dir: Path | None = None
    """A folder of ``<edge_id>.json`` files (``linli broker add-edge``'s output, mode 0600),
    one per simulated edge, for a hub broker set up with ``linli broker init``; None: the
    broker takes anonymous clients (the embedded or a test broker)."""
    ca_file: Path | None = None
    """The CA of the broker's TLS listener; None: plain TCP."""
    alternates: tuple[tuple[str, int], ...] = ()
    """Other nodes of a clustered broker, tried in turn after the first (``deploy/nats``)."""
    spread: bool = False
    """Start each edge on a node of its own (by a hash of its id), as a DNS round robin in
    front of a cluster would, instead of every edge on the first."""

    def endpoint(self, edge_id: str) -> MqttEndpoint:
        """Return the connect options of one simulated edge, as a real edge's uplink has them."""
        credentials = None
        if self.credentials_dir is not None:
            credentials = self.credentials_dir / f"{edge_id}.json"
        nodes = [(self.host, self.port), *self.alternates]
        if self.spread:
            first = zlib.crc32(edge_id.encode()) % len(nodes)
            nodes = nodes[first:] + nodes[:first]
        return MqttEndpoint(
            host=nodes[0][0],
            port=nodes[0][1],
            client_id=f"linli-edge-{edge_id}",
            credentials_file=credentials,
            tls_ca=self.ca_file,
            alternates=tuple(nodes[1:]),
        )


@dataclass
class LoadOptions:
    """How the run behaves, beside the plan."""

    resend_after_s: float = 10.0
    """As ``EdgeSettings.resend_after_s``."""
    telemetry_flush_s: float = 5.0
    """As ``EdgeSettings.telemetry_interval_s``."""
    heartbeat_s: float = 30.0
    """As ``EdgeSettings.heartbeat_s``: the retained status, with the inventory, again."""
    max_in_flight: int = 200
    """As ``EdgeSettings.max_in_flight``: records unacknowledged on the wire at once, per
    channel (alerts; access records)."""
    connect_timeout_s: float = 60.0
    warmup_s: float = 0.0
    """How long to wait after every edge connected before the schedule starts: the hub
    registers each edge's inventory from its first status (a city's edges are registered
    long before its busy hour), and this keeps that one-off burst out of the figures."""
    drain_s: float = 120.0
    """How long to wait, after the last event, for the acknowledgements still missing."""
    run_id: str = field(default_factory=lambda: f"{random.getrandbits(24):06x}")
    """Tag of this run's edge, device and record ids (a hub may hold earlier runs)."""


class SimulatedEdge:
    """One simulated edge's session with the hub's broker; ``await run()`` until cancelled."""

    def __init__(
        self,
        edge: SimEdge,
        endpoint: MqttEndpoint,
        tally: LoadTally,
        *,
        options: LoadOptions,
        clock: Clock,
        monotonic: Monotonic,
    ) -> None:
        self.edge = edge
        self._tally = tally
        self._options = options
        self._clock = clock
        self._monotonic = monotonic
        self._messages: dict[str, tuple[str, str]] = {}
        """Every record not yet acknowledged: id → (topic, payload), to resend."""
        self.windows = {
            channel: SendWindow(options.max_in_flight, options.resend_after_s)
            for channel in (EdgeChannel.ALERT, EdgeChannel.ACCESS_LOG)
        }
        self._telemetry: list[TelemetryPoint] = []
        self._seq = 0
        self._publishing: set[asyncio.Task[None]] = set()
        self.client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self._link = MqttLink(
            endpoint,
            name=f"load-{edge.id}",
            backoff=Backoff(initial=0.2, maximum=5.0),
            will=aiomqtt.Will(
                self._topic(EdgeChannel.STATUS),
                self._status("offline").model_dump_json(),
                qos=1,
                retain=True,
            ),
            max_pending_calls=100_000,
        )

    async def run(self) -> None:
        """Keep the session up, resend what waits, flush readings; until cancelled."""
        await self._link.run(self._connection)

    async def _connection(self, client: aiomqtt.Client) -> None:
        filters = [self._topic(EdgeChannel.ACK), self._topic(EdgeChannel.ACCESS_ACK)]
        try:
            async with self._link.session(client, filters, self._read) as session:
                await client.publish(
                    self._topic(EdgeChannel.STATUS),
                    self._status("online").model_dump_json(),
                    qos=1,
                    retain=True,
                )
                self.client = client
                self.connects += 1
                self.connected.set()
                # Whatever was on the wire before this connection may be lost: send it all.
                for window in self.windows.values():
                    window.reset()
                self._pump()
                await session.serve(self._upkeep())
        finally:
            self.client = None
            self.connected.clear()

    async def _upkeep(self) -> None:
        last_flush = last_status = self._monotonic()
        while True:
            checkpoint()
            await asyncio.sleep(min(1.0, self._options.resend_after_s / 4))
            now = self._monotonic()
            self._pump()
            if now - last_flush >= self._options.telemetry_flush_s:
                last_flush = now
                await self._flush_telemetry()
            if now - last_status >= self._options.heartbeat_s and self.client is not None:
                last_status = now
                self._publish(
                    self._topic(EdgeChannel.STATUS),
                    self._status("online").model_dump_json(),
                    retain=True,
                )

    async def _read(self, messages: AsyncIterator[aiomqtt.Message]) -> None:
        alert_acks = self._topic(EdgeChannel.ACK)
        async for message in messages:
            payload = payload_bytes(message.payload) or b""
            try:
                if message.topic.value == alert_acks:
                    ids = AlertAck.model_validate_json(payload).ids
                else:
                    ids = AccessLogAck.model_validate_json(payload).ids
            except ValidationError as exc:
                logger.warning("%s: bad ack on %s: %s", self.edge.id, message.topic.value, exc)
                continue
            now = self._monotonic()
            window = self.windows[
                EdgeChannel.ALERT if message.topic.value == alert_acks else EdgeChannel.ACCESS_LOG
            ]
            for record_id in ids:
                self._messages.pop(record_id, None)
                window.acked(record_id)
                self._tally.acked_now(record_id, now)
            self._pump()

    # --- what the schedule makes this edge send ---------------------------------------------

    def send(self, event: LoadEvent) -> None:
        """Send what ``event`` stands for (now, or at the next connection)."""
        device = self.edge.devices[event.device]
        now = self._clock()
        match event.kind:
            case EventKind.TELEMETRY:
                self._telemetry.append(
                    TelemetryPoint(device_id=device.id, ts=now, readings=_readings(device))
                )
            case EventKind.DOOR:
                record = AccessRecord(
                    id=self._next_id("a"),
                    edge_id=self.edge.id,
                    door_id=device.id,
                    kind=AccessEventKind.DOOR_OPENED,
                    ts=now,
                )
                batch = AccessLogBatch(edge_id=self.edge.id, records=[record])
                self._new(record.id, event.kind, EdgeChannel.ACCESS_LOG, batch.model_dump_json())
            case EventKind.ALERT_RAISED | EventKind.ALERT_CLEARED | EventKind.SOS:
                alert = self._alert(device, event.kind, now)
                self._new(alert.id, event.kind, EdgeChannel.ALERT, alert.model_dump_json())

    def _alert(self, device: SimDevice, kind: EventKind, now: datetime) -> Alert:
        alert_kind, severity = HAZARD.get(device.kind, (AlertKind.SOS, Severity.CRITICAL))
        state = AlertState.CLEARED if kind == EventKind.ALERT_CLEARED else AlertState.RAISED
        return Alert(
            id=self._next_id("x"),
            edge_id=self.edge.id,
            device_id=device.id,
            kind=alert_kind,
            state=state,
            severity=severity,
            ts=now,
            detected_at=now,
            location=device.location,
            reason=AlertReason(rule=f"load.{kind}"),
        )

    def _new(self, record_id: str, kind: EventKind, channel: EdgeChannel, payload: str) -> None:
        self._messages[record_id] = (self._topic(channel), payload)
        self._tally.sent_now(record_id, kind, self._monotonic())
        self.windows[channel].add(record_id)
        self._pump()

    def _pump(self) -> None:
        """Put on the wire what each window has room for (nothing while disconnected)."""
        if self.client is None:
            return
        now = self._monotonic()
        for window in self.windows.values():
            for record_id in window.due(now):
                message = self._messages.get(record_id)
                if message is not None:
                    self._publish(*message)

    def _publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        client = self.client
        if client is None:
            return  # sent again at the next connection
        # Not awaited here: a QoS 1 publish waits for its PUBACK, and one edge's window of
        # alerts must not be serialised by it (edge.uplink publishes a window at once too).
        task = asyncio.create_task(self._published(client, topic, payload, retain))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _published(
        self, client: aiomqtt.Client, topic: str, payload: str, retain: bool
    ) -> None:
        with suppress(aiomqtt.MqttError, TimeoutError):
            await client.publish(topic, payload, qos=1, retain=retain)

    async def _flush_telemetry(self) -> None:
        client = self.client
        if client is None or not self._telemetry:
            return
        points, self._telemetry = self._telemetry, []
        batch = TelemetryBatch(edge_id=self.edge.id, points=points)
        try:
            await client.publish(self._topic(EdgeChannel.TELEMETRY), batch.model_dump_json())
        except aiomqtt.MqttError as exc:
            logger.debug("%s: telemetry batch dropped: %s", self.edge.id, exc)
            return
        self._tally.telemetry_points += len(points)

    @property
    def waiting(self) -> int:
        """Return how many records this edge still waits to see acknowledged."""
        return len(self._messages)

    @property
    def resends(self) -> int:
        """Return how many records this edge put on the wire again."""
        return sum(w.resends for w in self.windows.values())

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{self.edge.id}-{prefix}{self._seq:07d}"

    def _status(self, state: Literal["online", "offline"]) -> EdgeStatus:
        devices = [
            Device(id=d.id, kind=d.kind, location=d.location, edge_id=self.edge.id)
            for d in self.edge.devices
        ]
        return EdgeStatus(edge_id=self.edge.id, state=state, ts=self._clock(), devices=devices)

    def _topic(self, channel: EdgeChannel) -> str:
        return edge_topic(self.edge.id, channel)


def _readings(device: SimDevice) -> Readings:
    """Return a quiet reading of a device (the telemetry every device sends every minute)."""
    return Readings(temperature_c=21.5, battery_pct=87)


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """Where a run is, for a live display."""

    at_s: float
    duration_s: float
    sent: int
    acked: int
    waiting: int
    telemetry_points: int
    connected: int
    edges: int
    draining: bool


@dataclass
class LoadResult:
    """What a run did."""

    plan: LoadPlan
    run_id: str
    edges: list[SimEdge]
    tally: LoadTally
    elapsed_s: float
    waiting: int
    """Records never acknowledged when the run ended."""
    reconnects: int


async def run_load(
    plan: LoadPlan,
    target: LoadTarget,
    *,
    options: LoadOptions | None = None,
    seed: int | None = None,
    on_progress: Callable[[LoadProgress], None] | None = None,
    clock: Clock = utc_now,
    monotonic: Monotonic | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[list[SimulatedEdge]], Any] | None = None,
) -> LoadResult:
    """Play ``plan`` against ``target`` in real time; return when every record is acknowledged
    or ``drain_s`` after the last event.

    Raise ``TimeoutError`` when not every edge connects within ``connect_timeout_s``.
    """
    options = options or LoadOptions()
    loop = asyncio.get_running_loop()
    mono = monotonic or loop.time
    edges = fleet(plan, options.run_id)
    tally = LoadTally()
    sims = [
        SimulatedEdge(
            edge, target.endpoint(edge.id), tally, options=options, clock=clock, monotonic=mono
        )
        for edge in edges
    ]
    stop = stop or asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        runners = [tasks.create_task(s.run(), name=f"load-{s.edge.id}") for s in sims]
        try:
            async with asyncio.timeout(options.connect_timeout_s):
                await asyncio.gather(*(s.connected.wait() for s in sims))
            with suppress(TimeoutError):
                async with asyncio.timeout(options.warmup_s):
                    await stop.wait()
            if on_started is not None:
                on_started(sims)
            started = mono()
            progress = _Reporter(plan, sims, tally, on_progress, mono, started)
            reporter = tasks.create_task(progress.run(), name="load-progress")
            await _play(plan, sims, random.Random(seed), mono, started, stop)
            progress.draining = True
            await _drain(sims, options.drain_s, stop)
            await asyncio.sleep(0)  # let the reporter show the end
            elapsed = mono() - started
            tally.resends = sum(s.resends for s in sims)
            reporter.cancel()
            progress.report()
        finally:
            for runner in runners:
                runner.cancel()
    return LoadResult(
        plan=plan,
        run_id=options.run_id,
        edges=edges,
        tally=tally,
        elapsed_s=elapsed,
        waiting=sum(s.waiting for s in sims),
        reconnects=sum(max(0, s.connects - 1) for s in sims),
    )


async def _play(
    plan: LoadPlan,
    sims: list[SimulatedEdge],
    rng: random.Random,
    mono: Monotonic,
    started: float,
    stop: asyncio.Event,
) -> None:
    for event in schedule(plan, [s.edge for s in sims], rng):
        delay = started + event.at - mono()
        if delay > 0:
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
        if stop.is_set():
            return
        sims[event.edge].send(event)


async def _drain(sims: list[SimulatedEdge], drain_s: float, stop: asyncio.Event) -> None:
    deadline = asyncio.get_running_loop().time() + drain_s
    while any(s.waiting for s in sims) and asyncio.get_running_loop().time() < deadline:
        # Polled: the acknowledgements arrive on many edges' sessions at once.
        with suppress(TimeoutError):
            async with asyncio.timeout(0.1):
                await stop.wait()
        if stop.is_set():
            return


class _Reporter:
    def __init__(
        self,
        plan: LoadPlan,
        sims: list[SimulatedEdge],
        tally: LoadTally,
        on_progress: Callable[[LoadProgress], None] | None,
        mono: Monotonic,
        started: float,
    ) -> None:
        self._plan, self._sims, self._tally = plan, sims, tally
        self._on_progress, self._mono, self._started = on_progress, mono, started
        self.draining = False

    async def run(self) -> None:
        while True:
            self.report()
            await asyncio.sleep(0.5)

    def report(self) -> None:
        if self._on_progress is None:
            return
        self._on_progress(
            LoadProgress(
                at_s=min(self._mono() - self._started, self._plan.duration_s),
                duration_s=self._plan.duration_s,
                sent=self._tally.total_sent,
                acked=self._tally.total_acked,
                waiting=sum(s.waiting for s in self._sims),
                telemetry_points=self._tally.telemetry_points,
                connected=sum(1 for s in self._sims if s.connected.is_set()),
                edges=len(self._sims),
                draining=self.draining,
            )
        )


# --- what the hub stored ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubCheck:
    """The hub's records of a run, compared with what it sent."""

    alerts: Reconciled
    access: Reconciled
    cases: int
    """Cases holding the run's alerts."""
    alerts_without_case: int
    """Raised life-safety alerts of the run that the hub put in no case."""


def check_hub(result: LoadResult, api: httpx.Client) -> HubCheck:
    """Ask the hub's ``/api/v1`` (``api``: its base URL and a token) what it stored of a run."""
    edge_ids = {e.id for e in result.edges}
    sent_alerts = {
        rid
        for rid in result.tally.sent_ids
        if rid.rsplit("-", 1)[-1].startswith("x")  # alert ids, see SimulatedEdge._next_id
    }
    sent_access = result.tally.sent_ids - sent_alerts
    alerts = [a for a in _items(api, "/alerts") if a["edge_id"] in edge_ids]
    access = [r for r in _items(api, "/access/log") if r["edge_id"] in edge_ids]
    cases = {a["case_id"] for a in alerts if a["case_id"] is not None}
    caseless = sum(
        1
        for a in alerts
        if a["case_id"] is None and a["state"] == "raised" and a["severity"] == "critical"
    )
    return HubCheck(
        alerts=reconcile(sent_alerts, (a["id"] for a in alerts), result.tally.waiting),
        access=reconcile(sent_access, (r["id"] for r in access), result.tally.waiting),
        cases=len(cases),
        alerts_without_case=caseless,
    )


def _items(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    response = api.get(path, params={"limit": 100_000}, timeout=120)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items
