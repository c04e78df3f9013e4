"""Errors the hub raises on purpose.

Hierarchy::

    HubError                  anything the hub refuses or cannot do
    ├── NotFoundError             no such case (or other record)
    ├── IllegalTransitionError    a case action that its current status does not allow
    ├── InvalidInputError         a request that parses but cannot be accepted (an empty note)
    └── HubStartupError           the hub could not start (port taken, database unreachable)

An alert naming an unknown device is not an exception: ingest registers the device from it
when the alert says what the device is (``hub.fleet.rules.adopted_device``); otherwise it
holds it back unacknowledged for a grace (``hub.ingest.unknown_devices``: the edge's re-send
may find the device registered), then judges it, counts it under ``rejected.unknown_device``
and acknowledges it (see ``hub.cases.results.IngestResult``).

The API maps them to HTTP statuses in one place (``hub.app``).
"""


class HubError(Exception):
    """Something the hub refuses or cannot do."""


class NotFoundError(HubError):
    """A record that does not exist."""


class IllegalTransitionError(HubError):
    """A case action that the case's current status does not allow."""


class InvalidInputError(HubError):
    """A request that parses but cannot be accepted."""


class HubStartupError(HubError):
    """The hub could not start."""
