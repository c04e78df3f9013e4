"""The live stream across hub workers: every worker's events to every worker's bus, through
PostgreSQL's LISTEN/NOTIFY.

Several ``linli hub`` processes on one PostgreSQL split the edges' messages (MQTT shared
subscription), so a case one worker opens must reach the consoles connected to the others.
``PostgresEventRelay`` attaches itself to a worker's ``EventBus``: each published event is
sent with ``pg_notify`` on the channel ``linli_live`` (a batch per transaction, from one
connection) and every worker, this one included, ``deliver``s what it hears on its listening
connection. PostgreSQL delivers notifications in the order their transactions commit, so every
worker's consoles see the same events in the same order; a worker's own events keep theirs.

Why LISTEN/NOTIFY and not an events table polled by id: nothing to store or prune, no poll
interval in the latency, and no gap in the ids when transactions commit out of id order (a
poller that reads past an uncommitted id skips it for ever). What it gives up: a worker whose
listening connection drops misses what is sent meanwhile; it tells its subscribers so with an
``EventsDropped`` (the console then reloads its cases), as a subscriber that fell behind is.
A listening connection a network left half-open would never say it dropped: it is asked a
``SELECT 1`` every ``probe_every_s`` and given up when no answer comes (``_listen``); a batch
whose sending gets no answer is sent again on a new connection.

Each envelope carries its sender (worker id and a per-process incarnation) and a sequence
number: a batch re-sent after a connection broke mid-commit is delivered once. A payload must
stay under PostgreSQL's 8000 bytes: a larger one is sent zlib-compressed; one still too large
(a case with hundreds of devices) is delivered to this worker's consoles only, counted as
``too_large`` and logged. A bad envelope is counted as ``rejected``, logged and dropped.

A worker killed between a commit and its relay's ``pg_notify`` (kill -9, a power cut) takes
that commit's events with it: a fire case it opened would reach the other workers' consoles
only with the case's next change, minutes later. So while several hubs listen, each says
``here`` every ``alive_every_s``, and one not heard from for ``gone_after_s`` is taken for
gone: this worker tells its subscribers they may have missed events (``EventsDropped``: the
console reads its cases again and announces the new ones), counted as ``peers_gone``. A hub
that merely stopped (or a worker of an earlier version that is quiet: it says ``here`` only
to a hello) costs a needless reload, nothing more.

A hub alone on its database does not pay for the round. Every relay says ``hello`` on the
channel each time it starts listening, and every other relay that hears it answers ``here``.
With ``alone_after_s`` (the hub's default, ``live_relay`` unset) a relay starts relaying; heard
from nobody (no answer, no event of another hub) ``alone_after_s`` after its hello, it waits
for its own events sent so far to come back, then hands the bus back its in-process delivery
and only listens. The first hello, answer or event of another hub makes it relay again, before
its next event. Relaying, it never goes back: a hub that leaves is not noticed, and relaying
without need costs only time. A hub that comes and says hello is heard by the others in the
time a notification takes, before its own consoles can connect; an event another hub delivered
in process in that moment is not seen on the newcomer's stream. A hub of a version before this
counts a hello or an answer as ``rejected`` (during a rolling upgrade).
"""

import asyncio
import base64
import contextlib
import json
import logging
import math
import uuid
import zlib
from collections import Counter

import psycopg
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import make_url

from devices.mqtt_link import Backoff
from hub.live.events import EventBus, HubEvent

logger = logging.getLogger(__name__)

CHANNEL = "linli_live"
MAX_PAYLOAD_BYTES = 7999
"""PostgreSQL refuses a NOTIFY payload of 8000 bytes or more."""
_COMPRESSED = "z:"
SEND_QUEUE_MAX = 10_000
"""Events waiting for the database; beyond this they reach this worker's consoles only."""
SEND_BATCH_MAX = 200
OWN_KEPT_MAX = 2 * SEND_QUEUE_MAX
"""This worker's events kept until they come back (a bound for those a listening gap lost)."""
ALONE_AFTER_S = 2.0
"""How long a hub waits after its hello for another hub before it delivers in process."""
_HELLO = "hello "
_HERE = "here "
_IN_FLIGHT_POLL_S = 0.05
PROBE_EVERY_S = 10.0
"""How often the listening connection is asked whether it is still there."""
PROBE_TIMEOUT_S = 10.0
"""How long an answer of the database may take before its connection is taken for dead (a
probe, a batch sent, a connection made)."""
ALIVE_EVERY_S = 5.0
"""How often a hub that is not alone says it is still here."""
GONE_AFTER_S = 20.0
"""How long another hub may stay unheard before it is taken for gone (its last events
perhaps lost with it)."""


class RelayEnvelope(BaseModel):
    """One event on the wire between hub workers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker: str
    seq: int
    event: HubEvent


def encode(envelope: RelayEnvelope) -> str | None:
    """Return the NOTIFY payload of an envelope, or None if it cannot fit."""
    text = envelope.model_dump_json()
    if len(text.encode()) <= MAX_PAYLOAD_BYTES:
        return text
    packed = _COMPRESSED + base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")
    return packed if len(packed) <= MAX_PAYLOAD_BYTES else None


def decode(payload: str) -> RelayEnvelope:
    """Return the envelope of a NOTIFY payload, or raise ``ValueError``."""
    try:
        if payload.startswith(_COMPRESSED):
            payload = zlib.decompress(base64.b64decode(payload[len(_COMPRESSED) :])).decode()
        return RelayEnvelope.model_validate_json(payload)
    except (ValidationError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a live event envelope: {exc}") from exc


def libpq_url(database_url: str) -> str:
    """Return the libpq URL of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresEventRelay:
    """Carries one worker's published events to every worker's bus, and theirs to it."""

    def __init__(
        self,
        database_url: str,
        bus: EventBus,
        *,
        worker: str,
        channel: str = CHANNEL,
        alone_after_s: float | None = None,
        probe_every_s: float = PROBE_EVERY_S,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
        alive_every_s: float = ALIVE_EVERY_S,
        gone_after_s: float = GONE_AFTER_S,
    ) -> None:
        """``alone_after_s``: relay only while another hub listens on the channel (see the
        module's text); None: always. ``probe_every_s``, ``probe_timeout_s``: see
        ``_listen``; ``alive_every_s``, ``gone_after_s``: see ``_keep_in_touch``."""
        if not channel.isidentifier():
            raise ValueError(f"not a channel name: {channel!r}")
        self._url = libpq_url(database_url)
        self._bus = bus
        self._channel = channel
        # A restarted worker starts its sequence again: its incarnation tells them apart.
        self.sender = f"{worker}:{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._last_seen: dict[str, int] = {}
        # This worker's events on their way round, by seq: when one comes back it is delivered
        # as it was published, not decoded again (``receive``).
        self._own: dict[int, HubEvent] = {}
        self._own_prefix = '{"worker":' + json.dumps(self.sender) + ',"seq":'
        self._pending: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE_MAX)
        self._unsent: list[str] = []
        self.listening = asyncio.Event()
        """Set while this worker listens: events sent now will come back to it."""
        self.counters: Counter[str] = Counter()
        """``sent`` (notifications: events, hellos and answers), ``delivered``, ``duplicate``,
        ``rejected``, ``too_large``, ``local_only``, ``gaps`` (listening connection lost and
        found again), ``alone`` (went in-process), ``others`` (went relaying again),
        ``peers_gone`` (another hub unheard for ``gone_after_s``)."""
        self._alone_after_s = alone_after_s
        self._probe_every_s = probe_every_s
        self._probe_timeout_s = probe_timeout_s
        self._hello_said = asyncio.Event()
        self._own_back = asyncio.Event()
        """Set when one of this worker's events comes back."""
        self._last_queued_seq = 0
        self._words: list[str] = []
        self._attached = False
        self._alone = False
        self.others_heard = False
        """Another hub spoke on the channel: this relay relays until it stops."""
        self._alive_every_s = alive_every_s
        self._gone_after_s = gone_after_s
        self._heard_at: dict[str, float] = {}
        """Every other hub heard from, and when last (the event loop's clock)."""

    @property
    def relaying(self) -> bool:
        """Whether the bus's events go round through the database now."""
        return self._attached and not self._alone

    def attach(self) -> None:
        """Route the bus's published events through this relay."""
        self._attached = True
        self._alone = False
        self._bus.relay_through(self.send)

    def detach(self) -> None:
        """Let the bus deliver its own events again (the relay is stopping)."""
        self._attached = False
        self._bus.relay_through(None)

    def _heard_another(self) -> None:
        """Another hub is on the channel: relay from the next event on, for good."""
        self.others_heard = True
        if self._attached and self._alone:
            self._alone = False
            self.counters["others"] += 1
            self._bus.relay_through(self.send)
            logger.info("live relay: another hub listens: live events go round again")

    def _heard_word(self, payload: str) -> None:
        """Note another hub's hello or answer, and answer a hello (this hub's own come back
        are ignored)."""
        sender = payload.partition(" ")[2]
        if sender == self.sender:
            return
        if payload.startswith(_HELLO):
            self._say(_HERE)
        self._heard_from(sender)

    def _heard_from(self, sender: str) -> None:
        """Note that another hub spoke now."""
        self._heard_at[sender] = asyncio.get_running_loop().time()
        self._heard_another()

    def _say(self, word: str) -> None:
        """Queue a hello or an answer (with the next batch if the queue is full)."""
        try:
            self._pending.put_nowait(word + self.sender)
        except asyncio.QueueFull:
            self._words.append(word + self.sender)

    def send(self, event: HubEvent) -> None:
        """Queue an event for every worker; never waits (runs on the event loop)."""
        self._seq += 1
        payload = encode(RelayEnvelope(worker=self.sender, seq=self._seq, event=event))
        if payload is None:
            self.counters["too_large"] += 1
            logger.warning(
                "live event %s too large to relay: this worker's consoles only", event.type
            )
            self._bus.deliver(event)
            return
        try:
            self._pending.put_nowait(payload)
            self._last_queued_seq = self._seq
        except asyncio.QueueFull:
            self.counters["local_only"] += 1
            logger.warning("live relay backlog full: event %s for this worker only", event.type)
            self._bus.deliver(event)
            return
        self._own[self._seq] = event
        if len(self._own) > OWN_KEPT_MAX:  # lost on the way (a listening gap): forget the oldest
            del self._own[next(iter(self._own))]

    def receive(self, payload: str) -> None:
        """Deliver one notification's event to the bus, once (a hello or an answer of another
        hub: note it, and answer a hello)."""
        if payload.startswith((_HELLO, _HERE)):
            self._heard_word(payload)
            return
        own = self._own_event(payload)
        if own is not None:
            worker, seq, event = self.sender, *own
        else:
            try:
                envelope = decode(payload)
            except ValueError as exc:
                self.counters["rejected"] += 1
                logger.warning(
                    "live relay: dropped a bad notification on %s: %s", self._channel, exc
                )
                return
            worker, seq, event = envelope.worker, envelope.seq, envelope.event
            if worker == self.sender:
                self._own.pop(seq, None)  # one of ours that went compressed
            else:
                self._heard_from(worker)
        if seq <= self._last_seen.get(worker, 0):
            self.counters["duplicate"] += 1
            return
        self._last_seen[worker] = seq
        if worker == self.sender:
            self._own_back.set()
        self.counters["delivered"] += 1
        self._bus.deliver(event)

    def _own_event(self, payload: str) -> tuple[int, HubEvent] | None:
        """Return the seq and the event of one of this worker's own notifications still kept,
        without decoding it; None for any other payload."""
        if not payload.startswith(self._own_prefix):
            return None
        end = payload.find(",", len(self._own_prefix))
        digits = payload[len(self._own_prefix) : end]
        if end < 0 or not digits.isdigit():
            return None
        seq = int(digits)
        event = self._own.pop(seq, None)
        return None if event is None else (seq, event)

    async def run(self) -> None:
        """Listen and send until cancelled, reconnecting with backoff."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._listen(), name="hub-live-listen")
            tasks.create_task(self._send(), name="hub-live-send")
            if self._alone_after_s is not None:
                tasks.create_task(self._watch_alone(self._alone_after_s), name="hub-live-alone")
            tasks.create_task(self._keep_in_touch(), name="hub-live-touch")

    async def _keep_in_touch(self) -> None:
        """While other hubs listen, say ``here`` every ``alive_every_s``, and take one unheard
        for ``gone_after_s`` for gone: its last events may have died with it, so this worker's
        subscribers are told they may have missed some."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._alive_every_s)
            if not self.listening.is_set():
                # Nothing is heard meanwhile; what was missed is reported when it listens again.
                self._heard_at = dict.fromkeys(self._heard_at, loop.time())
                continue
            if self.others_heard:
                self._say(_HERE)
            gone = [
                sender
                for sender, at in self._heard_at.items()
                if loop.time() - at > self._gone_after_s
            ]
            for sender in gone:
                del self._heard_at[sender]
                self.counters["peers_gone"] += 1
                logger.warning(
                    "live relay: hub %s not heard from for %.0f s: taken for gone; consoles read"
                    " their cases again (its last events may be lost)",
                    sender,
                    self._gone_after_s,
                )
            if gone:
                self._bus.report_lost()

    async def _watch_alone(self, quiet_s: float) -> None:
        """After each hello, go in-process if nobody answered within ``quiet_s``."""
        while not self.others_heard:
            await self._hello_said.wait()
            self._hello_said.clear()
            await asyncio.sleep(quiet_s)
            # Once ours have come back: one sent before would otherwise arrive after a later
            # one delivered in process.
            while not self.others_heard and self._in_flight():
                self._own_back.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IN_FLIGHT_POLL_S):
                        await self._own_back.wait()
            if self.others_heard or not self._attached or self._alone:
                continue
            self._alone = True
            self.counters["alone"] += 1
            self._bus.relay_through(None)
            logger.info(
                "live relay: no other hub on %s: live events stay in this process until one"
                " says hello",
                self._channel,
            )

    def _in_flight(self) -> bool:
        """Whether an event of ours, or a word, is still on its way round."""
        return (
            bool(self._unsent or self._words)
            or not self._pending.empty()
            or self._last_seen.get(self.sender, 0) < self._last_queued_seq
        )

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=max(2, math.ceil(self._probe_timeout_s))
        )

    async def _listen(self) -> None:
        """Listen, and deliver what is heard, until cancelled.

        A connection that only listens never learns that it is dead when a network, a NAT or a
        firewall forgot it (it sends nothing, so nothing comes back to say so): every worker's
        events would stop reaching this worker's consoles, its own included, and nobody would
        be told. So every ``probe_every_s`` it is asked a ``SELECT 1``; no answer within
        ``probe_timeout_s``, and it is given up, and a new one tells the subscribers what they
        missed (``EventsDropped``).
        """
        backoff = Backoff()
        listened_before = False
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    if listened_before:
                        # Whatever was sent while we were away is lost to this worker.
                        self.counters["gaps"] += 1
                        self._bus.report_lost()
                    listened_before = True
                    self.listening.set()
                    # Each time, also when always relaying: a hub that came meanwhile answers,
                    # and one that would go alone hears this one is here.
                    self._say(_HELLO)
                    self._hello_said.set()
                    backoff.reset()
                    while True:
                        async for notify in conn.notifies(timeout=self._probe_every_s):
                            self.receive(notify.payload)
                        # Notifications that come meanwhile wait for the next ``notifies``.
                        async with asyncio.timeout(self._probe_timeout_s):
                            await conn.execute("SELECT 1")
            except (psycopg.Error, TimeoutError) as exc:
                self.listening.clear()
                logger.warning(
                    "live relay: listening connection lost, retrying: %s", exc or "no answer"
                )
            await asyncio.sleep(backoff.next_delay())

    async def _send(self) -> None:
        backoff = Backoff()
        while True:
            try:
                async with await self._connect() as conn:
                    backoff.reset()
                    while True:
                        await self._send_batch(conn)
            except (psycopg.Error, TimeoutError) as exc:
                logger.warning(
                    "live relay: sending connection lost, retrying: %s", exc or "no answer"
                )
            await asyncio.sleep(backoff.next_delay())

    async def _send_batch(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        if not self._unsent:
            self._unsent.append(await self._pending.get())
        while len(self._unsent) < SEND_BATCH_MAX and not self._pending.empty():
            self._unsent.append(self._pending.get_nowait())
        self._unsent += self._words  # said while the queue was full
        self._words = []
        # Sent only while we listen, so that our own consoles hear our events too.
        await self.listening.wait()
        # One statement, its own transaction (autocommit): the batch in one round trip, its
        # notifications in the array's order (a function scan yields its rows in order). The
        # payloads go as one JSON text: a text[] parameter has psycopg escape every element in
        # Python, which cost more of the hub's CPU than the round trips saved.
        # A connection that does not answer is dead: kept, the batch is sent again on a new one
        # (delivered once: the receivers drop a seq they have seen).
        async with asyncio.timeout(self._probe_timeout_s):
            await conn.execute(
                "SELECT pg_notify(%s, payload) FROM json_array_elements_text(%s::json) AS payload",
                (self._channel, json.dumps(self._unsent)),
            )
        self.counters["sent"] += len(self._unsent)
        self._unsent = []
