"""The audit trail over HTTP: ``/api/v1/audit`` and its verification."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from hub.audit.views import AuditEntryView, AuditVerdictView
from hub.http.deps import API_PREFIX, StoreDep, caller_sites
from hub.http.views import Items

router = APIRouter(prefix=API_PREFIX)


@router.get("/audit")
async def list_audit(
    store: StoreDep,
    request: Request,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Items[AuditEntryView]:
    """List the audit trail oldest first; page with ``after_seq`` = the last ``seq`` seen.

    A site-scoped caller sees only entries about its sites' cases and alerts.
    """
    entries = await asyncio.to_thread(
        store.audit.list_audit, after_seq=after_seq, limit=limit, sites=caller_sites(request)
    )
    return Items(items=entries)


@router.get("/audit/verify")
async def verify_audit(store: StoreDep) -> AuditVerdictView:
    """Check the audit hash chain; name the first broken link if anyone edited the records.

    The whole chain, for every caller: only intact-or-not and a sequence number come back.
    """
    verdict = await asyncio.to_thread(store.audit.verify_audit)
    return AuditVerdictView(
        intact=verdict.intact,
        checked=verdict.checked,
        broken_seq=verdict.broken_seq,
        reason=verdict.reason,
    )
