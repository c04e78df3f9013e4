"""What a load run sent, what the hub acknowledged, and what its records hold: pure accounting.

``LoadTally`` is told each send and each acknowledgement with the instant it happened (the
caller's monotonic clock); it keeps every record still waiting, the latency of each first
acknowledgement (publish → the hub's ack, which the hub sends only after the commit), and
how many resends and repeated acknowledgements there were. ``reconcile`` compares the ids
sent with the ids the hub's API lists: lost (sent, not stored) and duplicated (stored more
than once, or stored without having been sent).
"""

from collections import Counter
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
    """A record sent and not yet acknowledged."""

    kind: EventKind
    first_sent: float
    last_sent: float


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
        """Note the first send of a record."""
        if record_id in self.sent_ids:
            raise ValueError(f"record {record_id} was already sent; use resent_now")
        self.sent_ids.add(record_id)
        self.waiting[record_id] = Waiting(kind, now, now)
        self.sent[kind] += 1
        if self.first_send is None:
            self.first_send = now

    def resent_now(self, record_id: str, now: float) -> None:
        """Note a resend of a record still waiting (a missing ack, a reconnect)."""
        waiting = self.waiting.get(record_id)
        if waiting is not None:
            waiting.last_sent = now
            self.resends += 1

    def acked_now(self, record_id: str, now: float) -> None:
        """Note the hub's acknowledgement of a record (again: counted, not timed)."""
        waiting = self.waiting.pop(record_id, None)
        if waiting is None:
            self.acked_again += 1
            return
        self.acked[waiting.kind] += 1
        latency = (now - waiting.first_sent) * 1000
        self.latencies_ms.append(latency)
        self.latencies_by_kind.setdefault(waiting.kind, []).append(latency)
        self.last_ack = now

    def due(self, now: float, after_s: float) -> list[str]:
        """Return the records sent ``after_s`` ago or more and still waiting (to resend)."""
        return [rid for rid, w in self.waiting.items() if now - w.last_sent >= after_s]

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


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What the hub's records say of the records a run sent."""

    sent: int
    stored: int
    lost: list[str]
    duplicated: list[str]


def reconcile(sent: Iterable[str], stored: Iterable[str]) -> Reconciled:
    """Compare the ids a run sent with the ids the hub lists for the run's edges.

    Lost: sent, not stored. Duplicated: stored more than once, or stored without being sent.
    """
    sent_set = set(sent)
    counts = Counter(stored)
    lost = sorted(sent_set - counts.keys())
    duplicated = sorted(rid for rid, n in counts.items() if n > 1 or rid not in sent_set)
    return Reconciled(len(sent_set), sum(counts.values()), lost, duplicated)
