"""Alerts about a device the hub does not know yet: left unacknowledged for a while, not lost.

An edge raises alerts only for devices its inventory lists, and its inventory is in every
status it sends (at connect, on a change, and every heartbeat, 30 s). An alert that finds the
hub without its device is most likely ahead of the status that registers it: that status was
lost, or the hub was restored from a backup older than the device. An alert that says what
raised it (a fire, an SOS) registers the device itself (``hub.fleet.rules.adopted_device``);
the others (a battery running low, a detector offline, tampering, a door, a fault) used to be
refused and acknowledged at once, which is final: the edge deleted them.

Now such an alert is **held**: counted (``deferred.unknown_device``), logged, and not
acknowledged, so the edge sends it again and it is stored and cased like any once a status has
registered its device. The edge sends an unacknowledged alert again after 10 s without any
acknowledgement from the hub, and at every reconnect (``edge.outbox``: while other alerts are
being acknowledged it waits, and a held alert keeps its place in the edge's window of 200 in
flight; alerts go life-safety first). Only when ``grace_s`` has passed since the hub first held
it is it refused for good and acknowledged, as before (``rejected.unknown_device``), at its
first copy after that. Each worker keeps its own account, in memory: with several hub workers,
or after a restart, an alert may be held a little longer; never forever.

The account is kept by edge and alert id, not by alert id alone: ids are each edge's own, and
some are guessable (a door alarm's is derived from its edge, door and count). Kept by id
alone, another edge (a stolen one) that sent an alert under the id first, about a device
nobody registered, started that id's grace early, and the real edge's alert, held while its
status was on its way, was refused for good and acknowledged at its first copy: dropped
(found by an outside review; ``tests/hub/test_ingest_unknown_device_ids.py``).
"""

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime

from hub.cases.results import RejectedAlert

UNKNOWN_DEVICE = "unknown_device"
"""The reason an alert about a device nobody registered is refused with."""

MAX_HELD = 10_000
"""Alerts held at once; beyond this the oldest is forgotten (its next copy is held afresh)."""


class UnknownDeviceGrace:
    """Which alerts refused for an unknown device to hold back, and which to refuse for good."""

    def __init__(self, grace_s: float, max_held: int = MAX_HELD) -> None:
        self.grace_s = grace_s
        self._max_held = max_held
        self._first_held: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        """When each alert (by its edge and its id) was first held."""
        self._edges_holding: dict[str, set[str]] = {}
        """The edges holding an alert under each id (for ``forget``)."""

    def __len__(self) -> int:
        return len(self._first_held)

    def judge(
        self, rejected: Sequence[RejectedAlert], now: datetime
    ) -> tuple[list[RejectedAlert], list[RejectedAlert]]:
        """Split a take's refused alerts into those held back (not to be acknowledged yet)
        and those refused for good, at ``now`` (the hub's time of the take)."""
        held: list[RejectedAlert] = []
        final: list[RejectedAlert] = []
        for refused in rejected:
            key = (refused.alert.edge_id, refused.alert.id)
            if refused.reason != UNKNOWN_DEVICE or self.grace_s <= 0:
                final.append(refused)
                continue
            first = self._first_held.get(key)
            if first is None:
                first = self._hold(key, now)
            if (now - first).total_seconds() < self.grace_s:
                held.append(refused)
            else:
                self._drop(key)
                final.append(refused)
        return held, final

    def forget(self, alert_ids: Iterable[str]) -> None:
        """Forget alerts that were stored, by the ids their edges sent, whichever edge's was
        held: their device became known. (Another edge's alert stored under that id makes a
        held one held afresh at its next copy: for longer, never refused sooner.)"""
        for alert_id in alert_ids:
            for edge_id in self._edges_holding.pop(alert_id, set()):
                self._first_held.pop((edge_id, alert_id), None)

    def _hold(self, key: tuple[str, str], now: datetime) -> datetime:
        if len(self._first_held) >= self._max_held:
            self._drop(next(iter(self._first_held)))
        self._first_held[key] = now
        self._edges_holding.setdefault(key[1], set()).add(key[0])
        return now

    def _drop(self, key: tuple[str, str]) -> None:
        del self._first_held[key]
        edges = self._edges_holding.get(key[1], set())
        edges.discard(key[0])
        if not edges:
            self._edges_holding.pop(key[1], None)
