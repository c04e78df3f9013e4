"""Which edge speaks for a device, and what happens when two do (pure rules, no I/O).

A device is registered to one edge in one of two ways:

* by an **operator** (``POST /api/v1/devices``): the operator vouches for it;
* by an edge's **inventory** (the devices its status lists), trusted on first use: the first
  edge to list a device nobody holds gets it. Nothing proves that edge is the right one: a
  stolen edge's credentials can list a detector another site has not reported yet (a site
  being set up, a replaced detector; ids follow guessable schemes).

An edge that speaks for a device registered to another edge (lists it, or raises an alert
about it) makes a **claim**. A claim never moves the device: only an operator does. What
happens to the claiming edge's alert depends on who vouched for the registration:

* an operator's registration stands: the alert is refused (not stored under the device);
* an inventory's registration is no better than the claim: the device is **contested** and
  the alert is taken, a case like any other. Refusing it would let whoever listed the device
  first silence every alarm of the real one, which is how a stolen edge could silence another
  site's fire.

Either way the claim is never silent: the hub opens one ``device_claim_conflict`` case per
device (``hub.fleet.conflicts``) and adds a line to it for each new claiming edge and for each
life-safety alert it refused or took. An operator settles it by registering the device.
"""

from dataclasses import dataclass
from enum import StrEnum

from devices.kinds import LIFE_SAFETY, AlertKind, Severity
from devices.messages import Alert


class Provenance(StrEnum):
    """Who registered a device to its edge (``devices.registered_by``)."""

    OPERATOR = "operator"
    INVENTORY = "inventory"
    ALERT = "alert"
    """Registered by the hub from an edge's alert about a device no inventory or operator had
    registered (a lost status, a hub restored from an older backup): ``hub.fleet.rules``,
    ``adopted_device``. Not sent to edges; the next inventory listing it replaces it."""


@dataclass(frozen=True, slots=True)
class Registration:
    """Where a device is registered now, and whether an operator vouched for it."""

    edge_id: str | None
    vouched: bool = False
    claimants: frozenset[str] = frozenset()
    """The other edges with a claim on it recorded (a conflict case open or settled by no
    operator yet); only read where needed (telemetry)."""

    @staticmethod
    def of(
        edge_id: str | None, registered_by: str | None, claimants: frozenset[str] = frozenset()
    ) -> "Registration":
        """Read a registration row's values (NULL provenance, from before it was recorded, is
        read as an inventory's: the weaker, so that a conflict is taken, not refused)."""
        return Registration(edge_id, registered_by == Provenance.OPERATOR, claimants)

    def contested_by(self, edge_id: str) -> bool:
        """Whether ``edge_id`` speaks for the device as another edge's equal: it claimed it,
        and no operator vouched for the registration."""
        return not self.vouched and edge_id in self.claimants


@dataclass(frozen=True, slots=True)
class Claim:
    """An edge speaking for a device registered to another edge."""

    device_id: str
    edge_id: str
    """The claiming edge."""
    owner: str
    """The edge the device is registered to."""
    location: str | None = None
    """Where the claiming edge's inventory says the device is (None: an alert's claim)."""
    alert: Alert | None = None
    """The alert the claiming edge raised about the device, if the claim is an alert."""
    refused: bool = False
    """Whether that alert was refused (an operator vouched for the registration)."""


def conflict_key(device_id: str) -> str:
    """The open key of a device's conflict case: one at a time per device."""
    return f"{AlertKind.DEVICE_CLAIM_CONFLICT.value}|{device_id}"


def conflict_priority(claim: Claim) -> Severity:
    """How urgent the conflict case a claim opens or joins is.

    Critical when a life-safety alert was refused: that alarm is on no other case, and this
    one is where an operator finds it. High otherwise: someone speaks for a device that is not
    theirs, a stolen edge or a misconfigured site."""
    if claim.refused and claim.alert is not None and claim.alert.kind in LIFE_SAFETY:
        return Severity.CRITICAL
    return Severity.HIGH


def worth_a_line(claim: Claim, *, new: bool) -> bool:
    """Whether a claim adds a line to its conflict case: a new claiming edge, and every
    life-safety alert it raised; an inventory repeated at each heartbeat, or a fault, only
    counts (``device_claims.alerts``, ``last_at``)."""
    return new or (claim.alert is not None and claim.alert.kind in LIFE_SAFETY)


def claim_note(claim: Claim) -> str:
    """The line a claim writes in its conflict case, for the operator."""
    if claim.alert is None:
        said = f"lists it in its inventory at {claim.location!r}"
    else:
        outcome = "refused: an operator registered it" if claim.refused else "taken: contested"
        said = (
            f"raised a {claim.alert.kind.value} alert ({claim.alert.state.value}, "
            f"{claim.alert.severity.value}) about it, {outcome}; alert {claim.alert.id}"
        )
    return (
        f"edge {claim.edge_id} speaks for device {claim.device_id}, registered to edge "
        f"{claim.owner}: {said}. Register the device to its real edge to settle this."
    )
