"""Feedback to the edges: what became of a resident's case, for the button's LED and buzzer.

Every case change that a resident should see — a case opened by ingest, acknowledged or
resolved through the API — goes through one ``FeedbackPublisher``, fed with the committed
case (never before the commit). ``notify`` only queues: an API route never waits on MQTT.
The publisher's own task looks up the edge of the case's devices and publishes a
``CaseFeedback`` at QoS 1 on ``linli/edge/<edge_id>/feedback``. When the hub is disconnected
the feedback is logged and counted, not retried: the resident page reads the truth from the
database, and the next stage sends fresh feedback anyway.

Counters (shared with the ingest, so ``/api/v1/health`` shows them): ``feedback_published``,
``feedback_unsent`` (not connected), ``feedback_failed`` (publish or lookup failed),
``feedback_dropped`` (queue full).
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiomqtt
from sqlalchemy.exc import SQLAlchemyError

from devices.kinds import AlertKind
from devices.messages import CaseFeedback
from devices.topics import EdgeChannel, edge_topic
from hub.cases.rules import feedback_stage
from hub.cases.views import CaseView
from hub.store import HubStore

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class FeedbackDelivery:
    """One ``CaseFeedback`` for the edge serving its device."""

    edge_id: str
    feedback: CaseFeedback

    @property
    def topic(self) -> str:
        """Return the edge's feedback topic."""
        return edge_topic(self.edge_id, EdgeChannel.FEEDBACK)


def feedback_deliveries(
    case: CaseView, edges: dict[str, str], kinds: frozenset[AlertKind]
) -> list[FeedbackDelivery]:
    """Return the feedback a case in its current status sends, given each device's edge.

    Only the devices that joined the case with a feedback kind hear of it: in a fire case an
    SOS button that was pressed does, the smoke detectors do not.
    """
    stage = feedback_stage(case.status, case.acknowledged_at is not None)
    devices = dict.fromkeys(m.device_id for m in case.members if m.kind in kinds)
    return [
        FeedbackDelivery(
            edges[device_id], CaseFeedback(device_id=device_id, case_id=case.id, stage=stage)
        )
        for device_id in devices
        if device_id in edges
    ]


def wants_feedback(case: CaseView, kinds: frozenset[AlertKind]) -> bool:
    """Return whether any device joined the case with a kind that is reported back."""
    return any(member.kind in kinds for member in case.members)


class FeedbackPublisher:
    """Queues committed case changes and publishes their ``CaseFeedback`` to the edges."""

    def __init__(
        self,
        store: HubStore,
        client: Callable[[], aiomqtt.Client | None],
        counters: Counter[str],
        *,
        kinds: frozenset[AlertKind],
        max_queued: int = 1000,
    ) -> None:
        self._store = store
        self._client = client
        self._counters = counters
        self._kinds = kinds
        self._queue: asyncio.Queue[CaseView] = asyncio.Queue(max_queued)

    @property
    def kinds(self) -> frozenset[AlertKind]:
        """Return the alert kinds whose devices hear what became of their case."""
        return self._kinds

    def notify(self, case: CaseView) -> None:
        """Queue feedback for a committed case change, without waiting (if its kind wants it)."""
        if not wants_feedback(case, self._kinds):
            return
        try:
            self._queue.put_nowait(case)
        except asyncio.QueueFull:
            self._counters["feedback_dropped"] += 1
            logger.warning("feedback queue full: case %s %s not reported", case.id, case.status)

    def notify_all(self, cases: Iterable[CaseView]) -> None:
        """Queue feedback for several committed case changes, in order."""
        for case in cases:
            self.notify(case)

    async def run(self) -> None:
        """Publish queued feedback until cancelled."""
        while True:
            case = await self._queue.get()
            try:
                await self._publish(case)
            except Exception:
                # A bug must not end feedback for good, nor take ingest down with it.
                self._counters["feedback_failed"] += 1
                logger.exception("publishing feedback of case %s failed", case.id)

    async def _publish(self, case: CaseView) -> None:
        try:
            edges = await asyncio.to_thread(self._store.fleet.device_edges, case.device_ids)
        except SQLAlchemyError as exc:
            self._counters["feedback_failed"] += 1
            logger.warning("no feedback for case %s: cannot look up its edge: %s", case.id, exc)
            return
        for delivery in feedback_deliveries(case, edges, self._kinds):
            client = self._client()
            if client is None:
                self._counters["feedback_unsent"] += 1
                logger.warning(
                    "not connected to MQTT: feedback %s of case %s not sent to edge %s",
                    delivery.feedback.stage,
                    case.id,
                    delivery.edge_id,
                )
                continue
            try:
                await client.publish(
                    delivery.topic,
                    delivery.feedback.model_dump_json(),
                    qos=1,
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                )
            except (aiomqtt.MqttError, TimeoutError) as exc:
                self._counters["feedback_failed"] += 1
                logger.warning(
                    "feedback %s of case %s to edge %s failed: %s",
                    delivery.feedback.stage,
                    case.id,
                    delivery.edge_id,
                    exc,
                )
                continue
            self._counters["feedback_published"] += 1
