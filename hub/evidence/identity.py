"""Does a picture speak only for its own edge's camera? The rule, on plain values.

The reader already binds a picture to the edge whose topic it came on (``edge_mismatch``) and
the repository to an alert of that edge (``alert_of_other_edge``). The camera a picture names
is checked as an alert's device is (``hub.ingest.identity.screen_alerts``): a camera an
operator registered to another edge is not this edge's to speak for (``foreign_device``), nor
is a household page's button (``hub_device``). Without this a stolen edge placed its pictures
on another site's camera (a picture whose alert has not come is placed by its own camera),
where that site's operators read them as their own camera's. A camera registered to another
edge only by an inventory is contested, not refused, as its alerts are: the picture of an alert
the hub takes is taken too.
"""

from hub.fleet.claims import Registration
from hub.ingest.identity import IdentityReason
from hub.residents.rules import is_web_device


def picture_claim(
    edge_id: str, device_id: str, registration: Registration | None
) -> IdentityReason | None:
    """Return why ``edge_id`` may not send a picture of ``device_id``, or None if it may."""
    if is_web_device(device_id):
        return IdentityReason.HUB_DEVICE
    if registration is None or registration.edge_id in (None, edge_id):
        return None
    return IdentityReason.FOREIGN_DEVICE if registration.vouched else None
