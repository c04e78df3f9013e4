"""The send buffer of the telemetry sinks' batch worker (``hub.telemetry.writer``): a bounded
FIFO of numbered runs that drops its oldest items when full."""

import heapq
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


Run = tuple[int, list[T]]
"""Items offered one after another, with the number of the first: runs keep the per-item cost
of handing over and taking out off the ingest loop (one list per batch, sliced when needed)."""


class SendBuffer(Generic[T]):
    """A bounded FIFO that drops its oldest items when full; plain state, no I/O, no locking.

    Every item is numbered in the order it was offered, so batches taken by several writers
    and given back in any order return to their places: the head is always the oldest. Items
    are kept in runs of consecutive numbers (``Run``): a run lies wholly before or wholly after
    any batch taken out, so giving back merges whole runs.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a send buffer must hold at least one item")
        self.capacity = capacity
        self._runs: deque[Run[T]] = deque()
        self._len = 0
        self._next = 0

    def __len__(self) -> int:
        return self._len

    def offer(self, items: Iterable[T]) -> int:
        """Append items at the tail; return how many of the oldest were dropped to make room."""
        run = list(items)
        if run:
            self._runs.append((self._next, run))
            self._next += len(run)
            self._len += len(run)
        return self._trim()

    def take(self, count: int) -> list[T]:
        """Remove and return up to ``count`` items from the head."""
        return [item for _, run in self.take_runs(count) for item in run]

    def take_runs(self, count: int) -> list[Run[T]]:
        """Remove and return up to ``count`` items from the head, in numbered runs."""
        taken: list[Run[T]] = []
        runs = self._runs
        while count > 0 and runs:
            first, run = runs[0]
            if len(run) <= count:
                taken.append(runs.popleft())
            else:
                taken.append((first, run[:count]))
                runs[0] = (first + count, run[count:])
            count -= len(taken[-1][1])
            self._len -= len(taken[-1][1])
        return taken

    def give_back(self, items: list[T]) -> int:
        """Put a failed batch back at the head; return how many oldest items were dropped."""
        head = self._runs[0][0] if self._runs else self._next
        return self.give_back_runs([(head - len(items), list(items))] if items else [])

    def give_back_runs(self, batch: list[Run[T]]) -> int:
        """Put a failed batch back in its place by number; return how many were dropped."""
        if not batch:
            return 0
        self._len += sum(len(run) for _, run in batch)
        last = batch[-1][0]
        if not self._runs or last < self._runs[0][0]:
            self._runs.extendleft(reversed(batch))
        else:
            # Another writer's batch came back first: merge, so the head stays the oldest.
            younger: list[Run[T]] = []
            while self._runs and self._runs[0][0] < last:
                younger.append(self._runs.popleft())
            merged = heapq.merge(younger, batch, key=lambda numbered: numbered[0])
            self._runs.extendleft(reversed(list(merged)))
        return self._trim()

    def _trim(self) -> int:
        dropped = max(0, self._len - self.capacity)
        excess = dropped
        while excess:
            first, run = self._runs[0]
            if len(run) <= excess:
                self._runs.popleft()
                excess -= len(run)
            else:
                self._runs[0] = (first + excess, run[excess:])
                excess = 0
        self._len -= dropped
        return dropped
