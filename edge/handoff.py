"""Alerts sent by the commit that stores them, while the uplink's forwarder waits for work.

Without it, an alert alone (one device message, nothing else on the wire) crosses the event
loop twice after its commit: the ingest wakes the forwarder, which is scheduled once the
ingest has acknowledged its messages, and then asks the outbox's thread again for what is due
(``Outbox.take_due``). With it, the forwarder, each time it has taken everything due and waits,
*offers* a ``Taking``; the ingest's commit (``edge.device_detection.DetectionGroup.commit``)
then takes what is due in the same outbox call that stored it, and sends it at once.

Order on the wire stays the outbox's. The outbox's thread runs its calls one at a time, in the
order they are made, and the event loop resumes their callers in that order: a forwarder that
woke in the meantime (a resend tick, an ack) takes after this commit's take, and sends after
it. A taking whose connection is gone by the time it sends returns False; the caller then
releases what it took (``Outbox.release``) and wakes the forwarder, so nothing waits for
``resend_after_s``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.outbox import OutgoingAlert


@dataclass(frozen=True, slots=True)
class Taking:
    """The forwarder's terms for a take made by a commit: its clock, its window, its sender."""

    monotonic: Callable[[], float]
    """The uplink's clock, read at the take (what ``Outbox.take_due`` marks them sent at)."""
    limit: int
    """The window, as the forwarder's own take has it (``max_in_flight``)."""
    send: Callable[[Sequence[OutgoingAlert]], bool]
    """Publish what was taken now, without awaiting; False if the connection is gone."""


class HandOff:
    """Holds the waiting forwarder's ``Taking``, if it offers one."""

    def __init__(self) -> None:
        self._taking: Taking | None = None

    def offer(self, taking: Taking) -> None:
        """The forwarder has taken everything due and waits: commits may take and send."""
        self._taking = taking

    def withdraw(self) -> None:
        """The forwarder takes again itself (woken, or its connection ended)."""
        self._taking = None

    def taking(self) -> Taking | None:
        """Return the offered terms, or None if the forwarder is not waiting."""
        return self._taking
