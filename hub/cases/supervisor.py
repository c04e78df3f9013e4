"""The hub task that drives supervision: fires passed deadlines and publishes what changed.

The decisions are ``hub.cases.supervision``'s and the firing (once, across hub workers) is the
repository's (``DeadlineRepository.fire_due_timers``); this loop only asks at the injected clock's
``now``, every ``interval`` seconds, and reports escalated or reassigned cases on the event
bus, and the cases whose history the notifier said a notice of failed. A database error is
logged and counted; the next round tries again.

Every ``edge_check_every`` (a round's, at most) the supervisor also raises the outage of an edge
lost with no status to say so (silent for longer than its own rhythm allows, ``edge_rhythm``, or
``edge_silent_after`` for an edge that does not say its heartbeat; or offline past
``edge_offline_grace``: ``hub.fleet.outages``), counted from its last status or from when
this worker's ingest connected, if later (while it is not connected, it blames no edge). Every
worker's round may decide it, and the alert's id, made from the outage, is stored once
(``hub.cases.copies``).

Every round also reports the alarms still raised that silences over by now hid
(``hub.silences.restore``: restore required), once across workers.
"""

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from hub.cases.changes import CaseChanges
from hub.fleet.outages import EdgeOutages
from hub.fleet.supervision import EdgeRhythm
from hub.persistence.threads import alarm_thread
from hub.persistence.transactions import Clock
from hub.silences.restore import SilenceRestores
from hub.store import HubStore

logger = logging.getLogger(__name__)

EDGE_CHECK_EVERY = timedelta(seconds=5)
"""How often a round looks for lost edges. Each look reads every edge and its open outage; done
every round (each second, on every worker) it cost a paced alert about 0.6 ms at p50
(``bench.alerts_to_cases``, 2026-12-07); 5 s more on a reporting time of 60-150 s."""


class Supervisor:
    """Fires due case deadlines, round after round."""

    def __init__(
        self,
        store: HubStore,
        changes: CaseChanges,
        *,
        clock: Clock,
        interval: float = 1.0,
        edge_silent_after: timedelta = timedelta(seconds=120),
        edge_rhythm: EdgeRhythm | None = None,
        edge_offline_grace: timedelta = timedelta(0),
        edge_check_every: timedelta = EDGE_CHECK_EVERY,
        listening: Callable[[], bool] | None = None,
        edge_counters: Counter[str] | None = None,
    ) -> None:
        self._store = store
        self._changes = changes
        self._clock = clock
        self._interval = interval
        self._edge_rhythm = EdgeRhythm(edge_silent_after) if edge_rhythm is None else edge_rhythm
        """How long each edge may stay silent: by the heartbeat it says, else
        ``edge_silent_after`` (an ``edge_rhythm`` given brings its own default)."""
        self._edge_offline_grace = edge_offline_grace
        self._edge_check_every = edge_check_every
        self._edges_checked_at: datetime | None = None
        self._listening = listening
        """Whether the hub's ingest is connected now; None: no ingest to ask (tests)."""
        self._listening_since: datetime | None = None
        self.counters: Counter[str] = Counter()
        """``rounds``, ``cases_changed`` and ``failed`` rounds."""
        self.edge_counters: Counter[str] = self.counters if edge_counters is None else edge_counters
        """``edge_heartbeat_capped``: edges found saying a heartbeat past
        ``edge_heartbeat_max_s`` (once each); the hub's health counters in a hub."""
        self._outages = EdgeOutages(store.db, store.intake, store.policy, self.edge_counters)
        self._restores = SilenceRestores(store.db, store.intake, store.policy)
        self._notice_lines_after: int | None = None
        """The last history line this supervisor looked at for failing notices (None: none
        yet; the first round starts from the newest)."""

    async def tick(self) -> int:
        """Fire what is due now and raise the outages of silent edges; return how many cases
        changed."""
        now = self._clock()
        try:
            changed = await alarm_thread(self._store.deadlines.fire_due_timers, now)
        except SQLAlchemyError as exc:
            self.counters["failed"] += 1
            logger.warning("supervision round failed, trying again: %s", exc)
            await self._check_edges(now)
            return 0
        await self._check_edges(now)
        await self._restore_silences(now)
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
        await self._report_notice_lines()
        return len(changed)

    async def _report_notice_lines(self) -> None:
        """Put the cases whose history the notifier said a notice of is failing, given up or
        out at last (``hub.cases.notices``) on the live stream: the notifier has no event
        bus, and the console should show it now, so that the operator phones instead."""
        try:
            mark, cases = await alarm_thread(
                self._store.notices.notice_lines_after, self._notice_lines_after
            )
            views = [await alarm_thread(self._store.cases.get_case, c) for c in cases]
        except SQLAlchemyError as exc:
            self.counters["failed"] += 1
            logger.warning("notice lines round failed, trying again: %s", exc)
            return
        except Exception:
            # Never at the cost of the case deadlines' rounds.
            self.counters["failed"] += 1
            logger.exception("notice lines round failed, trying again")
            return
        self._notice_lines_after = mark
        for view in views:
            self._changes.case_changed(view, resident_sees=False)

    async def _check_edges(self, now: datetime) -> None:
        """Raise the outages of edges silent while this hub was listening."""
        if self._listening is not None:
            if not self._listening():
                self._listening_since = None
                return
            if self._listening_since is None:
                self._listening_since = now
        checked = self._edges_checked_at
        if checked is not None and now - checked < self._edge_check_every:
            return
        self._edges_checked_at = now
        try:
            outages = await alarm_thread(
                functools.partial(
                    self._outages.check_silent,
                    now,
                    self._edge_rhythm,
                    self._listening_since,
                    self._edge_offline_grace,
                )
            )
        except SQLAlchemyError as exc:
            self.counters["failed"] += 1
            logger.warning("edge supervision round failed, trying again: %s", exc)
            return
        except Exception:
            # Never at the cost of the case deadlines' rounds (a restart waits up to 60 s).
            self.counters["failed"] += 1
            logger.exception("edge supervision round failed, trying again")
            return
        self._changes.alerts_stored(outages)

    async def _restore_silences(self, now: datetime) -> None:
        """Report the alarms still raised that silences over by now hid
        (``hub.silences.restore``)."""
        try:
            restored = await alarm_thread(self._restores.restore_ended, now)
        except SQLAlchemyError as exc:
            self.counters["failed"] += 1
            logger.warning("silence restore round failed, trying again: %s", exc)
            return
        except Exception:
            # Never at the cost of the case deadlines' rounds.
            self.counters["failed"] += 1
            logger.exception("silence restore round failed, trying again")
            return
        self._changes.alerts_stored(restored)

    async def run(self) -> None:
        """Supervise until cancelled."""
        while True:
            await self.tick()
            await asyncio.sleep(self._interval)
