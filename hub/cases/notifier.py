"""The hub task that delivers case notices from the ``notifications`` queue (``hub.cases.notify``).

Webhooks get an HTTP POST of the notice's JSON, signed (``hub.cases.signing``; any 2xx is
delivered); MQTT notices are published at QoS 1 through the hub's broker connection. Nothing
here ever runs inside ingest, so a slow or dead gateway cannot hold alerts up.

Claimed notices (life-safety ones first) are delivered side by side, at most ``MAX_IN_FLIGHT``
at once and at most ``MAX_PER_GATEWAY`` of those to one gateway (``gateway_of``), each within
``DELIVERY_DEADLINE`` overall (httpx's timeout is per read: a gateway that trickles its answer
would hold a delivery for ever), which is well inside the claim's lease: so one slow or hanging
target holds up nothing else, and no other worker takes a notice this one is
still delivering. An outcome is recorded only while the lease is held.

A failure of any kind is recorded against its notice: tried again later with backoff (by this
worker or another), or given up at once when the target can never work (an invalid webhook
URL, ``webhook_target_problem``); a life-safety page still needed is tried on every minute
past ``MAX_ATTEMPTS`` (``hub.cases.notify.still_paging``), and its case's history says it is
failing. A round that fails (the database, or a bug) is logged and the loop goes on. Counters:
``notices_delivered``, ``notices_retried``, ``notices_failing`` (a page still tried after
``MAX_ATTEMPTS`` failures: counted once each), ``notices_failed`` (given up),
``notices_lease_lost``, ``notices_round_failed``.
"""

import asyncio
import functools
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import aiomqtt
import httpx
from sqlalchemy.exc import SQLAlchemyError

from hub.cases.notices import ClaimedNotice, Settled
from hub.cases.notify import (
    MAX_PER_GATEWAY,
    Channel,
    DeliveryFailure,
    gateway_of,
    webhook_target_problem,
)
from hub.cases.signing import signed_headers
from hub.persistence.threads import alarm_thread
from hub.persistence.transactions import Clock
from hub.store import HubStore

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0
"""httpx's connect/read/write timeout: each one, not the whole request."""
PUBLISH_TIMEOUT_SECONDS = 5.0
DELIVERY_DEADLINE = timedelta(seconds=10)
"""The most one delivery may take, all told."""
CLAIM_LEASE = timedelta(seconds=30)
"""Three delivery deadlines: a notice is settled long before another worker may take it."""
MAX_IN_FLIGHT = 16
CLAIM_BATCH = MAX_IN_FLIGHT

_COUNTED: dict[Settled, str] = {
    Settled.DELIVERED: "notices_delivered",
    Settled.RETRY: "notices_retried",
    Settled.FAILING: "notices_failing",
    Settled.GIVEN_UP: "notices_failed",
    Settled.LOST: "notices_lease_lost",
}


class Notifier:
    """Delivers due notices, round after round."""

    def __init__(
        self,
        store: HubStore,
        *,
        clock: Clock,
        http: httpx.AsyncClient,
        mqtt: Callable[[], aiomqtt.Client | None] = lambda: None,
        interval: float = 0.5,
        webhook_secret: bytes | None = None,
        deadline: timedelta = DELIVERY_DEADLINE,
        lease: timedelta = CLAIM_LEASE,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_per_gateway: int = MAX_PER_GATEWAY,
        counters: Counter[str] | None = None,
    ) -> None:
        if deadline * 2 > lease:
            raise ValueError("a delivery's deadline must be well inside the claim's lease")
        self._webhook_secret = webhook_secret
        """Signs every webhook (``hub.cases.signing``); the settings require it with URLs."""
        self._store = store
        self._clock = clock
        self._http = http
        self._mqtt = mqtt
        self._interval = interval
        self._deadline = deadline
        self._lease = lease
        self._max_in_flight = max_in_flight
        self._max_per_gateway = max_per_gateway
        self._in_flight: set[asyncio.Task[None]] = set()
        self._gateways_in_flight: Counter[str] = Counter()
        """Deliveries under way per gateway: the claim leaves a gateway at its share out."""
        self.counters: Counter[str] = Counter() if counters is None else counters
        """Shared with the ingest's in a hub process (``hub.cases.tasks``)."""

    async def deliver_due(self) -> int:
        """Deliver what is due now, side by side, and wait for it; return how many notices
        were attempted."""
        claimed = await self._claim(self._max_in_flight)
        await asyncio.gather(*(self._settle(notice) for notice in claimed))
        return len(claimed)

    async def run(self) -> None:
        """Deliver until cancelled: claim what is due whenever a slot is free (deliveries
        still going on do not wait for each other); wait ``interval`` when nothing was."""
        async with asyncio.TaskGroup() as deliveries:
            while True:
                started = 0
                try:
                    started = await self._start_due(deliveries)
                except Exception:
                    # A bug must not end notifications for good: every page would stop.
                    self.counters["notices_round_failed"] += 1
                    logger.exception("notice round failed, trying again")
                if started == 0:
                    await asyncio.sleep(self._interval)

    async def _start_due(self, deliveries: asyncio.TaskGroup) -> int:
        free = self._max_in_flight - len(self._in_flight)
        if free <= 0:
            return 0
        claimed = await self._claim(free, dict(self._gateways_in_flight))
        for notice in claimed:
            gateway = gateway_of(notice.channel, notice.target)
            self._gateways_in_flight[gateway] += 1
            task = deliveries.create_task(self._settle(notice), name=f"notice-{notice.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            task.add_done_callback(functools.partial(self._delivered_through, gateway))
        return len(claimed)

    def _delivered_through(self, gateway: str, _task: "asyncio.Task[None]") -> None:
        self._gateways_in_flight[gateway] -= 1
        if self._gateways_in_flight[gateway] <= 0:
            del self._gateways_in_flight[gateway]

    async def _claim(
        self, limit: int, in_flight: dict[str, int] | None = None
    ) -> list[ClaimedNotice]:
        def claim() -> list[ClaimedNotice]:
            # The clock is read when the claim runs, not when it is asked for: the thread pool
            # is the whole process's, and a claim that waited there for its turn would hold a
            # lease that runs out while it delivers, when another worker takes the notice too.
            return self._store.notices.claim_notifications(
                self._clock(),
                limit=limit,
                lease=self._lease,
                per_gateway=self._max_per_gateway,
                in_flight=in_flight,
            )

        try:
            return await alarm_thread(claim)
        except SQLAlchemyError as exc:
            self.counters["notices_round_failed"] += 1
            logger.warning("could not claim notices, trying again: %s", exc)
            return []

    async def _settle(self, notice: ClaimedNotice) -> None:
        """Deliver one notice and record the outcome; never raises (but on cancellation)."""
        failure = await self._attempt(notice)
        try:
            settled = await alarm_thread(
                self._store.notices.finish_notification, notice, self._clock(), failure
            )
        except SQLAlchemyError as exc:
            # The lease runs out and the notice is tried again: at least once, not lost.
            self.counters["notices_round_failed"] += 1
            logger.warning("could not record notice %s: %s", notice.id, exc)
            return
        except Exception:
            self.counters["notices_round_failed"] += 1
            logger.exception("could not record notice %s", notice.id)
            return
        self.counters[_COUNTED[settled]] += 1
        if settled in (Settled.RETRY, Settled.FAILING) and failure is not None:
            logger.warning(
                "notice %s to %s failed, will retry: %s", notice.id, notice.target, failure.error
            )

    async def _attempt(self, notice: ClaimedNotice) -> DeliveryFailure | None:
        """Try one delivery within the deadline; return None on success, else what failed."""
        try:
            async with asyncio.timeout(self._deadline.total_seconds()):
                return await self._deliver(notice)
        except TimeoutError:
            return DeliveryFailure(f"not done within {self._deadline.total_seconds():g} s")
        except Exception as exc:
            logger.exception("delivering notice %s to %s failed", notice.id, notice.target)
            return DeliveryFailure(f"{type(exc).__name__}: {exc}")

    async def _deliver(self, notice: ClaimedNotice) -> DeliveryFailure | None:
        """Try one delivery; return None on success, else what went wrong."""
        match notice.channel:
            case Channel.WEBHOOK:
                problem = webhook_target_problem(notice.target)
                if problem is not None:
                    return DeliveryFailure(problem, permanent=True)
                body = json.dumps(notice.payload, separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json"}
                if self._webhook_secret is not None:
                    sent_at = int(self._clock().timestamp())
                    headers |= signed_headers(self._webhook_secret, sent_at, body)
                try:
                    response = await self._http.post(
                        notice.target,
                        content=body,
                        headers=headers,
                        timeout=WEBHOOK_TIMEOUT_SECONDS,
                    )
                except httpx.InvalidURL as exc:
                    return DeliveryFailure(f"InvalidURL: {exc}", permanent=True)
                except httpx.HTTPError as exc:
                    return DeliveryFailure(f"{type(exc).__name__}: {exc}")
                if not response.is_success:
                    return DeliveryFailure(f"HTTP {response.status_code}")
                return None
            case Channel.MQTT:
                client = self._mqtt()
                if client is None:
                    return DeliveryFailure("not connected to the MQTT broker")
                try:
                    await client.publish(
                        notice.target,
                        json.dumps(notice.payload, separators=(",", ":"), ensure_ascii=False),
                        qos=1,
                        timeout=PUBLISH_TIMEOUT_SECONDS,
                    )
                except (aiomqtt.MqttError, TimeoutError) as exc:
                    return DeliveryFailure(f"{type(exc).__name__}: {exc}")
                return None
        raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total
