"""The edge's access control: the asyncio shell around ``decision`` and ``door``.

The agent's ingest (``edge.ingest``) hands it two kinds of input from its local broker
connection: reader frames (``linli/dev/<reader>/credential``, topic parsed by the ingest,
before the detection pipeline) and the observations of every device (it picks the door
contacts). ``run`` (the agent's ``edge-access`` task) runs the doors' timer and ``hub``, its own
link to the hub's broker for the allow-list and the access log (``edge.access.hub_link``).

Per presented credential, in this order (``take_frame``): look up the keyed hash in the
in-memory allow-list, decide, queue the log record and the door's new state for the group
commit (see below), hand the unlock or deny command for the reader's ``set`` topic to the local
client's send queue, and return the wait for the commit. The ingest awaits the commits of a
group's frames together before it acknowledges them, so a frame is acknowledged only once its
record is on disk; a crash between the command and the commit leaves the frame unacknowledged,
and the broker's redelivery decides and logs it again (docs/access.md, "What is on disk before
the door moves"). ``on_frame`` is the same for one frame, returning once it is stored.

A step that raises an alert stores the door monitor's state in the alert outbox's state table
under ``door:<door_id>`` (a key no device id can take: ``:`` is not allowed in ids), so an
alert and the state that raised it commit together; every other step stores it in the access
store with the step's log records, one transaction. Steps are decided one at a time but
stored by a group commit (``edge.access.commits``): at most one fsync per decision, shared by
every decision in flight at once. Each copy of a state carries the door's step count; at
start the newer wins. Alert and log record ids derive from the door
and the step's counters, so a step decided again after a crash yields the same ids (stored
once).

Bad input (a malformed frame, an unknown reader, an invalid topic) is rejected, counted under
``access.rejected.<reason>`` and logged with the reader id and topic, never with the frame's
content (it carries a card number or PIN). A malformed or oversized frame from a door's own
reader is also a denial at that door (reason ``malformed_frame``, towards its burst; no
command to the reader).
"""

import asyncio
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt
from pydantic import ValidationError

from devices.access import (
    FINGERPRINT_LENGTH,
    AccessEventKind,
    AccessRecord,
    CredentialFrame,
    DoorConfig,
    ReaderAction,
)
from devices.kinds import AlertKind, DeviceKind
from devices.messages import Alert, AlertReason
from devices.mqtt_link import MqttEndpoint, checkpoint
from devices.mqtt_paho import publish_queued, write_now
from devices.observations import Observation, StateUpdate
from devices.registry import Device
from edge.access.clock_floor import BEHIND_WARN_S, TimeFloor, due_for_saving, observe, trust
from edge.access.commits import STATE_PREFIX, DoorWrite, GroupCommit
from edge.access.decision import AccessDecision, Verdict, decide, presented_too_long_ago
from edge.access.door import (
    ContactChanged,
    Denied,
    DoorAlert,
    DoorEvent,
    DoorState,
    DoorStep,
    Granted,
    Tick,
    contact_gone,
    removed,
    step,
)
from edge.access.hub_link import AccessHubLink
from edge.access.lines import DECISIONS, command_text, decisions_not_stored, decisions_stored
from edge.access.store import AccessStore, AccessStoreError, AllowList
from edge.log_budget import LogBudget
from edge.outbox import Outbox
from edge.sqlite_tx import DatabaseThread

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 1024
MAX_FRAME_AGE_S = 60.0
"""A frame whose reader time (``ts``) is older than this opens nothing: it was queued by the
local broker while the edge was away, and whoever presented it has gone (docs/access.md)."""
_IDS = uuid.UUID("6a1c1d52-8c1e-4f0e-9d7b-5f3c2f1e0a44")
"""Namespace of the ids derived from (edge, door, counter)."""

LocalClient = Callable[[], aiomqtt.Client | None]
CountFn = Callable[[str, int], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def derived_id(edge_id: str, door_id: str, what: str, n: int) -> str:
    """Return the id of the ``n``-th alert or log record of a door (stable across crashes)."""
    return uuid.uuid5(_IDS, f"{edge_id}/{door_id}/{what}/{n}").hex


@dataclass(slots=True)
class TakenFrame:
    """A decided frame: its decision (None if rejected) and the wait for it to be stored."""

    decision: AccessDecision | None
    stored: asyncio.Future[None]


def _finished() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


_COUNTER = {kind: f"access.{kind}" for kind in DECISIONS}


class AccessControl:
    """Door access of one edge: decisions and door monitoring; ``hub`` syncs the allow-list
    and forwards the access log."""

    def __init__(
        self,
        *,
        edge_id: str,
        store: AccessStore,
        outbox: Outbox,
        hub: MqttEndpoint,
        local: LocalClient,
        on_alerts: Callable[[list[Alert]], None],
        count: CountFn,
        locate: Callable[[str], str | None] = lambda _device_id: None,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        tick_s: float = 0.5,
        resend_after_s: float = 10.0,
        max_frame_age_s: float = MAX_FRAME_AGE_S,
    ) -> None:
        self.edge_id = edge_id
        self.max_frame_age_s = max_frame_age_s
        self.store = store
        self.outbox = outbox
        self.allow: AllowList = store.load()
        self._local = local
        self._on_alerts = on_alerts
        self._count = count
        self._locate = locate
        self._clock = clock
        self._monotonic = monotonic
        self._reject_budget = LogBudget()
        self._saved_floor = store.load_floor()
        self.floor = TimeFloor(self._saved_floor, monotonic())
        """The latest time known true (``edge.access.clock_floor``): decisions use
        ``max(clock, floor)``."""
        self._behind_warned: float | None = None
        self._counted: dict[str, int] = {}
        """How many of each of the store's counters are in the agent's counters already."""
        self.tick_s = tick_s
        self.doors: dict[str, DoorState] = self._load_door_states()
        self._lock = asyncio.Lock()
        self._db = DatabaseThread("edge-access")
        self._commits = GroupCommit(
            self._db, store, outbox, on_stored=self._stored, on_failed=self._not_stored
        )
        self.hub = AccessHubLink(
            edge_id=edge_id,
            hub=hub,
            store=store,
            allow=self.allow,
            db=self._db,
            lock=self._lock,
            count=count,
            monotonic=monotonic,
            rng=rng,
            tick_s=tick_s,
            resend_after_s=resend_after_s,
            on_doors_removed=self.forget_doors,
        )
        """Allow-list updates in, the access log out (``edge.access.hub_link``)."""

    # --- input from the agent ------------------------------------------------------------

    def reject_topic(self, topic: str, error: Exception) -> None:
        """Count a credential topic that does not parse (a reader id that is not an id)."""
        self._reject("unknown_topic", "?", topic, str(error))

    async def on_frame(self, reader_id: str, topic: str, raw: bytes) -> AccessDecision | None:
        """Decide on one reader frame, command the reader, return once the decision is stored.

        Raises the store's error if the decision could not be stored (the frame must then not
        be acknowledged: the broker delivers it again).
        """
        taken = await self.take_frame(reader_id, topic, raw)
        await taken.stored
        return taken.decision

    async def take_frame(self, reader_id: str, topic: str, raw: bytes) -> TakenFrame:
        """Decide on one reader frame and command the reader at once; the store follows.

        The decision's log record and the door's new state are queued for the group commit;
        ``TakenFrame.stored`` completes once they are on disk. The caller must not let the
        frame be acknowledged before that: the ingest takes a whole group of frames, commands
        every reader, then awaits their commits together (one fsync for the group).
        """
        self._count("access.frames", 1)
        role = self.allow.reader(reader_id)
        if role is None:
            self._reject("unknown_reader", reader_id, topic, "no door has this reader")
            return TakenFrame(None, _finished())
        frame = self._parsed(reader_id, topic, raw)
        door, direction = role.door, role.direction
        async with self._lock:
            now = self._clock()
            decided_at = self._floored(now)
            if (decided_at - now).total_seconds() > BEHIND_WARN_S:
                self._count("access.clock_behind", 1)  # per decision, not per tick
            digest, entry = (
                ("", None) if frame is None else self.allow.lookup(frame.kind, frame.value)
            )
            state = self.doors.get(door.id, DoorState())
            stale = frame is not None and presented_too_long_ago(
                frame.ts, now, self.max_frame_age_s
            )
            if frame is None:
                # A garbled read at a door's reader: denied, logged and counted towards a
                # burst (a reader fed garbage, or failing, is the door's business too).
                decision = AccessDecision(Verdict.MALFORMED_FRAME)
                result = step(state, Denied(now), door)
            elif stale:
                # Logged, but nothing happened at the door now: no command, no denial
                # towards a burst (a backlog delivered at once is no attack).
                who = (entry.credential_id, entry.person_id) if entry else (None, None)
                decision = AccessDecision(Verdict.STALE_FRAME, *who)
                result = DoorStep(state)
            else:
                # No zone (one this edge's tzdata lacks): schedules match nothing, never UTC.
                # Validity and schedules at the floored time (a clock hours behind would
                # misapply both); the door's timers and the record stay on the clock.
                decision = decide(entry, door, direction, decided_at, self.allow.zone, state.inside)
                event: DoorEvent = (
                    Granted(now, decision.person_id or 0, direction)
                    if decision.granted
                    else Denied(now)
                )
                result = step(state, event, door)
            record = AccessRecord(
                id=uuid.uuid4().hex,
                edge_id=self.edge_id,
                door_id=door.id,
                kind=AccessEventKind.GRANTED if decision.granted else AccessEventKind.DENIED,
                ts=now,
                reader_id=reader_id,
                credential_id=decision.credential_id,
                person_id=decision.person_id,
                reason=decision.verdict,
                fingerprint=None
                if entry is not None or not digest
                else digest[:FINGERPRINT_LENGTH],
            )
            alerts, stored = self._stage(door, state, result, now, [record])
            # The door first: its command goes out now, in decision order, while the record
            # is being stored (see docs/access.md, "What is on disk before the door moves").
            # None to a frame that was no credential: nobody may have presented one.
            action = ReaderAction.UNLOCK if decision.granted else ReaderAction.DENY
            if frame is not None and not stale:
                self._command(reader_id, door, action, record.id)
        if stale:
            assert frame is not None
            assert frame.ts is not None
            logger.warning(
                "door %s reader %s: a frame presented %.0f s ago opens nothing",
                door.id,
                reader_id,
                (now - frame.ts).total_seconds(),
            )
        self._count(_COUNTER[record.kind], 1)
        if alerts or result.notes:  # nearly every decision has nothing to do once stored
            stored.add_done_callback(functools.partial(self._when_stored, door, result, alerts))
        return TakenFrame(decision, stored)

    def _parsed(self, reader_id: str, topic: str, raw: bytes) -> CredentialFrame | None:
        """Return a reader's frame, or None (rejected, counted, logged) if it is not one."""
        if len(raw) > MAX_FRAME_BYTES:
            self._reject("oversized", reader_id, topic, f"{len(raw)} bytes")
            return None
        try:
            return CredentialFrame.model_validate_json(raw)
        except ValidationError as exc:
            # Only where and what kind of error: the input is a card number or a PIN.
            first = exc.errors(include_input=False)[0]
            self._reject("malformed", reader_id, topic, f"{first['type']} at {first['loc']}")
            return None

    def _when_stored(
        self, door: DoorConfig, result: DoorStep, alerts: list[Alert], stored: asyncio.Future[None]
    ) -> None:
        if not stored.cancelled() and stored.exception() is None:
            self._after(door, result, alerts)

    async def on_observations(
        self, device: Device, observations: tuple[Observation, ...], received_at: datetime
    ) -> None:
        """Feed a door contact's open/closed readings to its door's monitor."""
        if device.kind is not DeviceKind.DOOR_CONTACT:
            return
        door = self.allow.door_of_contact(device.id)
        if door is None:
            return
        for observation in observations:
            if isinstance(observation, StateUpdate) and observation.readings.contact is not None:
                # contact true = closed (the Zigbee2MQTT convention, kept by the adapters).
                await self._feed(
                    door, ContactChanged(received_at, not observation.readings.contact)
                )

    async def tick(self) -> None:
        """Run every monitored door's timers at the clock's now; keep the time floor."""
        self._count_refusals()
        now = self._clock()
        self._floored(now)
        if due_for_saving(self.floor, self._saved_floor):
            await self._db.call(self.save_floor)
        for door in list(self.allow.doors.values()):
            if door.contact_id is None and door.id not in self.doors:
                continue
            await self._feed(door, Tick(now))

    async def forget_doors(self, gone: list[DoorConfig]) -> None:
        """Take doors the allow-list no longer has out of monitoring (``door.removed``), and
        doors whose contact it took away or replaced off that contact (``door.contact_gone``).

        ``gone`` holds each door as it was configured before. Each alarm such a door holds
        raised is cleared through the outbox like any other (rule ``door_removed`` or
        ``contact_removed``), counted and logged once. A removed door's state is forgotten; a
        door whose contact went is taken as shut, the rest of its state kept. A door added
        back, or given its contact back, meanwhile is left alone.
        """
        for door in gone:
            async with self._lock:
                state = self.doors.get(door.id)
                now_door = self.allow.doors.get(door.id)
                if state is None or (
                    now_door is not None and now_door.contact_id == door.contact_id
                ):
                    continue
                now = self._clock()
                if now_door is None:
                    result, why, counter = (
                        removed(state, now, door.id),
                        "removed from access control",
                        "door_removed",
                    )
                else:
                    result = contact_gone(state, now, door.id)
                    why, counter = f"lost its contact {door.contact_id}", "contact_removed"
                if result.state == state:
                    continue  # closed and quiet already
                # The old configuration: a clear is about the device its alarm was raised on.
                alerts, stored = self._stage(door, state, result, now, [])
            await stored
            if alerts:
                self._count(f"access.alarms_cleared_{counter}", len(alerts))
                logger.warning(
                    "door %s %s: cleared %s",
                    door.id,
                    why,
                    ", ".join(str(alert.kind) for alert in alerts),
                )
            self._after(now_door or door, result, alerts)

    def _count_refusals(self) -> None:
        """Count the store's moves into memory and the log records it shed among the agent's
        counters (the status carries them): the store counts on the database thread, the
        agent's counters live on the loop."""
        for name in ("access_store_refused", "access_log_shed"):
            now, counted = self.store.counters[name], self._counted.get(name, 0)
            if now > counted:
                self._count(name, now - counted)
                self._counted[name] = now

    # --- the time floor ----------------------------------------------------------------

    def learn_time(self, at: datetime) -> None:
        """Raise the time floor to a time known true (one the hub stamped)."""
        self.floor = trust(self.floor, at, self._monotonic())

    def save_floor(self) -> None:
        """Write the time floor to the access store if it moved since last written."""
        at = self.floor.at
        if at is not None and at != self._saved_floor:
            self.store.save_floor(at)
            self._saved_floor = at

    def _floored(self, clock: datetime) -> datetime:
        """Move the time floor on with a clock reading; return the time decisions use."""
        mono = self._monotonic()
        self.floor = observe(self.floor, clock, mono)
        behind = self.floor.behind_s(clock)
        # Warned once per ten minutes: the tick reads the clock twice a second.
        quiet = self._behind_warned is not None and mono - self._behind_warned < 600.0
        if behind > BEHIND_WARN_S and not quiet:
            self._behind_warned = mono
            logger.warning(
                "the edge clock is %.0f s behind the latest time it knew (%s): "
                "door access decided at that time; check NTP",
                behind,
                self.floor.at,
            )
        return self.floor.now(clock)

    # --- the steps -----------------------------------------------------------------------

    async def _feed(self, door: DoorConfig, event: DoorEvent) -> None:
        async with self._lock:
            state = self.doors.get(door.id, DoorState())
            result = step(state, event, door)
            if result.state == state and not (result.alerts or result.notes or result.commands):
                return
            alerts, stored = self._stage(door, state, result, self._clock(), [])
        await stored
        for action in result.commands:
            self._command(door.reader_id, door, action, None)
        self._after(door, result, alerts)

    def _stage(
        self,
        door: DoorConfig,
        before: DoorState,
        result: DoorStep,
        now: datetime,
        records: list[AccessRecord],
    ) -> tuple[list[Alert], asyncio.Future[None]]:
        """Queue a step's writes for the group commit and move the door on in memory."""
        if result.notes:  # door events; a decision has none, nearly always
            records = records + [
                AccessRecord(
                    id=derived_id(self.edge_id, door.id, "note", before.logged + i + 1),
                    edge_id=self.edge_id,
                    door_id=door.id,
                    kind=note.kind,
                    ts=note.at,
                    reason=note.reason,
                )
                for i, note in enumerate(result.notes)
            ]
        alerts = [self._alert(door, a.kind, a, now) for a in result.alerts] if result.alerts else []
        state = result.state.model_copy(update={"steps": before.steps + 1})
        stored = self._commits.add(DoorWrite(door.id, before, state, records, alerts))
        self.doors[door.id] = state
        return alerts, stored

    def _stored(self, writes: list[DoorWrite], transactions: int) -> None:
        self._count("access.commits", transactions)
        if any(write.records for write in writes):
            self.hub.log_wake.set()
        # One line per commit, not per decision: in a burst the line cost as much as the
        # decision. A commit of one decision (frames arriving one at a time) reads as before.
        decisions_stored([record for write in writes for record in write.records])

    def _not_stored(self, writes: list[DoorWrite]) -> None:
        # Back to the states before the first write that failed: the steps' callers get the
        # error, their frames are not acknowledged, and the broker delivers them again.
        for write in reversed(writes):
            self.doors[write.door_id] = write.before
        decisions_not_stored([record for write in writes for record in write.records])

    def _alert(self, door: DoorConfig, kind: AlertKind, decided: DoorAlert, now: datetime) -> Alert:
        device_id = door.reader_id if decided.on_reader else (door.contact_id or door.reader_id)
        return Alert(
            id=derived_id(self.edge_id, door.id, "alert", decided.episode),
            edge_id=self.edge_id,
            device_id=device_id,
            kind=kind,
            state=decided.state,
            severity=decided.severity,
            ts=decided.at,
            detected_at=now,
            location=self._locate(device_id),
            reason=AlertReason(rule=decided.rule or str(kind), values=decided.values),
        )

    def _after(self, door: DoorConfig, result: DoorStep, alerts: list[Alert]) -> None:
        if alerts:
            self._on_alerts(alerts)
        for note in result.notes:
            logger.info("door %s: %s", door.id, note.kind)

    def _command(
        self, reader_id: str, door: DoorConfig, action: ReaderAction, decision_id: str | None
    ) -> None:
        """Hand a command for a reader to the local client's send queue, at once.

        No task and no wait for the broker's PUBACK (``publish_queued``): the caller runs
        inside the agent's handling of a device message, which the broker gets acknowledged
        only when the handler returns, so awaiting our own PUBACK there could deadlock a
        broker that delivers in order (amqtt in ``linli demo`` does); and a reader's command
        is only useful now: nothing would send it again. paho sends in the order given, so
        one reader's commands keep their order.
        """
        client = self._local()
        if client is None:
            self._count("access.commands_unsent", 1)
            logger.warning("no local broker: %s for door %s not sent", action, door.id)
            return
        try:
            publish_queued(client, *command_text(reader_id, door, action, decision_id), qos=1)
            write_now(client)
        except aiomqtt.MqttError as exc:
            self._count("access.commands_unsent", 1)
            logger.warning("%s for door %s failed: %s", action, door.id, exc)

    def _reject(self, reason: str, reader: str, topic: str, detail: str) -> None:
        self._count(f"access.rejected.{reason}", 1)
        left_out = self._reject_budget.spend(reason, self._monotonic())
        if left_out is None:
            return  # counted; a few lines a minute per reason (edge.log_budget)
        logger.warning(
            "rejected %s from reader %s on %s: %s%s",
            reason,
            reader,
            topic,
            detail,
            f" ({left_out} more like it on other topics left out)" if left_out else "",
        )

    def _load_door_states(self) -> dict[str, DoorState]:
        copies = [
            (key.removeprefix(STATE_PREFIX), text)
            for key, text in self.outbox.load_states().items()
            if key.startswith(STATE_PREFIX)
        ]
        copies += self.store.door_states().items()
        states: dict[str, DoorState] = {}
        for door_id, text in copies:
            try:
                state = DoorState.model_validate_json(text)
            except ValidationError:
                # Starting from "closed" can repeat an alarm; it cannot hide an open door
                # for long: the contact's next report starts the timers again.
                logger.exception("door %s: stored monitor state unreadable; reset", door_id)
                continue
            held = states.get(door_id)
            if held is None or state.steps > held.steps:
                states[door_id] = state
        return states

    # --- the hub link and the timers ---------------------------------------------------

    async def run(self) -> None:
        """Run the timers and the hub link until cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._tick_forever(), name="edge-access-tick")
                tasks.create_task(self.hub.run(), name="edge-access-uplink")
        finally:
            self._db.shutdown()
            try:
                self.save_floor()
            except AccessStoreError:
                logger.exception("time floor not stored at shutdown")
            self.store.close()

    async def _tick_forever(self) -> None:
        while True:
            checkpoint()
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:
                # A bug or a full disk: log it, keep deciding at the readers.
                logger.exception("door timers failed")
