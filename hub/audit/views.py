"""What the hub shows of its audit trail."""

from typing import Any

from pydantic import AwareDatetime, Field

from hub.http.views import View


class AuditEntryView(View):
    """One link of the audit chain."""

    seq: int
    ts: AwareDatetime | None
    """Null only on an ``unreadable`` entry whose time cannot be read."""
    action: str
    case_id: int | None
    alert_id: str | None
    actor: str | None
    detail: dict[str, Any]
    """``{}`` on an ``unreadable`` entry whose detail cannot be read or is not an object."""
    prev_hash: str
    hash: str
    token_id: int | None = None
    """The API token that acted under the name ``actor`` (``/api/v1/tokens`` lists it): a
    token's name may be a person's, so only an entry with no ``token_id`` is the account's.
    Null for a person, the hub, and every entry from before the hub recorded it."""
    unreadable: str | None = None
    """Why the entry cannot be shown as it was recorded (a row edited by hand): null on every
    entry the hub wrote. ``/audit/verify`` names the chain's first broken link."""


class AnchorsView(View):
    """What the chain's anchors said (``hub.audit.anchors``)."""

    checked: int
    """Anchors of this hub's key checked: each one's signature, and the entry it names."""
    latest_seq: int | None
    latest_at: AwareDatetime | None
    """The latest anchor checked: a chain whose anchors stop long before its end had them
    deleted (or the hub stopped anchoring)."""
    other_keys: int
    """Anchors signed with another key (another worker's, a key changed): not checked."""


class AuditVerdictView(View):
    """Whether the audit chain is intact, and its first broken link if not."""

    intact: bool
    checked: int
    broken_seq: int | None
    reason: str | None
    anchors: AnchorsView | None = None
    """Added: what the anchors said of an intact chain; null with no anchor key, or broken."""
    findings: list[str] = Field(default_factory=list)
    """Added: each case field that parts from the case's history in the trail, one a line
    (``hub.audit.case_rows``; the first 100, ``reason`` counts them all); empty otherwise."""
