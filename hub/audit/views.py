"""What the hub shows of its audit trail."""

from typing import Any

from pydantic import AwareDatetime

from hub.http.views import View


class AuditEntryView(View):
    """One link of the audit chain."""

    seq: int
    ts: AwareDatetime
    action: str
    case_id: int | None
    alert_id: str | None
    actor: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerdictView(View):
    """Whether the audit chain is intact, and its first broken link if not."""

    intact: bool
    checked: int
    broken_seq: int | None
    reason: str | None
