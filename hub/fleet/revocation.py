"""Revoked edges: when the hub takes an edge's status again (pure, no I/O).

The hub takes any edge's status the broker delivers: the broker's ACL decides who is an edge
(an edge the hub never heard of is registered by its first status). But a status is retained,
and the broker hands the last one over at every (re)subscription, long after the edge that
sent it was revoked. ``linli broker revoke`` clears it (``linli.trust.sweep``); the empty
message that clears it reaches the hub (live, or queued in its persistent session) as
``StatusCleared``, and the hub then marks the edge offline and revoked (``edges.revoked_at``).

From then on the hub must not be talked back into it by a stale copy: a broker restored from
a persistence file older than the clearing, or a revocation the command could not clear at
once and the broker still holds. So a revoked edge's status is taken only if it is

- sent now, not handed over from the broker's store (a retained copy is what the edge said
  last, however long ago: an edge issued again says so live within one heartbeat);
- ``online`` (a live ``offline`` is a last will; the edge is offline already); and
- stamped after the revocation (or not stamped, as older edges' statuses are not): with
  several hub workers, one may hold a status sent before the revocation while another
  records the clearing.

Such a status lifts the revocation: the edge was issued again (``linli broker add-edge``).
"""

from datetime import datetime
from typing import Literal


def status_taken(
    revoked_at: datetime | None,
    *,
    retained: bool,
    state: Literal["online", "offline"],
    sent_at: datetime | None,
) -> bool:
    """Return whether the hub takes a status of an edge revoked at ``revoked_at`` (None: not
    revoked); taking it lifts the revocation."""
    if revoked_at is None:
        return True
    return not retained and state == "online" and (sent_at is None or sent_at > revoked_at)
