"""Which edge serves a device: the pure decisions behind registrations and device listings."""

from collections.abc import Collection

from hub.errors import InvalidInputError


class EdgeChoiceError(InvalidInputError):
    """A registration without ``edge_id`` that the hub cannot place on one edge."""

    def __init__(self, message: str, edges: list[str]) -> None:
        super().__init__(message)
        self.edges = edges


def assign_edge(
    requested: str | None, current: str | None, edges: Collection[str], *, given: bool
) -> str | None:
    """Return the edge a registration goes to, or raise ``EdgeChoiceError``.

    An ``edge_id`` given wins, ``null`` included: a device on purpose without an edge (the
    "one touch" of a resident's phone page). Without one, a registered device keeps its edge;
    a new one goes to the only edge there is; with several it is refused, naming them,
    because a device on the wrong edge is never heard. With no edge known yet it stays
    unassigned (flagged in listings) until it is registered again.
    """
    if given or requested is not None:
        return requested
    if current is not None:
        return current
    if len(edges) == 1:
        return next(iter(edges))
    if not edges:
        return None
    names = sorted(edges)
    raise EdgeChoiceError(
        f"edge_id is required: this hub has {len(names)} edges ({', '.join(names)}); "
        "say which one serves the device",
        names,
    )


def unserved_reason(edge_id: str | None, edges: Collection[str]) -> str | None:
    """Return why no edge serves a device, or None if one does."""
    if edge_id is None:
        return "no edge assigned: register it again with edge_id"
    if edge_id not in edges:
        return f"edge {edge_id} has never reported to this hub"
    return None
