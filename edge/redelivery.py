"""Device messages delivered again after their group committed: acknowledged, not re-decided.

The ingest commits a group of device messages in one outbox transaction and acknowledges them
to the local broker after it (``edge.ingest``). A kill, or a lost connection, between the two
leaves committed messages unacknowledged, and the broker delivers them again with the same
packet id (MQTT 3.1.1 §4.4). Decided a second time against the state the WHOLE group left, a
reading could be a transition it never was — gas alarm, clear, alarm replayed after the last
clear is a second alarm with a new id (found by the TLS kill test). One message at a time this
could not happen: its replay met the state it had itself left.

So each group's transaction also stores the group's receipts — packet id, topic and payload
digest of its QoS ≥ 1 messages (QoS 0 is never delivered again) — and after each
(re)connection the ingest compares the QoS ≥ 1 messages that come first with the receipts of
the last groups: a match is acknowledged and skipped; the first mismatch ends the comparison,
because the broker sends its unacknowledged messages again before anything new. A brand-new
message is taken for a redelivery only if it has the packet id of one of the last groups'
messages and the same topic and bytes, which needs the broker to have lost its session state
(packet ids restart at 1) between the two.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Receipt:
    """What identifies one delivered device message across a redelivery."""

    mid: int
    topic: str
    digest: str

    @classmethod
    def of(cls, qos: int, mid: int, topic: str, payload: bytes) -> "Receipt | None":
        """Return the message's receipt, or None for QoS 0 (never delivered again)."""
        if qos == 0:
            return None
        return cls(mid, topic, hashlib.blake2b(payload, digest_size=16).hexdigest())


class Redeliveries:
    """The receipts a fresh connection may see again, until the first message that is new."""

    def __init__(self) -> None:
        self._expected: set[Receipt] = set()

    def arm(self, receipts: Iterable[Receipt]) -> None:
        """Expect these receipts first on a new connection."""
        self._expected = set(receipts)

    def redelivered(self, receipt: Receipt | None) -> bool:
        """Return True for a message already committed; a new QoS ≥ 1 message disarms."""
        if receipt is None or not self._expected:
            return False
        if receipt in self._expected:
            self._expected.discard(receipt)
            return True
        self._expected.clear()
        return False
