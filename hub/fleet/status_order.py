"""Whether an edge's ``online`` status came late, behind the ``offline`` it sent after it.

Several hub workers share the edges' statuses round-robin (Mosquitto's shared subscription), so
a heartbeat sent just before the edge stopped can be stored after the ``offline`` it published
as it stopped, by another worker. Taken, it would leave the edge ``online`` for good — nothing
the stopped edge sends corrects it — and nobody would learn that its building's sensors are no
longer watched.

A status sent before the ``offline`` the hub holds, and received within ``LATE_WITHIN`` of it,
is such a late one and is not taken. The window keeps an edge that starts again with its clock
behind (a Raspberry Pi's clock before NTP has set it) from being held offline: starting again
takes longer than the window, and after it an ``online`` status is taken whatever its time.
A last will carries the time its edge connected, older than its heartbeats, so a heartbeat
late behind a will cannot be told from one sent after it, and is taken (docs/scale.md).
"""

from datetime import datetime, timedelta
from typing import Literal

LATE_WITHIN = timedelta(seconds=10)
"""How long after an edge's ``offline`` a status sent before it can still be a late one."""


def late_behind_offline(
    *,
    state: Literal["online", "offline"],
    sent_at: datetime | None,
    held_state: str,
    held_sent_at: datetime | None,
    held_received_at: datetime,
    received_at: datetime,
) -> bool:
    """Return whether an ``online`` status (sent at ``sent_at``, received at ``received_at``)
    came late behind the ``offline`` status the hub holds (sent and received at ``held_…``)."""
    if state != "online" or held_state != "offline":
        return False
    if sent_at is None or held_sent_at is None:
        return False
    return sent_at < held_sent_at and received_at - held_received_at < LATE_WITHIN
