"""The statistics' reads: the facts of the cases opened in a period, one query
(``hub.statistics.rules`` makes the figures of them)."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from hub.cases.rules import CaseEventAction
from hub.persistence.community import RequestRatingRow
from hub.persistence.tables import CaseEventRow, CaseRow, SiteRow
from hub.persistence.transactions import Database
from hub.statistics.rules import CaseFacts, month_period

_TAKEN_IN = aliased(CaseRow, name="taken_in")
_ESCALATIONS = (
    select(func.count())
    .where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.action == CaseEventAction.ESCALATED)
    .scalar_subquery()
) + (
    select(func.count())
    .select_from(CaseEventRow)
    .join(_TAKEN_IN, _TAKEN_IN.id == CaseEventRow.case_id)
    .where(
        _TAKEN_IN.merged_into == CaseRow.id,
        CaseEventRow.action == CaseEventAction.ESCALATED,
    )
    .scalar_subquery()
)
"""How many times a case climbed: its history's lines, by the history's index on the case, and
those of the cases it took in, by the index on ``merged_into`` (an SOS case that climbed
before its fire took it in: the fire case takes its level, so it counts its climb). Two sums,
not one ``OR``: each part by its own index."""
_TAKEN_ON = (
    select(func.min(CaseEventRow.ts))
    .where(
        CaseEventRow.case_id == CaseRow.id,
        CaseEventRow.action.in_([CaseEventAction.ACKNOWLEDGED, CaseEventAction.ACCEPTED]),
    )
    .scalar_subquery()
)
"""When a person first took the case on (acknowledged or accepted it), from its history: a
reopened case's ``acknowledged_at`` starts again, but its response was the first one."""
_LATEST_RATING = (
    select(RequestRatingRow.score)
    .where(RequestRatingRow.case_id == CaseRow.id)
    .order_by(RequestRatingRow.rated_at.desc(), RequestRatingRow.id.desc())
    .limit(1)
    .scalar_subquery()
)
"""The household's latest rating of the case (a request reopened and resolved again is rated
again; the latest counts)."""


_kept = or_(CaseRow.street.is_not(None), CaseRow.district.is_not(None))
_case_street = case((_kept, CaseRow.street), else_=SiteRow.street)
"""A case's street: the one its community was under when it opened (``cases.street``, with
its district, as a pair); a case that opened under none takes its community's now (a street
given to the community since)."""
_case_district = case((_kept, CaseRow.district), else_=SiteRow.district)


def _facts_query() -> Select[Any]:
    """The facts of cases, the columns in the order of ``CaseFacts``' fields."""
    return (
        select(
            CaseRow.id,
            CaseRow.category,
            CaseRow.status,
            CaseRow.opened_at,
            func.coalesce(_TAKEN_ON, CaseRow.acknowledged_at),
            CaseRow.resolved_at,
            CaseRow.resolution,
            _ESCALATIONS,
            CaseRow.escalation_level,
            CaseRow.site_id,
            CaseRow.grid_id,
            _case_street,
            _case_district,
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
        opened = and_(CaseRow.opened_at >= start, CaseRow.opened_at < end)
        with self._db.reading() as session:
            query = _scoped(_facts_query().where(opened), sites, site_id, street, district)
            return [CaseFacts(*row) for row in session.execute(query)]

    def month_facts(
        self,
        month: str,
        zone: str,
        *,
        sites: frozenset[str] | None = None,
        site_id: str | None = None,
        street: str | None = None,
        district: str | None = None,
    ) -> tuple[datetime, datetime, list[CaseFacts]]:
        """Return the first and the last instant (exclusive) of ``month`` anywhere and the facts
        of the cases opened in it, each community's month cut in its own time zone, a case of
        no site in ``zone``; scoped as ``case_facts``. Raise ``InvalidInputError`` for a
        malformed month."""
        with self._db.reading() as session:
            zones = sorted(session.scalars(select(SiteRow.timezone).distinct()))
            periods = {name: month_period(month, name) for name in {*zones, zone}}
            opened: list[ColumnElement[bool]] = [
                and_(
                    SiteRow.timezone == name,
                    CaseRow.opened_at >= periods[name][0],
                    CaseRow.opened_at < periods[name][1],
                )
                for name in zones
            ]
            no_site = or_(CaseRow.site_id.is_(None), SiteRow.id.is_(None))
            start, end = periods[zone]
            opened.append(and_(no_site, CaseRow.opened_at >= start, CaseRow.opened_at < end))
            query = _scoped(_facts_query().where(or_(*opened)), sites, site_id, street, district)
            facts = [CaseFacts(*row) for row in session.execute(query)]
        first = min(period[0] for period in periods.values())
        return first, max(period[1] for period in periods.values()), facts


def _scoped(
    query: Select[Any],
    sites: frozenset[str] | None,
    site_id: str | None,
    street: str | None,
    district: str | None,
) -> Select[Any]:
    """Return ``query`` of ``sites`` (None: every site, and the cases of none) and of the
    community, street and district given."""
    if sites is not None:  # a scoped caller: its sites' cases, none of no site
        query = query.where(CaseRow.site_id.in_(sorted(sites)))
    if site_id is not None:
        query = query.where(CaseRow.site_id == site_id)
    if street is not None:
        query = query.where(_case_street == street)
    if district is not None:
        query = query.where(_case_district == district)
    return query
