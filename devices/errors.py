"""Errors raised while reading device input.

Hierarchy::

    DeviceInputError          anything a device or broker sent that we refuse
    ├── TopicError            a topic outside the scheme, or malformed inside it
    └── PayloadError          a payload that is too large, not JSON, or of the wrong shape

Each carries a short machine-readable ``reason`` so callers can count rejects by reason.
"""


class DeviceInputError(Exception):
    """Input from a device or broker that Linli refuses."""

    reason = "invalid"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class TopicError(DeviceInputError):
    """A topic that does not belong to the scheme, or is malformed inside it."""

    reason = "unknown_topic"


class PayloadError(DeviceInputError):
    """A payload that cannot be accepted: too large, not JSON, or of the wrong shape."""

    reason = "malformed"
