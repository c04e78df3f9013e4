"""The messaging gateway's signature, the pure core: HMAC-SHA256 over timestamp and body.

A WeChat official-account or mini-program backend, or an SMS gateway, forwards a resident's
message to ``POST /api/v1/gateway/messages`` (``hub.requests.inbound``). It signs each
request with the secret it shares with the hub (hub setting ``gateway_secret``)::

    X-Linli-Timestamp: 1767225600
    X-Linli-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The hub refuses a signature that does not match, and a timestamp more than
``MAX_SKEW`` away from its clock (a replayed capture); a message re-sent with the same
``message_id`` is the same request (idempotent), whatever the timestamp.

Nothing here does I/O or reads the clock.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

MAX_SKEW = timedelta(minutes=5)

SIGNATURE_PREFIX = "sha256="

MAX_TIMESTAMP_DIGITS = 12
"""Seconds since 1970 have ten digits until the year 2286."""


class GatewaySignatureError(Exception):
    """The message is not signed by the gateway, or not now."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the ``X-Linli-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify(
    secret: bytes, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> None:
    """Return if the gateway signed ``body`` within ``MAX_SKEW`` of ``now``; else raise."""
    if timestamp is None or signature is None:
        raise GatewaySignatureError("sign the message: X-Linli-Timestamp and X-Linli-Signature")
    # ASCII digits only, and few of them: int() would take "１７６７…" or 400 digits, which no
    # float can hold (an OverflowError, not a 401, for anyone on the internet to cause).
    text = timestamp.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_TIMESTAMP_DIGITS):
        raise GatewaySignatureError("X-Linli-Timestamp is not a number of seconds")
    sent = int(text)
    if abs(now.timestamp() - sent) > MAX_SKEW.total_seconds():
        raise GatewaySignatureError("the message's timestamp is too far from the hub's clock")
    # Compared as bytes: compare_digest refuses (TypeError) a str with a non-ASCII letter.
    given = signature.strip().encode("utf-8", "replace")
    if not hmac.compare_digest(sign(secret, sent, body).encode(), given):
        raise GatewaySignatureError("the signature does not match")
