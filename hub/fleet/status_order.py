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

A last will carries no time (``edge.uplink`` builds it once, before it connects): the broker
publishes it when the edge's connection dies, so every heartbeat of that connection was sent
before it, and any ``online`` received within ``LATE_WITHIN`` of a will is not taken. One the
edge sent after it (connected again within seconds, a network blip) is refused with them: the
edge shows offline until its next heartbeat (``heartbeat_s``, 30 s), a wrong ``offline`` that
corrects itself against a wrong ``online`` that never would (docs/scale.md).
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
    came late behind the ``offline`` status the hub holds (sent and received at ``held_…``;
    sent at None: a last will, or an edge older than statuses' times)."""
    if state != "online" or held_state != "offline":
        return False
    if received_at - held_received_at >= LATE_WITHIN:
        return False
    if held_sent_at is None:
        return True
    return sent_at is not None and sent_at < held_sent_at
