"""The load simulator's plan: which edges and devices exist, and what each does when.

Pure: a ``LoadPlan`` and a seeded ``random.Random`` give the fleet (``fleet``) and one
time-ordered stream of ``LoadEvent`` (``schedule``), as offsets in seconds from the start of
the run. ``simulators.load`` publishes them when their time comes; a test reads them on plain
values, with no clock at all.

The mix, per device, as a city's edges see it:

- every device sends its readings every ``telemetry_interval_s`` (one minute), phases spread;
- a hazard detector (smoke, CO, gas, water leak) has incidents at ``incidents_per_device_h``:
  an alert raised, and cleared ``clear_after_s`` later;
- an SOS button is pressed at ``sos_per_button_h``: one raised alert;
- a door sees passages at ``passages_per_door_h``: one access log record each.

Event times are a Poisson process per source (exponential gaps), so bursts happen as in life.
The default rates are a storm, not a quiet night (a quiet city raises an alert a device a
year): the point of the run is what the hub sustains, so every rate is an option.
"""

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from devices.kinds import AlertKind, DeviceKind, Severity

EDGE_PREFIX = "load"


class EventKind(StrEnum):
    """What one scheduled event makes a simulated edge send."""

    TELEMETRY = "telemetry"
    ALERT_RAISED = "alert_raised"
    ALERT_CLEARED = "alert_cleared"
    SOS = "sos"
    DOOR = "door"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How big the simulated city is and how busy its devices are."""

    edges: int
    devices_per_edge: int
    duration_s: float
    telemetry_interval_s: float = 60.0
    incidents_per_device_h: float = 1.0
    clear_after_s: float = 20.0
    sos_per_button_h: float = 1.0
    passages_per_door_h: float = 60.0

    def __post_init__(self) -> None:
        if self.edges < 1 or self.devices_per_edge < 1:
            raise ValueError("a load needs at least one edge with one device")
        if self.edges > 9999 or self.devices_per_edge > 9999:
            raise ValueError("at most 9999 edges of 9999 devices each")
        if not self.duration_s > 0 or not self.telemetry_interval_s > 0:
            raise ValueError("the duration and the telemetry interval must be positive")
        rates = (self.incidents_per_device_h, self.sos_per_button_h, self.passages_per_door_h)
        if any(rate < 0 or math.isnan(rate) for rate in rates) or self.clear_after_s < 0:
            raise ValueError("rates and the clear delay must not be negative")


MIX: tuple[DeviceKind, ...] = (
    DeviceKind.SMOKE,
    DeviceKind.SMOKE,
    DeviceKind.SMOKE,
    DeviceKind.CO,
    DeviceKind.CO,
    DeviceKind.GAS,
    DeviceKind.WATER_LEAK,
    DeviceKind.SOS_BUTTON,
    DeviceKind.SOS_BUTTON,
    DeviceKind.DOOR_CONTACT,
)
"""Ten devices of a flat block, repeated: smoke in most flats, CO and gas by the boilers,
a leak sensor, SOS buttons for the elderly, a door contact at the entrance."""

HAZARD: dict[DeviceKind, tuple[AlertKind, Severity]] = {
    DeviceKind.SMOKE: (AlertKind.SMOKE, Severity.CRITICAL),
    DeviceKind.CO: (AlertKind.CO, Severity.CRITICAL),
    DeviceKind.GAS: (AlertKind.GAS, Severity.CRITICAL),
    DeviceKind.WATER_LEAK: (AlertKind.WATER_LEAK, Severity.MEDIUM),
}
"""The alert an incident of each hazard detector raises."""


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device."""

    id: str
    kind: DeviceKind
    location: str


@dataclass(frozen=True, slots=True)
class SimEdge:
    """One simulated edge and its devices."""

    id: str
    devices: tuple[SimDevice, ...]


@dataclass(frozen=True, slots=True)
class LoadEvent:
    """What ``edge`` (an index into the fleet) sends about ``device`` at ``at`` seconds."""

    at: float
    kind: EventKind
    edge: int
    device: int


def edge_id(run: str, edge: int) -> str:
    """Return the id of simulated edge number ``edge`` of run ``run``."""
    return f"{EDGE_PREFIX}-{run}-e{edge:04d}"


def fleet(plan: LoadPlan, run: str) -> list[SimEdge]:
    """Return the simulated edges of ``plan``, their devices in the ``MIX`` proportions."""
    edges = []
    for e in range(plan.edges):
        eid = edge_id(run, e)
        devices = tuple(
            SimDevice(
                id=f"{eid}-d{d:04d}",
                kind=MIX[d % len(MIX)],
                # Ten devices to a flat, so correlation groups a flat's alarms as in life.
                location=f"Load {run}/Site {e}/Flat {d // len(MIX)}",
            )
            for d in range(plan.devices_per_edge)
        )
        edges.append(SimEdge(eid, devices))
    return edges


def _rate_per_s(plan: LoadPlan, kind: DeviceKind) -> tuple[EventKind, float] | None:
    if kind in HAZARD:
        return EventKind.ALERT_RAISED, plan.incidents_per_device_h / 3600
    if kind == DeviceKind.SOS_BUTTON:
        return EventKind.SOS, plan.sos_per_button_h / 3600
    if kind == DeviceKind.DOOR_CONTACT:
        return EventKind.DOOR, plan.passages_per_door_h / 3600
    return None


def schedule(plan: LoadPlan, edges: list[SimEdge], rng: random.Random) -> Iterator[LoadEvent]:
    """Yield every event of the run in time order (ties in a fixed order), up to the end.

    An incident's clear follows its raise by ``clear_after_s`` and may fall after the end
    (then it is not sent); a detector does not start a new incident before its clear.
    """
    # One heap entry per source: (next time, tie-break, kind, edge, device, rate).
    heap: list[tuple[float, int, EventKind, int, int, float]] = []
    order = 0
    for e, edge in enumerate(edges):
        for d, device in enumerate(edge.devices):
            first = rng.uniform(0, plan.telemetry_interval_s)
            heap.append((first, order, EventKind.TELEMETRY, e, d, 0.0))
            order += 1
            source = _rate_per_s(plan, device.kind)
            if source is not None and source[1] > 0:
                kind, rate = source
                heap.append((rng.expovariate(rate), order, kind, e, d, rate))
                order += 1
    heapq.heapify(heap)
    while heap:
        at, tie, kind, e, d, rate = heapq.heappop(heap)
        if at >= plan.duration_s:
            continue  # this source is done; the others may still have earlier events
        yield LoadEvent(at, kind, e, d)
        match kind:
            case EventKind.TELEMETRY:
                heapq.heappush(heap, (at + plan.telemetry_interval_s, tie, kind, e, d, rate))
            case EventKind.ALERT_RAISED:
                cleared = at + plan.clear_after_s
                heapq.heappush(heap, (cleared, tie, EventKind.ALERT_CLEARED, e, d, rate))
            case EventKind.ALERT_CLEARED:
                nxt = at + rng.expovariate(rate)
                heapq.heappush(heap, (nxt, tie, EventKind.ALERT_RAISED, e, d, rate))
            case EventKind.SOS | EventKind.DOOR:
                heapq.heappush(heap, (at + rng.expovariate(rate), tie, kind, e, d, rate))


def expected_per_hour(plan: LoadPlan) -> dict[EventKind, float]:
    """Return about how many events of each kind the whole fleet makes in an hour."""
    counts = {kind: 0 for kind in DeviceKind}
    for d in range(plan.devices_per_edge):
        counts[MIX[d % len(MIX)]] += plan.edges
    hazards = sum(counts[k] for k in HAZARD)
    devices = plan.edges * plan.devices_per_edge
    return {
        EventKind.TELEMETRY: devices * 3600 / plan.telemetry_interval_s,
        EventKind.ALERT_RAISED: hazards * plan.incidents_per_device_h,
        EventKind.SOS: counts[DeviceKind.SOS_BUTTON] * plan.sos_per_button_h,
        EventKind.DOOR: counts[DeviceKind.DOOR_CONTACT] * plan.passages_per_door_h,
    }
