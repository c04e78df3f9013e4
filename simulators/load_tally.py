"""What a load run sent, what the hub acknowledged, and what its records hold: pure accounting.

``LoadTally`` is told each send and each acknowledgement with the instant it happened (the
caller's monotonic clock); it keeps every record still waiting, the latency of each first
acknowledgement (publish → the hub's ack, which the hub sends only after the commit), and
how many resends and repeated acknowledgements there were. ``reconcile`` compares the ids
sent with the ids the hub's API lists: lost (sent, not stored) and duplicated (stored more
than once, or stored without having been sent).
"""

import contextlib
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from simulators.load_mix import EventKind


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Waiting:
    """A record made and not yet acknowledged."""

    kind: EventKind
    made_at: float


@dataclass
class LoadTally:
    """Sends and acknowledgements of one run (alerts and access records alike)."""

    waiting: dict[str, Waiting] = field(default_factory=dict)
    sent: Counter[EventKind] = field(default_factory=Counter)
    acked: Counter[EventKind] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    latencies_by_kind: dict[EventKind, list[float]] = field(default_factory=dict)
    resends: int = 0
    acked_again: int = 0
    telemetry_points: int = 0
    first_send: float | None = None
    last_ack: float | None = None
    sent_ids: set[str] = field(default_factory=set)

    def sent_now(self, record_id: str, kind: EventKind, now: float) -> None:
        """Note a record the moment the edge made it (its latency starts here, whether it
        goes on the wire at once or waits for room in the edge's window)."""
        if record_id in self.sent_ids:
            raise ValueError(f"record {record_id} was already sent")
        self.sent_ids.add(record_id)
        self.waiting[record_id] = Waiting(kind, now)
        self.sent[kind] += 1
        if self.first_send is None:
            self.first_send = now

    def acked_now(self, record_id: str, now: float) -> None:
        """Note the hub's acknowledgement of a record (again: counted, not timed)."""
        waiting = self.waiting.pop(record_id, None)
        if waiting is None:
            self.acked_again += 1
            return
        self.acked[waiting.kind] += 1
        latency = (now - waiting.made_at) * 1000
        self.latencies_ms.append(latency)
        self.latencies_by_kind.setdefault(waiting.kind, []).append(latency)
        self.last_ack = now

    @property
    def total_sent(self) -> int:
        """Return how many records were sent (each once, however often re-sent)."""
        return sum(self.sent.values())

    @property
    def total_acked(self) -> int:
        """Return how many records the hub acknowledged."""
        return sum(self.acked.values())

    def throughput(self) -> float:
        """Return acknowledged records per second, first send to last acknowledgement."""
        if self.first_send is None or self.last_ack is None or self.last_ack <= self.first_send:
            return 0.0
        return self.total_acked / (self.last_ack - self.first_send)


class SendWindow:
    """An edge's outbox on the wire: at most ``size`` records unacknowledged at once, as
    ``edge.outbox.Outbox.due`` keeps them; one unacknowledged for ``resend_after_s`` no longer
    takes room and is due again. Without the window a slow hub meets every record re-sent
    every ``resend_after_s``, and the resends crowd out the first sends (congestion collapse).
    """

    def __init__(self, size: int, resend_after_s: float) -> None:
        if size < 1 or not resend_after_s > 0:
            raise ValueError("a window needs room for one record and a positive resend delay")
        self.size = size
        self.resend_after_s = resend_after_s
        self._queued: deque[str] = deque()
        self._in_flight: dict[str, float] = {}
        self.resends = 0

    def add(self, record_id: str) -> None:
        """Queue a new record behind those already waiting."""
        self._queued.append(record_id)

    def due(self, now: float) -> list[str]:
        """Return the records to put on the wire now (re-sends first), noting them as sent."""
        stale_before = now - self.resend_after_s
        stale = [rid for rid, at in self._in_flight.items() if at <= stale_before]
        room = self.size - (len(self._in_flight) - len(stale))
        out = stale[:room]
        self.resends += len(out)
        while len(out) < room and self._queued:
            out.append(self._queued.popleft())
        for rid in out:
            self._in_flight[rid] = now
        return out

    def acked(self, record_id: str) -> None:
        """Forget an acknowledged record (wherever it is)."""
        if self._in_flight.pop(record_id, None) is None:
            with contextlib.suppress(ValueError):
                self._queued.remove(record_id)

    def reset(self) -> None:
        """Make everything on the wire due again (a new connection may have lost it)."""
        self._in_flight = dict.fromkeys(self._in_flight, -math.inf)

    @property
    def in_flight(self) -> int:
        """Return how many records are on the wire, unacknowledged."""
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._queued) + len(self._in_flight)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What the hub's records say of the records a run sent."""

    sent: int
    stored: int
    lost: list[str]
    """Acknowledged by the hub, yet not in its records: broken durability."""
    duplicated: list[str]
    """Stored more than once, or stored without having been sent."""
    unfinished: list[str]
    """Neither acknowledged nor stored when the run ended: still in the edge's outbox (a real
    edge would go on re-sending them), so not lost, but not delivered in time either."""


def reconcile(sent: Iterable[str], stored: Iterable[str], waiting: Iterable[str]) -> Reconciled:
    """Compare the ids a run sent (``waiting``: those never acknowledged) with the ids the hub
    lists for the run's edges."""
    sent_set = set(sent)
    counts = Counter(stored)
    missing = sent_set - counts.keys()
    unacknowledged = set(waiting)
    duplicated = sorted(rid for rid, n in counts.items() if n > 1 or rid not in sent_set)
    return Reconciled(
        sent=len(sent_set),
        stored=sum(counts.values()),
        lost=sorted(missing - unacknowledged),
        duplicated=duplicated,
        unfinished=sorted(missing & unacknowledged),
    )
