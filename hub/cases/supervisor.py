"""The hub task that drives supervision: fires passed deadlines and publishes what changed.

The decisions are ``hub.cases.supervision``'s and the firing (once, across hub workers) is the
repository's (``DeadlineRepository.fire_due_timers``); this loop only asks at the injected clock's
``now``, every ``interval`` seconds, and reports escalated or reassigned cases on the event
bus. A database error is logged and counted; the next round tries again.
"""

import asyncio
import logging
from collections import Counter

from sqlalchemy.exc import SQLAlchemyError

from hub.cases.changes import CaseChanges
from hub.persistence.threads import alarm_thread
from hub.persistence.transactions import Clock
from hub.store import HubStore

logger = logging.getLogger(__name__)


class Supervisor:
    """Fires due case deadlines, round after round."""

    def __init__(
        self, store: HubStore, changes: CaseChanges, *, clock: Clock, interval: float = 1.0
    ) -> None:
        self._store = store
        self._changes = changes
        self._clock = clock
        self._interval = interval
        self.counters: Counter[str] = Counter()
        """``rounds``, ``cases_changed`` and ``failed`` rounds."""

    async def tick(self) -> int:
        """Fire what is due now; return how many cases changed."""
        try:
            changed = await alarm_thread(self._store.deadlines.fire_due_timers, self._clock())
        except SQLAlchemyError as exc:
            self.counters["failed"] += 1
            logger.warning("supervision round failed, trying again: %s", exc)
            return 0
        self.counters["rounds"] += 1
        self.counters["cases_changed"] += len(changed)
        for case in changed:
            logger.info(
                "case %s: deadline passed, now %s at escalation level %s (assignee %s)",
                case.id,
                case.status,
                case.escalation_level,
                case.assignee,
            )
            # Escalation and reassignment happen in the back office: the button stays as it is.
            self._changes.case_changed(case, resident_sees=False)
        return len(changed)

    async def run(self) -> None:
        """Supervise until cancelled."""
        while True:
            await self.tick()
            await asyncio.sleep(self._interval)
