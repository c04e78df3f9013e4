"""Statistics over HTTP: ``GET /api/v1/statistics`` (see ``hub.statistics.rules``).

A caller scoped to some sites (a community's operators, or a street's, whose account covers
the street's communities) gets its sites' figures only; an unscoped one every site's, which a
district reads by ``by=street``.
"""

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from hub.auth.routes import PrincipalDep
from hub.http.deps import API_PREFIX, ClockDep, StoreDep
from hub.http.views import View
from hub.statistics.rules import (
    CaseFacts,
    Figures,
    Group,
    GroupBy,
    figures,
    grouped,
    overdue_cases,
    report_period,
)

router = APIRouter(prefix=API_PREFIX)

MAX_OVERDUE = 500
"""The most overdue cases a report lists (its count is ``total.overdue``)."""

Name = Annotated[str, Query(min_length=1, max_length=128)]


class OverdueCase(View):
    """A case that missed a deadline and climbed, as a report lists it."""

    id: int
    category: str
    status: str
    site_id: str | None
    grid_id: str | None
    street: str | None
    opened_at: datetime
    resolved_at: datetime | None
    escalations: int
    escalation_level: int

    @classmethod
    def of(cls, case: CaseFacts) -> "OverdueCase":
        """Return the listing of ``case``."""
        return cls(**{name: getattr(case, name) for name in cls.model_fields})


class StatisticsReport(View):
    """The figures of the cases opened from ``start`` until before ``end``: in all, per group,
    and the overdue cases (the first ``MAX_OVERDUE``, oldest first)."""

    start: datetime
    end: datetime
    by: GroupBy
    total: Figures
    groups: list[Group]
    overdue: list[OverdueCase]


@router.get("/statistics")
async def statistics(
    store: StoreDep,
    principal: PrincipalDep,
    clock: ClockDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    by: GroupBy = GroupBy.SITE,
    site_id: Name | None = None,
    street: Name | None = None,
    district: Name | None = None,
) -> StatisticsReport:
    """Return the figures of the cases opened in a period (default: the last 30 days), grouped
    ``by`` district, street, site, grid or category, of the caller's sites, optionally of one
    site, street or district."""
    start, end = report_period(start, end, clock())
    cases = await asyncio.to_thread(
        store.statistics.case_facts,
        start,
        end,
        sites=principal.sites,
        site_id=site_id,
        street=street,
        district=district,
    )
    return StatisticsReport(
        start=start,
        end=end,
        by=by,
        total=figures(cases),
        groups=grouped(cases, by),
        overdue=[OverdueCase.of(case) for case in overdue_cases(cases)[:MAX_OVERDUE]],
    )
