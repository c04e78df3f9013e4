"""``GET /metrics`` in the Prometheus text format, read fresh from the hub at every scrape.

Nothing is counted twice: the ingest loop's own counters, the edges' last reported outbox
depths, the cases table and the telemetry workers' counters are read when Prometheus scrapes
(one short read transaction), through a collector registered in a registry of this app only.

| metric | type | labels |
|---|---|---|
| ``linli_mqtt_connected`` | gauge | |
| ``linli_ingest_messages_total``, ``linli_ingest_batches_total`` | counter | |
| ``linli_ingest_alerts_total`` | counter | ``outcome`` = new, duplicate |
| ``linli_ingest_rejected_total`` | counter | ``reason`` (malformed, oversized, unknown_device, …) |
| ``linli_ingest_events_total`` | counter | ``event``: every other ingest counter |
| ``linli_edge_outbox_depth``, ``linli_edge_online`` | gauge | ``edge_id`` |
| ``linli_edge_stores_in_memory`` | gauge | ``edge_id``: stores its disk refused (alert on > 0) |
| ``linli_cases`` | gauge | ``status`` |
| ``linli_escalations_total`` | counter | |
| ``linli_telemetry_points_total`` | counter | ``sink`` (influx, history), ``outcome`` |
| ``linli_telemetry_enabled`` | gauge | ``sink`` |
| ``linli_telemetry_write_failures_total`` | counter | ``sink`` |
| ``linli_telemetry_buffered`` | gauge | ``sink`` |

``outcome`` of telemetry points is queued, written or dropped.
"""

import asyncio
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.cases.rules import CaseStatus
from hub.ingest.link import MqttIngest
from hub.persistence.tables import CaseEventRow, CaseRow, EdgeRow

ESCALATED_ACTION = "escalated"
"""The case history action that records an escalation (written by case supervision)."""

_CORE_INGEST_COUNTERS = ("messages", "batches")
_ALERT_OUTCOMES = {"alerts_new": "new", "alerts_duplicate": "duplicate"}
_WORKER_OUTCOMES = {
    "points_queued": "queued",
    "points_written": "written",
    "points_dropped": "dropped",
}


class WorkerStats(Protocol):
    """What the metrics read of a telemetry worker (``hub.telemetry.BatchWorker``)."""

    @property
    def counters(self) -> dict[str, int]:
        """Return a snapshot of the counters."""

    @property
    def buffered(self) -> int:
        """Return how many items wait to be written."""


@dataclass(frozen=True, slots=True)
class HubSnapshot:
    """What the database says at scrape time."""

    cases_by_status: Mapping[str, int]
    edges: list[tuple[str, str, int, int]]
    """(edge id, state, outbox depth) of every edge that reported."""
    escalations: int


def read_snapshot(engine: Engine) -> HubSnapshot:
    """Read case counts, edge outboxes and escalations in one short transaction."""
    with Session(engine) as session, session.begin():
        cases: dict[str, int] = {
            status: count
            for status, count in session.execute(
                select(CaseRow.status, func.count()).group_by(CaseRow.status)
            )
        }
        edges = [
            (row.id, row.state, row.outbox_depth, len(row.in_memory or ()))
            for row in session.scalars(select(EdgeRow).order_by(EdgeRow.id))
        ]
        escalations = session.scalar(
            select(func.count())
            .select_from(CaseEventRow)
            .where(CaseEventRow.action == ESCALATED_ACTION)
        )
    return HubSnapshot(cases, edges, escalations or 0)


def hub_metrics(
    snapshot: HubSnapshot,
    ingest_counters: Mapping[str, int] | None,
    mqtt_connected: bool,
    workers: Mapping[str, WorkerStats | None],
) -> list[Metric]:
    """Return the metric families for one scrape (pure: everything is passed in)."""
    counters = dict(ingest_counters or {})
    connected = GaugeMetricFamily(
        "linli_mqtt_connected", "1 when the hub's MQTT ingest is connected"
    )
    connected.add_metric([], 1.0 if mqtt_connected else 0.0)
    metrics: list[Metric] = [connected]
    for name in _CORE_INGEST_COUNTERS:
        family = CounterMetricFamily(f"linli_ingest_{name}", f"MQTT {name} handled by ingest")
        family.add_metric([], counters.pop(name, 0))
        metrics.append(family)
    alerts = CounterMetricFamily(
        "linli_ingest_alerts", "Alerts stored, by outcome", labels=["outcome"]
    )
    for key, outcome in _ALERT_OUTCOMES.items():
        alerts.add_metric([outcome], counters.pop(key, 0))
    rejected = CounterMetricFamily(
        "linli_ingest_rejected", "Messages and alerts refused, by reason", labels=["reason"]
    )
    others = CounterMetricFamily(
        "linli_ingest_events", "Other ingest counters, by name", labels=["event"]
    )
    for key, value in sorted(counters.items()):
        if key.startswith("rejected."):
            rejected.add_metric([key.removeprefix("rejected.")], value)
        else:
            others.add_metric([key], value)
    metrics += [alerts, rejected, others]

    depth = GaugeMetricFamily(
        "linli_edge_outbox_depth", "Alerts waiting in an edge's outbox", labels=["edge_id"]
    )
    online = GaugeMetricFamily("linli_edge_online", "1 when an edge is online", labels=["edge_id"])
    in_memory = GaugeMetricFamily(
        "linli_edge_stores_in_memory",
        "An edge's stores holding data in memory only: its disk refused them (replace the card)",
        labels=["edge_id"],
    )
    for edge_id, state, outbox, stores in snapshot.edges:
        depth.add_metric([edge_id], outbox)
        online.add_metric([edge_id], 1.0 if state == "online" else 0.0)
        in_memory.add_metric([edge_id], stores)
    cases = GaugeMetricFamily("linli_cases", "Cases by status", labels=["status"])
    statuses = {str(status): 0 for status in CaseStatus} | dict(snapshot.cases_by_status)
    for status, count in sorted(statuses.items()):
        cases.add_metric([status], count)
    escalations = CounterMetricFamily("linli_escalations", "Case escalations recorded")
    escalations.add_metric([], snapshot.escalations)
    metrics += [depth, online, in_memory, cases, escalations]

    points = CounterMetricFamily(
        "linli_telemetry_points",
        "Readings handed to a telemetry sink, by outcome",
        labels=["sink", "outcome"],
    )
    failures = CounterMetricFamily(
        "linli_telemetry_write_failures", "Failed batch writes (retried)", labels=["sink"]
    )
    buffered = GaugeMetricFamily(
        "linli_telemetry_buffered", "Readings waiting to be written", labels=["sink"]
    )
    enabled = GaugeMetricFamily(
        "linli_telemetry_enabled", "1 when a telemetry sink is configured", labels=["sink"]
    )
    for sink, worker in sorted(workers.items()):
        enabled.add_metric([sink], 0.0 if worker is None else 1.0)
        stats = worker.counters if worker is not None else {}
        for key, outcome in _WORKER_OUTCOMES.items():
            points.add_metric([sink, outcome], stats.get(key, 0))
        failures.add_metric([sink], stats.get("write_failures", 0))
        buffered.add_metric([sink], worker.buffered if worker is not None else 0)
    metrics += [points, failures, buffered, enabled]
    return metrics


class HubCollector(Collector):
    """Collects ``hub_metrics`` from a running app's state."""

    def __init__(self, request: Request) -> None:
        self._state = request.app.state

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family (runs the database read; call it off the event loop)."""
        state = self._state
        ingest: MqttIngest | None = state.ingest
        engine: Engine = state.console_engine
        telemetry = getattr(state, "telemetry", None)
        history = getattr(state, "history", None)
        workers: dict[str, WorkerStats | None] = {
            "influx": telemetry.worker if telemetry is not None else None,
            "history": history.worker if history is not None else None,
        }
        yield from hub_metrics(
            read_snapshot(engine),
            dict(ingest.counters) if ingest is not None else None,
            ingest.connected if ingest is not None else False,
            workers,
        )


def _exposition(collector: HubCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


metrics_router = APIRouter()


def get_collector(request: Request) -> HubCollector:
    """Return a collector of the requesting app."""
    return HubCollector(request)


def scrape_allowed(expected: str | None, authorization: str | None) -> bool:
    """Return whether a scrape's ``Authorization`` header carries the metrics token."""
    if expected is None or authorization is None:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def require_metrics_token(request: Request) -> None:
    """Let only Prometheus with ``LINLI_HUB_METRICS_TOKEN`` scrape; closed when it is unset.

    The metrics name every edge and count cases and rejections: a map of the system and of
    what it refuses, not for whoever reaches the port. Unset, ``/metrics`` does not exist (404).
    """
    token = request.app.state.settings.metrics_token
    if token is None:
        raise HTTPException(status_code=404, detail="Not Found")
    if not scrape_allowed(token.get_secret_value(), request.headers.get("authorization")):
        raise HTTPException(
            status_code=401,
            detail="metrics need a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


@metrics_router.get(
    "/metrics", include_in_schema=False, dependencies=[Depends(require_metrics_token)]
)
async def metrics(collector: Annotated[HubCollector, Depends(get_collector)]) -> Response:
    """Return the hub's metrics in the Prometheus text format."""
    body = await asyncio.to_thread(_exposition, collector)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
