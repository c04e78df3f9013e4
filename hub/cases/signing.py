"""Signed webhooks: how the hub signs a case notice, and how a receiver checks one.

Every webhook POST carries two headers::

    X-Linli-Timestamp: 1767225600                     (Unix seconds, when it was sent)
    X-Linli-Signature: v1=<hex HMAC-SHA256>           (key: LINLI_HUB_NOTIFY_WEBHOOK_SECRET)

The signature is over ``<timestamp>.`` followed by the raw body bytes, exactly as received.
A receiver recomputes it, compares in constant time, and refuses a timestamp more than
``TOLERANCE_S`` from its own clock: a captured request replayed later fails, and one replayed
within the window is a notice it already has (each carries its ``notice_id``). ``verify`` is
the reference implementation (docs/security.md shows the same in a few lines).
"""

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Linli-Timestamp"
SIGNATURE_HEADER = "X-Linli-Signature"
SCHEME = "v1"
TOLERANCE_S = 300
"""Five minutes: clocks of a hub and a gateway agree that well under NTP."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the ``X-Linli-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the headers of a signed webhook."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: bytes, timestamp: str, sent: str, body: bytes, now: float) -> bool:
    """Return whether a received webhook is authentic and fresh (for receivers and tests)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_S:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), sent)
