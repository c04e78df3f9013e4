"""The outbox's bound: what may be shed when the hub has been away too long, and nothing else.

The outbox keeps every alert until the hub acknowledges it, so during a hub outage of days it
grows with every transition of every device. Measured on a real file: about 450 bytes an
alert. A water sensor that flaps (wet, then dry for ``leak_dry_clear_s``, again and again)
costs at most ~600 alerts a day, harmless; a faulty device or a camera cue that raises and
clears all day, for a week, is not, and a full SD card costs the edge its durability for
every alarm (``edge.outbox``, (f)).

So past ``cap`` stored alerts the outbox sheds, oldest first, only alerts that are
**superseded**: a transition (raised or cleared) of a device's non-life-safety kind
(forwarding rank 2 or more: property, security, faults) after which that device and kind has
raised AND cleared again. What is shed is then history the hub would have closed anyway; the
hub still gets the device's last complete episode and every transition after it, so its
case and its view of the device end right. It sheds whole episodes (a raise never without
its clear), down to nine tenths of ``cap`` at a time: measured on x86, the commit that sheds
10,000 of 100,000 alerts takes 0.24 s (reading only the oldest alerts, and each device's
newest of a kind along ``alerts_by_device``), once per 10,000 alerts stored; a Pi is slower.

Never shed: a life-safety alert (SOS, smoke, CO, gas, heat, camera fire or smoke), an alert
whose condition has not raised and cleared since (the last episode, an unresolved leak), a
one-shot alert. When nothing can be shed the outbox goes on growing (a life-safety alarm is
never dropped to make room); the next try waits until it has grown by another tenth of
``cap``, so a full outbox of unsheddable alerts costs no scan at every commit.

Pure SQL on the outbox's connection, inside the caller's write transaction; the caller counts
(``outbox_shed``, in the edge status) and logs.
"""

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Literal

MAX_ALERTS = 100_000
"""The default ``cap``: about 45 MB of outbox on the card (450 bytes an alert, measured), 170
days of a flapping leak sensor, far above what a site's real alarms fill in a week's outage."""

SHED_TO = 0.9
"""Shed down to this share of ``cap``, so that a steady flood sheds in batches."""

LIFE_SAFETY_RANK = 1
"""The highest forwarding rank of a life-safety kind (``devices.kinds.forwarding_rank``: 0 SOS,
1 the other life-safety kinds): never shed."""

_OLDEST = """
SELECT seq, id, device_id, rank, json_extract(body, '$.kind'), json_extract(body, '$.state')
FROM {table} WHERE rank > {top} AND seq > ? ORDER BY seq LIMIT ?
"""
"""The oldest alerts that may be shed (not life-safety) after a seq: read in chunks, oldest
first, only as far as the shedding needs (not every alert's JSON at each try)."""
_NEWEST_OF = """
SELECT seq, json_extract(body, '$.state')
FROM {table} WHERE device_id = ? AND rank = ? AND json_extract(body, '$.kind') = ?
ORDER BY seq DESC
"""
"""A device's alerts of one kind, newest first (along the ``alerts_by_device`` index): read
until the kind's last complete episode is found."""
_SPAN = "SELECT MIN(seq), MAX(seq) FROM {table}"
_DEPTH = "SELECT COUNT(*) FROM {table}"
_DELETE = "DELETE FROM {table} WHERE seq = ?"
CHUNK = 2000

Table = Literal["main.alerts", "unsaved"]
"""The stored alerts, or those the disk refused, kept in memory (``edge.outbox``, (f)): each
is bounded on its own (``unsaved`` is RAM on a full card, the rule is the same)."""

Row = tuple[int, str, str, str, str]
"""A superseded alert: seq, id, device id, kind, state."""
NO_EPISODE = -1
"""The start of a device's last complete episode of a kind that has none: nothing before it."""


def superseded(db: sqlite3.Connection, table: Table) -> Iterator[tuple[Row, int]]:
    """The superseded alerts of ``table``, oldest first, each with the seq of its device and
    kind's last complete episode (its last raise that a clear followed): what comes before
    that is superseded, it and everything after it are kept."""
    keep_from: dict[tuple[str, str], int] = {}
    after = -1
    while True:
        chunk = db.execute(
            _OLDEST.format(table=table, top=LIFE_SAFETY_RANK), (after, CHUNK)
        ).fetchall()
        for seq, alert_id, device_id, rank, kind, state in chunk:
            start = keep_from.get((device_id, kind))
            if start is None:
                start = keep_from[(device_id, kind)] = _last_episode(
                    db, table, device_id, rank, kind
                )
            if seq < start:
                yield (seq, alert_id, device_id, kind, state), start
        if len(chunk) < CHUNK:
            return
        after = chunk[-1][0]


def _last_episode(
    db: sqlite3.Connection, table: Table, device_id: str, rank: int, kind: str
) -> int:
    """The seq of the device's last raise of ``kind`` that a clear followed, read newest
    first (``NO_EPISODE``, read to its oldest, if it has none)."""
    cleared = False
    for seq, state in db.execute(_NEWEST_OF.format(table=table), (device_id, rank, kind)):
        if state == "cleared":
            cleared = True
        elif cleared:
            return int(seq)
    return NO_EPISODE


def whole_episodes(rows: Iterable[tuple[Row, int]], room: int) -> list[Row]:
    """The first ``room`` of ``rows`` (oldest first), and past them the rest of each episode
    begun: a raise is never shed without the clear that ended it (the hub would be sent a
    clear for an alarm it never heard of)."""
    taken: list[Row] = []
    open_: dict[tuple[str, str], int] = {}
    for row, start in rows:
        key = (row[2], row[3])
        if len(taken) >= room and key not in open_:
            # An episode still open ends before its kind's last one begins.
            if not open_ or row[0] > max(open_.values()):
                break
            continue
        taken.append(row)
        if row[4] == "raised":
            open_[key] = start
        else:
            open_.pop(key, None)
    return taken


class Shedder:
    """Keeps one outbox within ``cap`` alerts by shedding superseded ones (see the module)."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"an outbox cap must be at least 1, not {cap}")
        self.cap = cap
        self._try_above = cap
        """The depth past which the next try is made (higher after a try that shed too few)."""
        self._counted: tuple[int, int] | None = None
        """The highest seq and the depth at the last count: the depth since is at most that
        depth plus the seqs given out since (deletes only lower it)."""

    def shed(self, db: sqlite3.Connection, table: Table = "main.alerts") -> int:
        """Shed superseded alerts of ``table`` if it is past its bound; return how many."""
        low, high = db.execute(_SPAN.format(table=table)).fetchone()
        # seq only grows: the span bounds the depth without counting (every commit asks).
        if high is None or high - low + 1 <= self.cap:
            self._try_above = self.cap
            return 0
        most = high - low + 1
        if self._counted is not None and table == "main.alerts":
            # One alert left unacknowledged long ago keeps the span wide while the rest come
            # and go: bounded by the last count instead, not counted again at every commit.
            # Only where seq is AUTOINCREMENT (never given out twice): ``unsaved`` reuses a
            # freed rowid, and may refill gaps below the seq last counted.
            most = min(most, self._counted[1] + high - self._counted[0])
        if most <= self._try_above:
            return 0
        (depth,) = db.execute(_DEPTH.format(table=table)).fetchone()
        self._counted = (high, depth)
        if depth <= self.cap:
            self._try_above = self.cap
            return 0
        if depth <= self._try_above:
            return 0
        room = depth - int(self.cap * SHED_TO)
        rows = whole_episodes(superseded(db, table), room)
        db.executemany(_DELETE.format(table=table), [(row[0],) for row in rows])
        # Off the wire too: the window holds no alert that is gone.
        db.executemany("DELETE FROM in_flight WHERE id = ?", [(row[1],) for row in rows])
        left = depth - len(rows)
        self._counted = (high, left)
        self._try_above = self.cap if left <= self.cap else left + max(1, self.cap // 10)
        return len(rows)
