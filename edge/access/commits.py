"""Group commit for the door access shell: steps decided one by one, stored together.

Decisions stay sequential on the event loop (each sees the door state the previous one left),
but their writes queue here and one trip to the database thread stores everything queued so
far: the log records and door states of every step that raised no alert in ONE access-store
transaction (one fsync), and each step that raised alerts as today, its records first, then
its state with its alerts in one outbox transaction. Transactions follow the order of the
decisions, so after a crash what is on disk is always a prefix of them.

Each step's caller waits for the commit that holds its write before it lets its frame be
acknowledged (a door contact's step also before its commands; a reader's decision commands the
reader first, see ``edge.access.control``). When frames arrive one at a time a group is one step
(one transaction); when several are in flight they share the fsync. If a commit fails, every
write not yet stored fails with it (those queued behind it were decided from its states) and
``on_failed`` rolls the states back.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from devices.access import AccessRecord
from devices.messages import Alert
from edge.access.door import DoorState
from edge.access.store import AccessStore, AccessStoreError
from edge.outbox import Outbox, OutboxError
from edge.sqlite_tx import DatabaseThread

STATE_PREFIX = "door:"
"""Key prefix of door states in the outbox's state table (``:`` is not allowed in ids)."""


@dataclass(frozen=True, slots=True)
class DoorWrite:
    """What one door step must store: its log records, the state before and after, its alerts."""

    door_id: str
    before: DoorState
    state: DoorState
    records: list[AccessRecord]
    alerts: list[Alert]


def store_writes(store: AccessStore, outbox: Outbox, writes: list[DoorWrite]) -> int:
    """Store the writes in decision order; return how many transactions it took.

    Runs on the database thread. Steps without alerts accumulate into one access-store
    transaction; a step with alerts closes it (its own records included) and commits its
    state and alerts to the outbox, so no state is stored ahead of an alert it follows.
    """
    transactions = 0
    records: list[AccessRecord] = []
    # Only a door's last state in a transaction is stored: serialised once, not per step.
    doors: dict[str, DoorState] = {}
    for write in writes:
        records += write.records
        if not write.alerts:
            doors[write.door_id] = write.state
            continue
        if records or doors:
            store.record(records, _as_json(doors))
            transactions += 1
        outbox.commit(STATE_PREFIX + write.door_id, write.state.model_dump_json(), write.alerts)
        transactions += 1
        records, doors = [], {}
    if records or doors:
        store.record(records, _as_json(doors))
        transactions += 1
    return transactions


def _as_json(doors: dict[str, DoorState]) -> list[tuple[str, str]]:
    return [(door_id, state.model_dump_json()) for door_id, state in doors.items()]


class GroupCommit:
    """Queues door writes and stores each batch of them in one trip to the database thread."""

    def __init__(
        self,
        db: DatabaseThread,
        store: AccessStore,
        outbox: Outbox,
        *,
        on_stored: Callable[[list[DoorWrite], int], None],
        on_failed: Callable[[list[DoorWrite]], None],
    ) -> None:
        self._db = db
        self._store = store
        self._outbox = outbox
        self._on_stored = on_stored
        self._on_failed = on_failed
        self._queue: list[DoorWrite] = []
        self._queued: asyncio.Future[None] | None = None
        """Completes once every write queued now is stored: one future per commit, shared by
        its writes (a burst's frames would otherwise cost a future and a callback each)."""
        self._committer: asyncio.Task[None] | None = None

    def add(self, write: DoorWrite) -> asyncio.Future[None]:
        """Queue a write; the future completes once it is on disk (or fails with the commit).

        Writes queued together share the future of their commit.
        """
        self._queue.append(write)
        if self._queued is None:
            self._queued = asyncio.get_running_loop().create_future()
        if self._committer is None:
            self._committer = asyncio.create_task(self._drain(), name="edge-access-commit")
        return self._queued

    async def _drain(self) -> None:
        group: list[DoorWrite] = []
        done: asyncio.Future[None] | None = None
        try:
            while self._queue:
                group, self._queue = self._queue, []
                done, self._queued = self._queued, None
                try:
                    transactions = await self._db.call(
                        store_writes, self._store, self._outbox, group
                    )
                except (AccessStoreError, OutboxError) as exc:
                    self._fail(group, done, exc)
                    group, done = [], None
                    continue
                self._on_stored(group, transactions)
                if done is not None and not done.done():
                    done.set_result(None)
                group, done = [], None
        except BaseException as exc:
            # A bug, or the agent stopping: nobody may wait forever on a commit that will not
            # come, and every caller hears why (a cancelled future would look like its own
            # cancellation).
            self._fail(group, done, exc)
            raise
        finally:
            self._committer = None

    def _fail(
        self, group: list[DoorWrite], done: asyncio.Future[None] | None, exc: BaseException
    ) -> None:
        """Fail the group and every write queued behind it (decided from its states)."""
        failed, self._queue = [*group, *self._queue], []
        queued, self._queued = self._queued, None
        self._on_failed(failed)
        for future in (done, queued):
            if future is not None and not future.done():
                future.set_exception(exc)
