"""Feedback to the edges: what became of a resident's case, for the button's LED and buzzer.

Every case change that a resident should see — a case opened by ingest, acknowledged or
resolved through the API — goes through one ``FeedbackPublisher``, fed with the committed
case (never before the commit). ``notify`` only queues: an API route never waits on MQTT.
The publisher's own task reads the case again as committed now (another hub worker may have
changed it since it was queued, and told the button so already), looks up the edge of the
case's devices and publishes a ``CaseFeedback`` at QoS 1 on ``linli/edge/<edge_id>/feedback``
to each device whose latest case it is (``latest_cases``): a button shows one request, and a
change of an older case of it (closed after the resident pressed again) is not sent. When the
hub is disconnected the feedback is logged and counted, not retried one by one; instead, every
time the hub (re)connects, ``resend_current`` sends each button the stage of its latest case
again — still active, or resolved within ``RESEND_RESOLVED_WITHIN`` — so that a stage lost
while the hub was disconnected, or queued in memory when it was killed, reaches the button late
rather than never (a button has no page to fall back on). The edge shows a stage it has
already shown for that case only once (``edge.button_feedback.ButtonFeedback``), so the resend
does not buzz a resident again. Each feedback carries the case's ``version`` as read: a worker
that read the case before another worker changed it and told the button may still publish
after it, and the edge drops the older stage.

Counters (shared with the ingest, so ``/api/v1/health`` shows them): ``feedback_published``,
``feedback_unsent`` (not connected), ``feedback_failed`` (publish or lookup failed),
``feedback_dropped`` (queue full), ``feedback_resent`` (cases sent again on a (re)connect).
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiomqtt
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from devices.kinds import AlertKind
from devices.messages import CaseFeedback
from devices.mqtt_link import checkpoint
from devices.topics import EdgeChannel, edge_topic
from hub.cases.records import case_view, cases_query, members
from hub.cases.rules import ACTIVE, feedback_stage
from hub.cases.views import CaseView
from hub.persistence.tables import AlertRow, CaseMemberRow, CaseRow
from hub.persistence.threads import alarm_thread
from hub.persistence.transactions import Database
from hub.store import HubStore

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0
RESEND_RESOLVED_WITHIN = timedelta(hours=1)
"""How recently a button's latest case may have been resolved for ``resend_current`` to tell
it so again: long enough to cover a hub's restart or a broker's outage, short enough that a
reconnect does not walk through a week of cases."""
RESEND_MAX_CASES = 1000
"""The most cases one resend reads (the most recently updated first)."""


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
    case: CaseView,
    edges: dict[str, str],
    kinds: frozenset[AlertKind],
    only: frozenset[str] | None = None,
) -> list[FeedbackDelivery]:
    """Return the feedback a case in its current status sends, given each device's edge.

    Only the devices that joined the case with a feedback kind hear of it: in a fire case an
    SOS button that was pressed does, the smoke detectors do not; of those, only the devices
    in ``only``, if given.
    """
    stage = feedback_stage(case.status, case.acknowledged_at is not None)
    devices = dict.fromkeys(
        m.device_id
        for m in case.members
        if m.kind in kinds and (only is None or m.device_id in only)
    )
    return [
        FeedbackDelivery(
            edges[device_id],
            CaseFeedback(device_id=device_id, case_id=case.id, stage=stage, version=case.version),
        )
        for device_id in devices
        if device_id in edges
    ]


def wants_feedback(case: CaseView, kinds: frozenset[AlertKind]) -> bool:
    """Return whether any device joined the case with a kind that is reported back."""
    return any(member.kind in kinds for member in case.members)


def latest_case_of_each_device(
    cases: Sequence[CaseView],
    kinds: frozenset[AlertKind],
    latest: Mapping[str, int] | None = None,
) -> list[tuple[CaseView, frozenset[str]]]:
    """Pair each case with the feedback devices whose latest case it is, as ``latest`` says
    (``latest_cases``: a button that pressed into an old case and then into a new one shows
    the new one's stage, never the old one's); cases that are nobody's latest are left out.
    Without ``latest``, judged from these cases alone: the device's latest alert in them, then
    the higher id."""
    if latest is None:
        last: dict[str, tuple[datetime, int]] = {}
        for case in cases:
            for member in case.members:
                mark = (member.last_alert_at, case.id)
                known = last.get(member.device_id)
                if member.kind in kinds and (known is None or mark > known):
                    last[member.device_id] = mark
        latest = {device_id: case_id for device_id, (_, case_id) in last.items()}
    devices_of: dict[int, set[str]] = {}
    for case in cases:
        for member in case.members:
            if member.kind in kinds and latest.get(member.device_id) == case.id:
                devices_of.setdefault(case.id, set()).add(member.device_id)
    return [(case, frozenset(devices_of[case.id])) for case in cases if case.id in devices_of]


def latest_cases(
    db: Database, device_ids: Iterable[str], kinds: frozenset[AlertKind]
) -> dict[str, int]:
    """Return each device's latest case: the case its alert of ``kinds`` that the hub received
    last is in now (of two received at one time, the higher case id).

    Not the highest case id: a fire case that comes back keeps its id and takes in a press
    that opened a newer case. Not the alert's own time either: an edge whose clock is behind
    (no network time after a power cut) stamps a new press before an old one.
    """
    devices = sorted(set(device_ids))
    if not devices:
        return {}
    query = select(AlertRow.device_id, AlertRow.received_at, AlertRow.case_id).where(
        AlertRow.device_id.in_(devices),
        AlertRow.kind.in_(sorted(kinds)),
        AlertRow.case_id.is_not(None),
    )
    last: dict[str, tuple[datetime, int]] = {}
    with db.reading() as session:
        for device_id, received_at, case_id in session.execute(query):
            known = last.get(device_id)
            if case_id is not None and (known is None or (received_at, case_id) > known):
                last[device_id] = (received_at, case_id)
    return {device_id: case_id for device_id, (_, case_id) in last.items()}


def case_now(db: Database, case_id: int) -> CaseView | None:
    """Return the case as committed now (None if there is no such case)."""
    with db.reading() as session:
        found = session.execute(cases_query().where(CaseRow.id == case_id)).first()
        if found is None:
            return None
        row, location = found
        return case_view(row, location, members(session, [row.id])[row.id])


def current_feedback_cases(
    db: Database, kinds: frozenset[AlertKind], resolved_since: datetime
) -> list[CaseView]:
    """Return the cases a device of ``kinds`` joined that are active or were resolved (or
    closed) since ``resolved_since``, oldest first, at most ``RESEND_MAX_CASES``."""
    joined = select(CaseMemberRow.case_id).where(CaseMemberRow.kind.in_(sorted(kinds)))
    query = (
        cases_query()
        .where(
            CaseRow.id.in_(joined),
            or_(
                CaseRow.status.in_(sorted(ACTIVE)),
                CaseRow.resolved_at >= resolved_since,
            ),
        )
        .order_by(CaseRow.updated_at.desc(), CaseRow.id.desc())
        .limit(RESEND_MAX_CASES)
    )
    with db.reading() as session:
        found = list(session.execute(query))
        joined_rows = members(session, [row.id for row, _ in found])
        views = [case_view(row, location, joined_rows[row.id]) for row, location in found]
    return sorted(views, key=lambda view: view.id)


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
        self._queue: asyncio.Queue[tuple[CaseView, frozenset[str] | None]] = asyncio.Queue(
            max_queued
        )

    @property
    def kinds(self) -> frozenset[AlertKind]:
        """Return the alert kinds whose devices hear what became of their case."""
        return self._kinds

    def notify(self, case: CaseView, only: frozenset[str] | None = None) -> None:
        """Queue feedback for a committed case change, without waiting (if its kind wants it),
        for every feedback device of the case or only those in ``only``."""
        if not wants_feedback(case, self._kinds):
            return
        try:
            self._queue.put_nowait((case, only))
        except asyncio.QueueFull:
            self._counters["feedback_dropped"] += 1
            logger.warning("feedback queue full: case %s %s not reported", case.id, case.status)

    def notify_all(self, cases: Iterable[CaseView]) -> None:
        """Queue feedback for several committed case changes, in order."""
        for case in cases:
            self.notify(case)

    async def resend_current(self, now: datetime) -> int:
        """Queue again each feedback device's latest case's stage (see the module's doc);
        return how many cases were queued. Called when the hub (re)connects."""
        try:
            cases = await alarm_thread(
                current_feedback_cases,
                self._store.db,
                self._kinds,
                now - RESEND_RESOLVED_WITHIN,
            )
        except SQLAlchemyError as exc:
            self._counters["feedback_failed"] += 1
            logger.warning("feedback not sent again: cannot read the cases: %s", exc)
            return 0
        devices = {m.device_id for case in cases for m in case.members if m.kind in self._kinds}
        try:
            latest = await alarm_thread(latest_cases, self._store.db, devices, self._kinds)
        except SQLAlchemyError as exc:
            self._counters["feedback_failed"] += 1
            logger.warning("feedback not sent again: cannot read the latest cases: %s", exc)
            return 0
        sent = latest_case_of_each_device(cases, self._kinds, latest)
        for case, only in sent:
            self.notify(case, only)
        self._counters["feedback_resent"] += len(sent)
        return len(sent)

    async def run(self) -> None:
        """Publish queued feedback until cancelled."""
        while True:
            checkpoint()
            case, only = await self._queue.get()
            try:
                await self._publish(case, only)
            except Exception:
                # A bug must not end feedback for good, nor take ingest down with it.
                self._counters["feedback_failed"] += 1
                logger.exception("publishing feedback of case %s failed", case.id)

    async def _publish(self, queued: CaseView, only: frozenset[str] | None) -> None:
        try:
            # The stage as committed now, not as queued: another hub worker may have changed
            # the case since (resolved it while this acknowledgement waited in this queue),
            # and told the button so already; the queued stage would undo it.
            case = await alarm_thread(case_now, self._store.db, queued.id) or queued
            edges = await alarm_thread(self._store.fleet.device_edges, case.device_ids)
            latest = await alarm_thread(latest_cases, self._store.db, case.device_ids, self._kinds)
        except SQLAlchemyError as exc:
            self._counters["feedback_failed"] += 1
            logger.warning("no feedback for case %s: cannot look up its edge: %s", queued.id, exc)
            return
        # A button shows one request: its latest case's. A change of an older one is not sent.
        edges = {device: edge for device, edge in edges.items() if latest.get(device) == case.id}
        for delivery in feedback_deliveries(case, edges, self._kinds, only):
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
