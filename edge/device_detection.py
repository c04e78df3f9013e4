"""Detection in the agent: each device's state, the pure rules run on it, the outbox commit.

``DeviceDetection`` keeps every device's ``DeviceState`` in memory (loaded from the outbox's
state table at start), runs ``edge.detection.detect`` on a message's observations and
``edge.detection.tick`` on the passing of time, and commits the alerts together with the
new state in one outbox transaction (invariants (a) and (b) of ``edge.outbox``) before it
returns. ``announce`` then wakes the forwarder (``edge.uplink``).
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.kinds import AlertKind, AlertState, DeviceKind, forwarding_rank
from devices.messages import Alert, Checkin, FeedbackStage
from devices.observations import AvailabilityChange, Observation, observed_at
from devices.registry import Device
from edge.clock_step import ClockStepWatch
from edge.detection import (
    AlertDecision,
    Detection,
    DeviceState,
    StateFormatError,
    checkin_deadline_of,
    detect,
    flooded,
    tick,
)
from edge.detectors.flooding import FloodSettings
from edge.detectors.liveness import DeadlineSource
from edge.detectors.profile import ProfileBook
from edge.directory import DeviceDirectory
from edge.handoff import HandOff
from edge.outbox import Outbox, OutboxError, OutgoingAlert
from edge.redelivery import Receipt
from edge.sqlite_tx import DatabaseThread
from edge.zigbee_bridge import DEFAULT_GRACE_S, behind_bridge, bridge_said, bridge_tick

logger = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
"""Adds to one of the agent's counters."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A device message refused, and what the log says about it."""

    reason: str
    topic: str
    sender: str
    error: object


ARRIVAL_SPACING = timedelta(microseconds=1)
"""How far apart the receive instants of one group's messages are (``arrival_instants``)."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """When the edge received one message of a group (``edge.ingest`` takes several at once).

    ``at`` is the message's own receive instant, after every message before it in the group
    (``arrival_instants``): a reading without a time of its own is taken at it, and the
    device was heard then. ``clock`` is the edge's clock reading for the whole group, at or
    after ``at``: a device's own time is bounded by it (``devices.observations.observed_at``),
    so a retry stamped with the same time is the same reading wherever it is in the group.
    """

    at: datetime
    clock: datetime

    def __post_init__(self) -> None:
        if self.at > self.clock:
            raise ValueError("a message is received at or before the group's clock reading")

    def event_time(self, observation: Observation, *, trust_device_time: bool) -> datetime:
        """Return when an observation happened: the device's own time bounded by the group's
        clock reading, else (no time of its own, or one replaced as never set) ``at``."""
        bounded = observed_at(observation, self.clock, trust_device_time=trust_device_time)
        if bounded == self.clock and (
            observed_at(observation, self.at, trust_device_time=trust_device_time) == self.at
        ):
            return self.at  # the receive time stands in: this message's own instant
        return bounded


def arrival_instants(clock: datetime, count: int) -> list[datetime]:
    """Return the receive instants of a group of ``count`` messages read at ``clock``.

    Strictly increasing in arrival order, ``ARRIVAL_SPACING`` apart, the last one ``clock``
    itself (never after it): two messages of one device in one group are two readings, the
    later one newer, as they would be one group each. One microsecond is far below what any
    rule measures (seconds: sample spacing, SOS windows, holds, check-in deadlines).
    """
    return [clock - (count - 1 - i) * ARRIVAL_SPACING for i in range(count)]


@dataclass(frozen=True, slots=True)
class Observed:
    """What handling one message's observations came to."""

    alerts: list[Alert]
    feedback: FeedbackStage | None = None
    """What to show on the device once its message is acknowledged (an SOS stored)."""
    rejected: Rejected | None = None


class DeviceDetection:
    """Every device's detection state; decisions committed to the outbox before they count."""

    def __init__(
        self,
        *,
        edge_id: str,
        directory: DeviceDirectory,
        profiles: ProfileBook,
        outbox: Outbox,
        db: DatabaseThread,
        wake: asyncio.Event,
        handoff: HandOff,
        count: CountFn,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] | None = None,
        trust_device_time: bool = False,
        bridge_grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        self.edge_id = edge_id
        # EdgeSettings.zigbee_bridge_grace_s (edge.zigbee_bridge).
        self._bridge_grace_s = bridge_grace_s
        self._directory = directory
        self._profiles = profiles
        self.outbox = outbox
        self.db = db
        self._wake = wake
        self.handoff = handoff
        self.count = count
        self._clock = clock
        self.on_committed: Callable[[Sequence[Alert]], None] | None = None
        """Told of every commit's alerts (``edge.sos_watch``: a press awaits the hub's ack)."""
        # Read with the wall clock at each tick to tell its steps (None: never stepped).
        self._monotonic = monotonic
        self._steps = ClockStepWatch()
        # EdgeSettings.trust_device_time: only a simulation in a time of its own sets it.
        self._trust_device_time = trust_device_time
        self.states = self._load_states()
        # Ingest and the detection tick both read a device's state, await the commit and
        # then store the new state: one at a time, or one would overwrite the other's.
        self._detecting = asyncio.Lock()
        self.watching_since: datetime | None = None

    @asynccontextmanager
    async def group(self) -> AsyncIterator["DetectionGroup"]:
        """Stage decisions on several messages, committed together when the block ends.

        The group commit of the ingest: inside the block, ``group.observe`` runs detection
        on each message (no I/O); leaving the block commits every staged state and alert in
        ONE outbox transaction (invariants (a) and (b) of ``edge.outbox``), and only then do
        the states count and the alerts get announced. A block left by an exception commits
        nothing: its messages stay unacknowledged and are redelivered. The detection lock is
        held throughout, so the time-driven tick never decides on a state about to change.
        """
        async with self._detecting:
            # Before any time read now is stored: only times read before a step move with it.
            self._look_for_a_step(self._clock())
            staged = DetectionGroup(self)
            yield staged
            await staged.commit()

    async def observe(
        self,
        device: Device,
        observations: tuple[Observation, ...],
        received_at: datetime,
        topic: str,
    ) -> Observed:
        """Run detection on one message's observations and commit what it decided.

        An ``OutboxError`` propagates: the message must stay unacknowledged.
        """
        async with self.group() as staged:
            return staged.observe(device, observations, Arrival(received_at, received_at), topic)

    def event_time(self, observation: Observation, arrival: Arrival) -> datetime:
        """Return when an observation happened, as detection takes it: the device's own time
        bounded by the edge's clock, else its receive instant (``Arrival.event_time``)."""
        return arrival.event_time(observation, trust_device_time=self._trust_device_time)

    def announce(self, alerts: list[Alert], *, sent: bool = False) -> None:
        """Count and log alerts just committed, and wake the forwarder unless they were
        ``sent`` already (``edge.handoff``)."""
        if not alerts:
            return
        self.count("alerts_created", len(alerts))
        # One line per commit, not per alert: a burst's log lines cost as much as its fsyncs.
        logger.info(
            "%d alerts stored: %s",
            len(alerts),
            _AlertList(alerts),
        )
        if not sent:
            self._wake.set()
        if self.on_committed is not None:
            self.on_committed(alerts)

    async def tick(self) -> None:
        """Run time-driven detection for every known device, at the clock's now."""
        async with self._detecting:
            now = self._clock()
            self._look_for_a_step(now)
            for device in self._directory.devices():
                before = self.states.get(device.id, DeviceState())
                try:
                    result = self._tick_one(before, device, now)
                except Exception:
                    logger.exception("time-driven detection failed for device %s", device.id)
                    continue
                if not result.alerts:
                    continue  # a tick changes state only together with an alert
                decisions = sorted(result.alerts, key=lambda d: forwarding_rank(d.kind))
                alerts = [self.alert(device, d, now) for d in decisions]
                await self.db.call(self.outbox.commit, device.id, result.state.to_json(), alerts)
                self.states[device.id] = result.state
                self.announce(alerts)

    def _tick_one(self, before: DeviceState, device: Device, now: datetime) -> Detection:
        if device.kind is DeviceKind.ZIGBEE_BRIDGE:
            return bridge_tick(before, now, self._bridge_grace_s, self.watching_since)
        # Its bridge's state as it stands before this tick: a bridge's alert raised in the
        # same tick changes nothing of it (only offline_since and last_seen count here).
        supervision = behind_bridge(device, self.states, self.edge_id, self.watching_since)
        return tick(
            before,
            device,
            now,
            self._profiles.for_device(device),
            watching_since=supervision.watching_since,
            deadline=supervision.deadline,
        )

    def begin(self) -> None:
        """Start watching at the clock's now (the agent's start)."""
        self.watching_since = self._clock()
        self._look_for_a_step(self.watching_since)

    def _look_for_a_step(self, now: datetime) -> None:
        """Watch again from ``now`` when the wall clock was stepped since the last look (each
        tick and each group of messages looks, before deciding on anything).

        Every deadline then counts from ``now`` (``edge.detection.tick``): a step forward
        (NTP after a boot at fake-hwclock's time) does not make every device look silent, and
        a step back does not hold their deadlines back by the step.
        """
        if self._monotonic is None:
            return
        step = self._steps.look(now.timestamp(), self._monotonic())
        if step is None:
            return
        self.count("clock_steps", 1)
        logger.warning(
            "the wall clock was stepped by %+.0f s: check-in deadlines count from %s",
            step,
            now.isoformat(),
        )
        self.watching_since = now
        # What has stood since a time on the edge's clock (a CO reading between reports)
        # has stood as long on the new one: not the step longer, nor the step shorter.
        self.states = {
            device_id: state.stepped(timedelta(seconds=step))
            for device_id, state in self.states.items()
        }

    async def commit_camera_alerts(
        self, device: Device, decisions: list[AlertDecision]
    ) -> list[Alert]:
        """Store a camera's alert decisions in the outbox, like a device's; return the alerts."""
        alerts = [self.alert(device, d, self._clock()) for d in decisions]
        async with self._detecting:
            # A camera has no sensor detection state: its current one is stored unchanged.
            state = self.states.get(device.id, DeviceState())
            await self.db.call(self.outbox.commit, device.id, state.to_json(), alerts)
        self.announce(alerts)
        return alerts

    async def camera_seen(self, device: Device) -> None:
        """Record that a camera delivers frames, as an availability check-in."""
        await self.observe(
            device, (AvailabilityChange(online=True),), self._clock(), f"camera/{device.id}"
        )

    def checkins(self) -> dict[str, Checkin]:
        """Return each known device's check-in deadline as it applies now (its edge's status
        tells the hub, so an operator sees a slow device's learned deadline before it is
        missed)."""
        found: dict[str, Checkin] = {}
        for device in self._directory.devices():
            if device.kind is DeviceKind.ZIGBEE_BRIDGE:
                continue  # no check-in deadline: it says offline itself (edge.zigbee_bridge)
            deadline = checkin_deadline_of(
                self.states.get(device.id, DeviceState()),
                device,
                self._profiles.for_device(device),
            )
            found[device.id] = Checkin(
                deadline_s=deadline.seconds,
                source=deadline.source.value,
                learned_interval_s=deadline.learned_interval_s,
            )
        return found

    def note_deadline(self, device: Device, before: DeviceState, after: DeviceState) -> None:
        """Log a device's check-in deadline becoming learned from its rhythm, or no longer."""
        profile = self._profiles.for_device(device)
        old = checkin_deadline_of(before, device, profile)
        new = checkin_deadline_of(after, device, profile)
        if (old.source is DeadlineSource.LEARNED) is (new.source is DeadlineSource.LEARNED):
            return
        logger.info(
            "device %s: check-in deadline %.0f s, %s (typical interval %s s)",
            device.id,
            new.seconds,
            new.source,
            "-" if new.learned_interval_s is None else f"{new.learned_interval_s:.0f}",
        )

    @property
    def flood(self) -> FloodSettings:
        """What a flood is at this site (``[detection.flood]``; one setting for every topic)."""
        return self._profiles.site.flood

    def alert(self, device: Device, decision: AlertDecision, detected_at: datetime) -> Alert:
        """Return the alert a decision about a device makes, under a new id."""
        return decision.alert(uuid.uuid4().hex, self.edge_id, device, detected_at)

    def decide(
        self,
        state: DeviceState,
        device: Device,
        observations: tuple[Observation, ...],
        arrival: Arrival,
    ) -> tuple[DeviceState, list[Alert], int]:
        """Run detection over one message's observations; return state, alerts, self-tests.

        Pure but for the alert ids and the clock's ``detected_at``: nothing is stored.
        """
        profile = self._profiles.for_device(device)
        decisions: list[AlertDecision] = []
        self_tests = 0
        for observation in observations:
            if device.kind is DeviceKind.ZIGBEE_BRIDGE:
                # Only its state is read for it (edge.ingest), by the edge's clock.
                if isinstance(observation, AvailabilityChange):
                    result = bridge_said(state, observation.online, arrival.at)
                    state = result.state
                    decisions.extend(result.alerts)
                continue
            event_time = self.event_time(observation, arrival)
            result = detect(
                state,
                device,
                observation,
                event_time,
                profile,
                received_at=arrival.at,
                watching_since=self.watching_since,
            )
            state = result.state
            decisions.extend(result.alerts)
            self_tests += result.self_test
        # One message is one instant: let its life-safety alerts lead (a Zigbee SOS button's
        # press and its low battery arrive together). The sort is stable, so alerts of one
        # kind keep their order.
        decisions.sort(key=lambda decision: forwarding_rank(decision.kind))
        detected_at = self._clock()
        return state, [self.alert(device, d, detected_at) for d in decisions], self_tests

    def _load_states(self) -> dict[str, DeviceState]:
        states: dict[str, DeviceState] = {}
        for device_id, text in self.outbox.load_states().items():
            try:
                states[device_id] = DeviceState.from_json(text)
            except StateFormatError:
                # Starting from "all clear" can repeat a raised alert; it cannot hide one.
                logger.exception("device %s: stored detection state unreadable; reset", device_id)
        return states


class DetectionGroup:
    """Decisions on a group of device messages, staged for one outbox transaction.

    Built by ``DeviceDetection.group``. Each message's detection starts from the state the
    messages before it in the group left (staged) or the committed one, so several
    messages of one device in one group chain exactly as one at a time would.
    """

    def __init__(self, detection: DeviceDetection) -> None:
        self._detection = detection
        self._states: dict[str, DeviceState] = {}
        self._alerts: list[Alert] = []
        self._receipts: list[Receipt] = []
        self._self_tests = 0
        self._remember = False
        """Store the group's receipts even if it changes no state (a reader's frame in it)."""

    def knows(self, device_id: str) -> bool:
        """Return whether detection has a state of the device (committed or staged)."""
        return device_id in self._states or device_id in self._detection.states

    def remember(self) -> None:
        """Keep this group's receipts when it commits, whatever it changed: a message in it
        acts when decided again (a reader's frame would open the door again)."""
        self._remember = True

    def received(self, receipt: Receipt | None) -> None:
        """Note a message of the group, stored with its commit (``edge.redelivery``)."""
        if receipt is not None:
            self._receipts.append(receipt)

    def observe(
        self,
        device: Device,
        observations: tuple[Observation, ...],
        arrival: Arrival,
        topic: str,
    ) -> Observed:
        """Run detection on one message's observations, received at ``arrival``; stage the
        new state and alerts."""
        detection = self._detection
        before = self._states.get(device.id) or detection.states.get(device.id, DeviceState())
        try:
            state, alerts, self_tests = detection.decide(before, device, observations, arrival)
        except Exception as exc:
            # A bug, not bad input; acknowledged for the same reason as bad input.
            logger.exception("detection failed for device %s", device.id)
            return Observed([], rejected=Rejected("internal_error", topic, device.id, exc))
        if alerts or state != before:
            self._states[device.id] = state
            self._alerts.extend(alerts)
            if state.rhythm != before.rhythm:
                detection.note_deadline(device, before, state)
        self._self_tests += self_tests
        return Observed(alerts, feedback=_sos_feedback(alerts))

    def flooded(self, device: Device, topic: str, at: datetime) -> None:
        """Stage that the edge saw one of the device's topics flooding at ``at``."""
        detection = self._detection
        before = self._states.get(device.id) or detection.states.get(device.id, DeviceState())
        result = flooded(before, device, at, topic, detection.flood)
        self._states[device.id] = result.state
        self._alerts.extend(detection.alert(device, d, at) for d in result.alerts)

    async def commit(self) -> None:
        """Commit what is staged in one transaction (none if nothing is); then announce it.

        Called by ``DeviceDetection.group`` at the end of its block, and by the ingest
        before a step that must see the staged messages committed (a door contact).
        """
        detection = self._detection
        states, alerts, self_tests = self._states, self._alerts, self._self_tests
        sent = False
        taken: list[OutgoingAlert] | None = None
        if states or (self._remember and self._receipts):
            state_rows = {device_id: state.to_json() for device_id, state in states.items()}
            taking = detection.handoff.taking() if alerts else None
            if taking is None:
                await detection.db.call(
                    detection.outbox.commit_group, state_rows, alerts, self._receipts
                )
            else:
                # Stored and taken in one call of the outbox's thread, sent before any await.
                taken = await detection.db.call(
                    detection.outbox.commit_and_take,
                    state_rows,
                    alerts,
                    self._receipts,
                    taking.monotonic(),
                    taking.limit,
                )
                if taken is None:
                    sent = False  # stored, but the take failed: the forwarder sends them
                elif not taken:
                    sent = True  # the window is full: the hub's ack wakes the forwarder
                else:
                    sent = taking.send(taken)
            detection.states.update(states)
            detection.count("outbox_groups", 1)
            if taken and not sent:
                # The connection went meanwhile: due again at once, for the forwarder.
                try:
                    await detection.db.call(detection.outbox.release, [a.id for a in taken])
                except OutboxError as exc:
                    # They are stored: sent again after resend_after_s, or at the reconnect.
                    logger.warning("could not release %d unsent alerts: %s", len(taken), exc)
        # Receipts of messages that changed nothing are dropped with them: decided again,
        # such a message meets the same committed state and changes nothing again.
        self._states, self._alerts, self._receipts, self._self_tests = {}, [], [], 0
        self._remember = False
        if self_tests:
            detection.count("smoke_tests", self_tests)
            logger.info("%d smoke detector self-tests (not alarms)", self_tests)
        detection.announce(alerts, sent=sent)


class _AlertList:
    """Alerts as the log shows them, formatted only if the line is written."""

    def __init__(self, alerts: list[Alert]) -> None:
        self._alerts = alerts

    def __str__(self) -> str:
        return "; ".join(
            f"{a.id} {a.kind} {a.state} ({a.severity}) from {a.device_id}" for a in self._alerts
        )


def _sos_feedback(alerts: list[Alert]) -> FeedbackStage | None:
    if any(a.kind is AlertKind.SOS and a.state is AlertState.RAISED for a in alerts):
        return FeedbackStage.RECEIVED
    if any(a.kind is AlertKind.SOS and a.state is AlertState.CLEARED for a in alerts):
        return FeedbackStage.CANCELLED
    return None
