"""The resident's one-touch SOS, the pure core: tokens, stages, the press throttle, the alert.

A household reaches its page through a secret link ``/r/<token>``. The hub keeps only the
token's SHA-256 (``token_hash``): a database dump does not hand out working links, and a
rotated token stops working at once. What the page shows is a function of the household's
most recent SOS case (``resident_stage``); a press becomes an ordinary ``Alert`` that goes
through the same repository path as an edge's, so it opens or joins the case exactly as a
button press does.

Nothing here does I/O or reads the clock: ``now`` and the alert id are passed in (only
``issue_token`` draws randomness).
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, AlertReason, FeedbackStage
from hub.cases.rules import CaseStatus, feedback_stage

RESIDENT_PREFIX = "/r"

SOS_MIN_INTERVAL = timedelta(seconds=2)
"""At most one alert per household in this interval: an anxious resident pressing again and
again must not flood the hub (each press would join the open case anyway)."""

WEB_SOURCE = "hub-web"
"""The ``edge_id`` of alerts raised from a resident's page: the hub itself, not an edge."""

WEB_SOS_RULE = "resident_page"

TOKEN_BYTES = 32


class ResidentStage(StrEnum):
    """How far a household's latest request has come (``FeedbackStage`` plus ``none``).

    The hub reports every stage from the database; the page shows a press as sent only
    once the hub has answered it (until then "sending", and "not sent" when it never did).
    """

    NONE = "none"
    RECEIVED = "received"
    CASE_OPENED = "case_opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    """The resident took the SOS back from the page ("it was a mistake"): the staff have been
    told, the case is still open (``hub.residents.withdrawal``). Page only: a button shows
    its own ``cancelled``."""


def resident_stage(
    status: CaseStatus | None, acknowledged: bool = False, *, withdrawn: bool = False
) -> ResidentStage:
    """Return the stage a household sees, given its latest SOS case's status (if any),
    whether a person has taken that case on, and whether the resident's take-back is the
    latest word on it (``hub.residents.withdrawal.stands``). Resolved wins over a take-back."""
    if status is None:
        return ResidentStage.NONE
    stage = feedback_stage(status, acknowledged)
    if withdrawn and stage is not FeedbackStage.RESOLVED:
        return ResidentStage.WITHDRAWN
    return ResidentStage(stage.value)


def token_hash(token: str) -> str:
    """Return the stored form of a household access token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token() -> tuple[str, str]:
    """Return a fresh random access token and its stored hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def resident_link(token: str) -> str:
    """Return the path of a household's page."""
    return f"{RESIDENT_PREFIX}/{token}"


def web_device_id(household_id: int) -> str:
    """Return the id of the virtual button of a household that has no physical one."""
    return f"household-{household_id}-web"


_WEB_DEVICE_ID = re.compile(r"household-[0-9]+-web")


def is_web_device(device_id: str) -> bool:
    """Return whether ``device_id`` names a household page's virtual button: the hub's own
    device, which no edge speaks for (``hub.ingest.identity``)."""
    return _WEB_DEVICE_ID.fullmatch(device_id) is not None


def may_raise_sos(
    last_accepted: datetime | None, now: datetime, min_interval: timedelta = SOS_MIN_INTERVAL
) -> bool:
    """Return whether a press at ``now`` may raise an alert, given the last accepted press.

    A clock that went backwards does not lock the household out.
    """
    if last_accepted is None:
        return True
    elapsed = now - last_accepted
    return not timedelta(0) <= elapsed < min_interval


class SosThrottle:
    """The last accepted press of each household; ``admit`` decides with ``may_raise_sos``."""

    def __init__(self, min_interval: timedelta = SOS_MIN_INTERVAL) -> None:
        self._min_interval = min_interval
        self._last: dict[int, datetime] = {}

    def admit(self, household_id: int, now: datetime) -> bool:
        """Return whether this press raises an alert, and remember it if so."""
        if not may_raise_sos(self._last.get(household_id), now, self._min_interval):
            return False
        self._last[household_id] = now
        return True


def web_sos_alert(alert_id: str, device_id: str, location: str, now: datetime) -> Alert:
    """Return the alert a press on a household's page raises."""
    return Alert(
        id=alert_id,
        edge_id=WEB_SOURCE,
        device_id=device_id,
        kind=AlertKind.SOS,
        state=AlertState.RAISED,
        severity=Severity.CRITICAL,
        ts=now,
        detected_at=now,
        location=location,
        reason=AlertReason(rule=WEB_SOS_RULE),
    )
