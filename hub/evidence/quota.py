"""How much room an edge's pictures may take on the hub: the rule, on plain values.

Every edge has a quota of picture bytes held on the hub (``evidence_edge_quota_bytes``):
the sizes of the pictures it sent that the hub still keeps, one count per picture (the same
bytes named by two pictures count twice, although they are kept once: each row is the
edge's to keep, and an edge re-naming one picture's bytes under endless new ids must not
grow the hub's tables for free). A picture that would take the edge past its quota is
refused (``over_quota``); room comes back as retention deletes the edge's old pictures.
The usage is summed from the database before each new picture (from the index
``evidence (edge_id, size)``: about 2 ms for an edge at a full 10 GiB among a million
pictures), so it is right after a restart and for several hub workers alike. Workers storing
one edge's pictures at the same moment may each pass the check: the quota is then passed by
at most a picture per worker.

A cap on bytes held, not a rate: a rate of bytes per hour still fills any disk given enough
hours, while a cap bounds what one stolen edge can take, whatever it does; and a rate would
refuse a real burst (a fire seen by every camera of a site) just when its pictures matter.

Pictures of life-safety alerts (fire, smoke, SOS, ``devices.kinds.LIFE_SAFETY``, as the
picture names its kind) may use a reserve above the quota
(``evidence_life_safety_reserve_bytes``), so that an edge whose cameras filled its quota
with people walking by still delivers the picture of a fire. The kind is the edge's word: a
stolen edge can spend the reserve too, but never more than quota and reserve together.

Whatever the quotas, no picture is taken that would leave less than
``evidence_min_free_disk_bytes`` free on the evidence folder's disk (``disk_low``), not even
a fire's: the database, where the alerts themselves are, usually shares that disk, and an
alert outranks any picture of it.

A refused picture is final: the reader acknowledges it (the edge would otherwise send it
again every few seconds, for ever) and counts and logs it with its edge. The alert itself
travels on its own topic and connection and is never affected.
"""

from dataclasses import dataclass
from enum import StrEnum

from devices.kinds import LIFE_SAFETY, AlertKind


class QuotaReason(StrEnum):
    """Why a picture was refused room (its counter is ``evidence_rejected.<reason>``)."""

    OVER_QUOTA = "over_quota"
    DISK_LOW = "disk_low"


@dataclass(frozen=True, slots=True)
class PictureQuota:
    """The room pictures may take: per edge, the life-safety reserve, the disk kept free."""

    edge_bytes: int
    life_safety_reserve_bytes: int
    min_free_disk_bytes: int


@dataclass(frozen=True, slots=True)
class QuotaRefusal:
    """A picture the hub has no room for, and why."""

    reason: QuotaReason
    detail: str


def admit_picture(
    *, held: int, size: int, free_disk: int, kind: AlertKind, quota: PictureQuota
) -> QuotaRefusal | None:
    """Return why a picture of ``size`` bytes finds no room, or None if it may be stored.

    ``held`` is what its edge's pictures take already, ``free_disk`` the free bytes on the
    evidence folder's disk, ``kind`` the kind of the alert the picture is of.
    """
    if free_disk - size < quota.min_free_disk_bytes:
        return QuotaRefusal(
            QuotaReason.DISK_LOW,
            f"{free_disk} bytes free, {size} more would pass the floor of "
            f"{quota.min_free_disk_bytes}",
        )
    life_safety = kind in LIFE_SAFETY
    limit = quota.edge_bytes + (quota.life_safety_reserve_bytes if life_safety else 0)
    if held + size > limit:
        which = "quota and life-safety reserve" if life_safety else "quota"
        return QuotaRefusal(
            QuotaReason.OVER_QUOTA,
            f"the edge holds {held} bytes, {size} more would pass its {which} of {limit}",
        )
    return None
