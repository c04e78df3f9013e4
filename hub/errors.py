"""Errors the hub raises on purpose.

Hierarchy::

    HubError                  anything the hub refuses or cannot do
    ├── NotFoundError             no such case (or other record)
    ├── IllegalTransitionError    a case action that its current status does not allow
    ├── StaleVersionError         a case action sent for a version of the case it is no more at
    ├── InvalidInputError         a request that parses but cannot be accepted (an empty note)
    └── HubStartupError           the hub could not start (port taken, database unreachable)

An alert naming an unknown device is not an exception: ingest registers the device from it
when the alert says what the device is (``hub.fleet.rules.adopted_device``); otherwise it
holds it back unacknowledged for a grace (``hub.ingest.unknown_devices``: the edge's re-send
may find the device registered), then judges it, counts it under ``rejected.unknown_device``
and acknowledges it (see ``hub.cases.results.IngestResult``).

The API maps them to HTTP statuses in one place (``hub.app``), with the error's ``code`` where
it has one; ``without_value`` is how a refused request's validation error is told, without the
value sent.
"""

from collections.abc import Mapping
from typing import Any


class HubError(Exception):
    """Something the hub refuses or cannot do.

    ``code``, where given, names the refusal for a program (the answer's ``code`` field,
    docs/contract.md): a page chooses its own words by it, not by the English of the message,
    which may change."""

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(HubError):
    """A record that does not exist."""


class IllegalTransitionError(HubError):
    """A case action that the case's current status does not allow."""


class StaleVersionError(HubError):
    """A case action its sender made on a view of the case it has moved on from (the version
    its ``If-Match`` named): refused, nothing changed. Names the case's version and status
    as they are now, for the caller to show."""

    def __init__(self, message: str, *, version: int, status: str) -> None:
        super().__init__(message)
        self.version = version
        self.status = status


class InvalidInputError(HubError):
    """A request that parses but cannot be accepted."""


class HubStartupError(HubError):
    """The hub could not start."""


VALUE_SENT = "the value sent"
"""What a refusal says in place of the value it refused (docs/contract.md, section 6)."""


def without_value(error: Mapping[str, Any]) -> dict[str, Any]:
    """Return one request validation error as the API tells it: the field (``loc``) and why,
    never the value sent.

    FastAPI's error holds the value (``input``), and a validator's own message often quotes it
    (``'x' is not a valid id``, ``unknown time zone 'x'``): both are left out, the quoted
    value said as ``the value sent``. A value sent as a secret (a card number, a PIN, a
    password of the wrong form) would otherwise come back in the answer.
    """
    told = {key: value for key, value in error.items() if key != "input"}
    sent = error.get("input")
    message = told.get("msg")
    if isinstance(message, str) and isinstance(sent, str | int | float) and str(sent):
        for quoted in {repr(sent), f"'{sent}'", f'"{sent}"'}:
            message = message.replace(quoted, VALUE_SENT)
        told["msg"] = message
    return told


def refusal(error: BaseException) -> dict[str, Any]:
    """Return the body of an answer refusing with ``error``: its message as ``detail``, and its
    ``code`` where it has one."""
    body: dict[str, Any] = {"detail": str(error)}
    code = getattr(error, "code", None)
    if code is not None:
        body["code"] = code
    return body
