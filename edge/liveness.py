"""Whether the edge may still say it is online: its own loops, each seen to run.

The heartbeat (``edge.uplink``) tells the hub the edge is ``online`` every ``heartbeat_s``,
and systemd's watchdog (``edge.systemd_notify``) is told the process is well. Neither must
vouch for an edge whose device ingest or detection tick hangs (a deadlock, an SQLite call
stuck on a dying SD card, a task that died without taking the agent down): every alarm of
the site would go unheard while the hub saw a healthy edge. So each loop that must run
``beat()``s, when it does its work and at least every period while idle; a loop that has not
beaten within ``stuck_after_periods`` of its periods is stuck, and the edge stops vouching
for itself until it beats again. The hub then raises ``edge_offline`` (cause ``silent``)
after ``edge_silent_after_s``; systemd restarts the process after ``WatchdogSec``.

A part may rest: it is not watched while it has nothing to run (the ingest between two
connections to its broker, whose link retries with a backoff of its own).

``stuck_parts`` is the rule, a pure function of the beats and ``now``; ``Liveness`` keeps
the beats on the injected monotonic clock and logs and counts a part once when it is found
stuck, and once when it beats again.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]


@dataclass(slots=True)
class Beats:
    """One part's record: how often it beats, and when it last did (None: resting)."""

    name: str
    period_s: float
    last: float | None


@dataclass(frozen=True, slots=True)
class Stuck:
    """A part that has not beaten within its bound."""

    part: str
    silent_s: float
    bound_s: float


def stuck_parts(parts: Iterable[Beats], now: float, stuck_after_periods: float) -> list[Stuck]:
    """Return the watched parts that have not beaten within ``stuck_after_periods`` periods."""
    stuck = []
    for part in parts:
        if part.last is None:
            continue
        bound = stuck_after_periods * part.period_s
        silent = now - part.last
        if silent > bound:
            stuck.append(Stuck(part.name, silent, bound))
    return stuck


class Part:
    """The handle a loop beats through."""

    def __init__(self, beats: Beats, monotonic: Callable[[], float]) -> None:
        self._beats = beats
        self._monotonic = monotonic

    @property
    def period_s(self) -> float:
        """How often the loop beats at least, idle."""
        return self._beats.period_s

    def beat(self) -> None:
        """Record that the loop ran now (and watch it from now on, if it rested)."""
        self._beats.last = self._monotonic()

    def rest(self) -> None:
        """Stop watching the loop until its next beat: it has nothing to run."""
        self._beats.last = None


class Liveness:
    """The parts of the edge that must run, and whether each ran lately."""

    def __init__(
        self,
        monotonic: Callable[[], float],
        *,
        stuck_after_periods: float,
        count: CountFn,
    ) -> None:
        self._monotonic = monotonic
        self._stuck_after_periods = stuck_after_periods
        self._count = count
        self._parts: list[Beats] = []
        self._stuck: frozenset[str] = frozenset()
        """The parts found stuck at the last look, logged already."""

    def part(self, name: str, period_s: float, *, resting: bool = False) -> Part:
        """Watch a new part beating every ``period_s`` (from now, unless ``resting``)."""
        beats = Beats(name, period_s, None if resting else self._monotonic())
        self._parts.append(beats)
        return Part(beats, self._monotonic)

    def stuck(self) -> list[Stuck]:
        """Return the parts stuck now."""
        return stuck_parts(self._parts, self._monotonic(), self._stuck_after_periods)

    def vouch(self) -> bool:
        """Return whether every part runs; log and count (``stuck.<part>``) a part found
        stuck once, not at every look, and say when it runs again."""
        stuck = self.stuck()
        names = frozenset(s.part for s in stuck)
        for found in stuck:
            if found.part not in self._stuck:
                self._count(f"stuck.{found.part}", 1)
                logger.error(
                    "the edge's %s has not run for %.1f s (bound %.1f s): it is stuck; the "
                    "edge stops saying it is online until it runs again",
                    found.part,
                    found.silent_s,
                    found.bound_s,
                )
        for name in sorted(self._stuck - names):
            logger.warning("the edge's %s runs again", name)
        self._stuck = names
        return not stuck
