"""The statistics' reads: the facts of the cases opened in a period, one query
(``hub.statistics.rules`` makes the figures of them)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from hub.cases.rules import CaseEventAction
from hub.persistence.community import RequestRatingRow
from hub.persistence.tables import CaseEventRow, CaseRow, SiteRow
from hub.persistence.transactions import Database
from hub.statistics.rules import CaseFacts

_ESCALATIONS = (
    select(func.count())
    .where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.action == CaseEventAction.ESCALATED)
    .scalar_subquery()
)
"""How many times a case climbed: its history's lines, by the history's index on the case."""
_LATEST_RATING = (
    select(RequestRatingRow.score)
    .where(RequestRatingRow.case_id == CaseRow.id)
    .order_by(RequestRatingRow.rated_at.desc(), RequestRatingRow.id.desc())
    .limit(1)
    .scalar_subquery()
)
"""The household's latest rating of the case (a request reopened and resolved again is rated
again; the latest counts)."""


def _facts_query() -> Select[Any]:
    """The facts of cases, the columns in the order of ``CaseFacts``' fields."""
    return (
        select(
            CaseRow.id,
            CaseRow.category,
            CaseRow.status,
            CaseRow.opened_at,
            CaseRow.acknowledged_at,
            CaseRow.resolved_at,
            CaseRow.resolution,
            _ESCALATIONS,
            CaseRow.escalation_level,
            CaseRow.site_id,
            CaseRow.grid_id,
            SiteRow.street,
            SiteRow.district,
            _LATEST_RATING,
        )
        .outerjoin(SiteRow, SiteRow.id == CaseRow.site_id)
        .where(CaseRow.merged_into.is_(None))
        .order_by(CaseRow.id)
    )


class StatisticsRepository:
    """Reads what the statistics are made of; one read transaction per call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def case_facts(
        self,
        start: datetime,
        end: datetime,
        *,
        sites: frozenset[str] | None = None,
        site_id: str | None = None,
        street: str | None = None,
        district: str | None = None,
    ) -> list[CaseFacts]:
        """Return the facts of the cases opened from ``start`` until before ``end`` (taken into
        no other case), of ``sites`` (a caller's scope; None: every site) and of the community,
        street and district given."""
        query = _facts_query().where(CaseRow.opened_at >= start, CaseRow.opened_at < end)
        if sites is not None:  # a scoped caller: its sites' cases, none of no site
            query = query.where(CaseRow.site_id.in_(sorted(sites)))
        if site_id is not None:
            query = query.where(CaseRow.site_id == site_id)
        if street is not None:
            query = query.where(SiteRow.street == street)
        if district is not None:
            query = query.where(SiteRow.district == district)
        with self._db.reading() as session:
            return [CaseFacts(*row) for row in session.execute(query)]
