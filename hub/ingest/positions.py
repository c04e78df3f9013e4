"""The positions lane: responders' phones' OwnTracks messages (MQTT mode) off the alert path.

The ingest loop hands each message over unread (``RawPosition``: its topic checked, naming
the responder, its size bounded) and never waits (``offer``). This lane's own task reads it
(``hub.ingest.messages.parse_position``, as ``POST /api/v1/owntracks`` reads its body), with
the event loop yielded before each, and records a location exactly as that route does
(``PositionRepository.report``: an older fix does not move the responder back, the responder
is put on site at their cases, and those go out on the live stream), one transaction per
location, started only while the ingest loop holds no alerts (``AlertGate``): on SQLite's
one writer an alert's commit waits behind at most the one position being written.

The responder is the topic's user level, ``owntracks/phone-<responder_id>/<device>``: the broker
lets that responder's phone alone publish there (``linli broker add-phone``,
docs/security.md); the hub checks they are on its roster (else ``rejected.unknown_responder``).
Any other OwnTracks message (the ``lwt`` the broker publishes for a phone gone away, a
``transition``, a ``card``, an empty retained one) is counted as ``positions_ignored`` and
logged at debug; a bad one is counted under ``rejected.<reason>`` (``malformed``,
``oversized``, ``fix_ahead``) and logged with its topic. The lane goes on in every case.

The queue is bounded: under overload a message that does not fit is dropped, counted under
``positions_dropped`` and logged (a phone reports again within its interval anyway).
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from hub.cases.changes import CaseChanges
from hub.errors import NotFoundError
from hub.ingest.messages import PhoneLocation, RawPosition, RejectedMessage, parse_position
from hub.ingest.readings import AlertGate, offer_or_drop
from hub.persistence.transactions import Clock
from hub.store import HubStore

logger = logging.getLogger(__name__)

POSITIONS_QUEUE_MAX = 1000
"""Phones' messages waiting for the lane: 500 phones' 30 s fixes for a minute."""


class PositionsLane:
    """A bounded queue of phones' messages and the task that records their locations."""

    def __init__(
        self,
        store: HubStore,
        counters: Counter[str],
        gate: AlertGate,
        changes: CaseChanges,
        *,
        clock: Clock,
        reject: Callable[[RejectedMessage], None],
        max_queued: int = POSITIONS_QUEUE_MAX,
    ) -> None:
        self._store = store
        self._counters = counters
        self._gate = gate
        self._changes = changes
        self._clock = clock
        self._reject = reject
        self._queue: asyncio.Queue[RawPosition] = asyncio.Queue(max_queued)

    def offer(self, message: RawPosition) -> None:
        """Queue a phone's message for the lane, or drop (count and log) it if the queue is
        full."""

        def warn(dropped: int) -> None:
            logger.warning(
                "positions lane full (%d messages): dropped a message on %s; %d dropped so far",
                self._queue.maxsize,
                message.topic,
                dropped,
            )

        offer_or_drop(self._queue, message, self._counters, "positions", warn)

    def queued(self) -> int:
        """Return how many messages wait for the lane."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Record queued phones' locations until cancelled, yielding to alerts."""
        while True:
            message = await self._queue.get()
            await asyncio.sleep(0)  # a flood of phones' messages must not hold the loop
            await self._gate.wait_open()
            match parse_position(message, self._clock()):
                case None:
                    self._counters["positions_ignored"] += 1
                    logger.debug("ignored a non-location OwnTracks message on %s", message.topic)
                case RejectedMessage() as rejected:
                    self._reject(rejected)
                case PhoneLocation() as location:
                    await self._record(location)

    async def _record(self, phone: PhoneLocation) -> None:
        await self._gate.wait_open()
        try:
            arrived = await asyncio.to_thread(
                self._store.positions.report, phone.responder_id, phone.location.position()
            )
        except NotFoundError:
            self._reject(
                RejectedMessage(
                    phone.topic,
                    "unknown_responder",
                    f"responder {phone.responder_id} is not on the roster",
                )
            )
            return
        except SQLAlchemyError as exc:
            # A phone reports again within its interval: nothing to retry.
            self._counters["positions_failed"] += 1
            logger.warning("could not record the position on %s: %s", phone.topic, exc)
            return
        self._counters["positions_recorded"] += 1
        self._changes.cases_changed(arrived, resident_sees=False)
