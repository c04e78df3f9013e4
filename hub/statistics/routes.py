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

from devices.timezone import TimeZoneName
from hub.auth.routes import PrincipalDep
from hub.errors import InvalidInputError
from hub.http.deps import API_PREFIX, ClockDep, StoreDep
from hub.http.views import View
from hub.statistics.rules import (
    DEFAULT_ZONE,
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
Month = Annotated[str, Query(min_length=7, max_length=7)]


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
    month: str | None = None
    """The month asked for, each community's cut in its own time zone (``start`` is the
    earliest first instant of it, ``end`` the latest end)."""
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
    month: Month | None = None,
    timezone: TimeZoneName = DEFAULT_ZONE,
) -> StatisticsReport:
    """Return the figures of the cases opened in a period (default: the last 30 days) or in a
    ``month`` (each community's in its own time zone, a case of no site's in ``timezone``),
    grouped ``by`` district, street, site, grid or category, of the caller's sites, optionally
    of one site, street or district."""
    reads = store.statistics
    if month is not None:
        if start is not None or end is not None:
            raise InvalidInputError("a month or a period from start to end, not both")
        start, end, cases = await asyncio.to_thread(
            reads.month_facts,
            month,
            timezone,
            sites=principal.sites,
            site_id=site_id,
            street=street,
            district=district,
        )
    else:
        start, end = report_period(start, end, clock())
        cases = await asyncio.to_thread(
            reads.case_facts,
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
        month=month,
        by=by,
        total=figures(cases),
        groups=grouped(cases, by),
        overdue=[OverdueCase.of(case) for case in overdue_cases(cases)[:MAX_OVERDUE]],
    )
