"""What the ingest handles first in one take of uplink messages: pure, on plain values.

An SOS must never wait behind readings. The ingest takes what the broker has already
delivered and plans it here:

- **alerts first**, the most urgent device first (``devices.kinds.forwarding_rank``: SOS, then
  the other life-safety kinds, then property, then faults, the order an edge forwards in);
  a device ranks by its most urgent alert in the take and keeps its own alerts in arrival
  order, so a ``cleared`` never overtakes the ``raised`` it clears;
- **statuses coalesced per edge**: the latest of each edge wins (a status is the edge's whole
  state and inventory, retained on the broker; an older one says nothing the newer does not);
- **telemetry** for the readings lane, off the alert path;
- **responders' phones' messages** (OwnTracks) for the positions lane, off it too;
- refused messages as they came.

A status goes ahead of the alerts only when one of them is about a device the hub does not
know yet and that status's inventory registers it (``statuses_needed_first``): otherwise the
intake would refuse the alert as an unknown device.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from devices.kinds import forwarding_rank
from devices.messages import Alert
from devices.topics import EdgeChannel
from hub.ingest.messages import (
    AlertBatchMessage,
    AlertMessage,
    RawPosition,
    RawTelemetry,
    RejectedMessage,
    StatusCleared,
    StatusMessage,
    StatusNews,
    TelemetryMessage,
    UplinkMessage,
)


@dataclass(frozen=True, slots=True)
class Take:
    """One take of uplink messages, in the order the ingest handles each kind."""

    alerts: list[Alert]
    """Most urgent device first; each device's alerts in arrival order."""
    statuses: list[StatusNews]
    """The latest status (or its clearing) of each edge, edges in the order their latest
    arrived."""
    telemetry: list[TelemetryMessage | RawTelemetry]
    """For the readings lane: parsed, or deferred for the lane to parse."""
    rejected: list[RejectedMessage]
    superseded_statuses: int
    """Statuses left out because a later one of the same edge is in the take."""
    alert_batches: int = 0
    """Messages that were ``AlertBatch``es (their alerts are in ``alerts``)."""
    positions: list[RawPosition] = field(default_factory=list)
    """Phones' messages for the positions lane, in arrival order (unread)."""


def alert_order(alerts: Sequence[Alert]) -> list[Alert]:
    """Order alerts most urgent device first, keeping each device's alerts in arrival order."""
    device_rank: dict[str, int] = {}
    for alert in alerts:
        rank = forwarding_rank(alert.kind)
        device_rank[alert.device_id] = min(rank, device_rank.get(alert.device_id, rank))
    # sorted() is stable: equal ranks, and so one device's alerts, keep their arrival order.
    return sorted(alerts, key=lambda a: device_rank[a.device_id])


def latest_statuses(statuses: Sequence[StatusNews]) -> list[StatusNews]:
    """Keep each edge's last status, in the order those last statuses arrived."""
    latest: dict[str, StatusNews] = {}
    for status in statuses:
        latest.pop(status.edge_id, None)
        latest[status.edge_id] = status
    return list(latest.values())


def plan_take(messages: Sequence[UplinkMessage]) -> Take:
    """Split one take into what the ingest handles, in the order it handles it."""
    alerts: list[Alert] = []
    statuses: list[StatusNews] = []
    telemetry: list[TelemetryMessage | RawTelemetry] = []
    rejected: list[RejectedMessage] = []
    positions: list[RawPosition] = []
    alert_batches = 0
    for message in messages:
        match message:
            case AlertMessage(alert=alert):
                alerts.append(alert)
            case AlertBatchMessage():
                alerts.extend(message.alerts)
                rejected.extend(message.rejected)
                alert_batches += 1
            case StatusMessage() | StatusCleared():
                statuses.append(message)
            case TelemetryMessage() | RawTelemetry():
                telemetry.append(message)
            case RawPosition():
                positions.append(message)
            case RejectedMessage():
                rejected.append(message)
    latest = latest_statuses(statuses)
    return Take(
        alerts=alert_order(alerts),
        statuses=latest,
        telemetry=telemetry,
        rejected=rejected,
        superseded_statuses=len(statuses) - len(latest),
        alert_batches=alert_batches,
        positions=positions,
    )


def statuses_needed_first(
    alerts: Sequence[Alert], statuses: Sequence[StatusNews], known_devices: Collection[str]
) -> list[StatusNews]:
    """Return the statuses that register a device one of ``alerts`` is about and the hub does
    not know yet (not in ``known_devices``): those are recorded before the alerts."""
    unknown: dict[str, set[str]] = {}
    for alert in alerts:
        if alert.device_id not in known_devices:
            unknown.setdefault(alert.edge_id, set()).add(alert.device_id)
    return [
        status
        for status in statuses
        if status.edge_id in unknown
        and isinstance(status, StatusMessage)
        and any(device.id in unknown[status.edge_id] for device in status.status.devices)
    ]


class PendingStatuses:
    """Statuses received and not yet written: the latest of each edge, oldest edge first.

    Kept across takes, so statuses never hold up the alerts of the next take: the ingest writes
    at least one after each take and goes on only while nothing else is waiting
    (``write_another``). An edge's newer status replaces its pending one (``superseded``).
    """

    def __init__(self) -> None:
        self._pending: dict[str, StatusNews] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, statuses: Sequence[StatusNews]) -> int:
        """Add statuses in arrival order; return how many pending ones they superseded."""
        superseded = 0
        for status in statuses:
            if self._pending.pop(status.edge_id, None) is not None:
                superseded += 1
            self._pending[status.edge_id] = status
        return superseded

    def take_needed_first(
        self, alerts: Sequence[Alert], known_devices: Collection[str]
    ) -> list[StatusNews]:
        """Remove and return the pending statuses ``alerts`` need written before them."""
        needed = statuses_needed_first(alerts, list(self._pending.values()), known_devices)
        for status in needed:
            del self._pending[status.edge_id]
        return needed

    def pop_oldest(self) -> StatusNews | None:
        """Remove and return the status of the edge pending longest, if any."""
        if not self._pending:
            return None
        return self._pending.pop(next(iter(self._pending)))


_BATCH_SUFFIX = f"/{EdgeChannel.ALERTS}"


def take_weight(topic: str, alert_batch_max: int) -> int:
    """Return what one message counts for in a take (``ingest_batch_max`` bounds the sum): an
    ``AlertBatch`` as many alerts as it may hold, any other message one."""
    return max(1, alert_batch_max) if topic.endswith(_BATCH_SUFFIX) else 1


def write_another(written: int, pending: int, messages_waiting: bool) -> bool:
    """Whether to write one more pending status now: at least one per take, so statuses
    progress under any load; more only while no message waits (an alert may be among them)."""
    return pending > 0 and (written == 0 or not messages_waiting)
