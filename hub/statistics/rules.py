"""Statistics up the chain, the pure core: the numbers each level decides from (用数据说话).

A community handles its cases; its street (街道) supervises the street's communities, the
district (区) its streets (PRODUCT.md, "Up the chain"). Each level looks at the same figures
over a period, grouped its own way (``GroupBy``): by district, street, community (site), grid
or category. The figures of a group (``Figures``), over the cases **opened in the period**:

* ``opened``, ``resolved`` (by now), ``active`` (still being worked) and ``by_category``;
* ``overdue``: the cases that missed a deadline and climbed the ladder at least once
  (``hub.cases.supervision``: acknowledged too late, or a resident's request not done within
  48 h), and their share, ``overdue_rate``. The record of a climb is the case's history, so a
  case reopened since (its level reset) still counts;
* ``response_p50_s`` / ``response_p90_s``: from opening until a person took the case on
  (acknowledged or accepted it); ``closure_p50_s`` / ``closure_p90_s``: until it was resolved.
  Nearest-rank percentiles of the cases that got there; ``None`` when none did;
* ``false_alarm_rate``: the false and nuisance alarms among the judged cases, tests left out
  (``hub.cases.rules.nuisance_rate``, the rule a device's rate follows);
* ``rating_mean`` over ``ratings``: residents' ratings (评价, 1–5) of their requests, each
  request's latest.

The period is the caller's, checked and defaulted by ``report_period``. A case taken into
another (``merged_into``) is not counted: its alerts count in the case it
went into. ``overdue_cases`` lists the overdue ones for a report (PRODUCT.md scenario 13: the
street's monthly report shows a repair nobody finished within 48 h).

Nothing here does I/O or reads the clock.
"""

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hub.cases.rules import ACTIVE, CaseStatus, Resolution, nuisance_rate
from hub.errors import InvalidInputError
from hub.http.views import View


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the statistics need of one case."""

    id: int
    category: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    escalations: int
    """How many times a deadline passed and the case climbed (its history's ``escalated``)."""
    escalation_level: int
    """The level the case is at now (0: the community)."""
    site_id: str | None = None
    grid_id: str | None = None
    street: str | None = None
    district: str | None = None
    rating: int | None = None
    """The household's latest rating of its request (1–5), if it rated one."""


class Figures(View):
    """The figures of a group of cases (see the module's docstring)."""

    opened: int
    resolved: int
    active: int
    overdue: int
    overdue_rate: float | None
    response_p50_s: float | None
    response_p90_s: float | None
    closure_p50_s: float | None
    closure_p90_s: float | None
    judged: int
    """Resolved cases with a resolution other than ``test``."""
    false_alarm_rate: float | None
    ratings: int
    rating_mean: float | None
    by_category: dict[str, int]


class Group(View):
    """One group's key (a district, street, site, grid or category; ``None``: none given) and
    its figures."""

    key: str | None
    figures: Figures
    district: str | None = None
    """A street's district, grouping by street: a street's name is its own only within its
    district (two districts may each have a 新华街道), so each district's is a group."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the nearest-rank ``q`` percentile (0 < q ≤ 1) of ``values``, or None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds())


def figures(cases: Iterable[CaseFacts]) -> Figures:
    """Return the figures of ``cases`` (merged cases already left out)."""
    cases = list(cases)
    response = [s for c in cases if (s := _seconds(c.opened_at, c.acknowledged_at)) is not None]
    closure = [s for c in cases if (s := _seconds(c.opened_at, c.resolved_at)) is not None]
    resolutions = Counter(
        Resolution(c.resolution) for c in cases if c.resolved_at is not None and c.resolution
    )
    ratings = [c.rating for c in cases if c.rating is not None]
    overdue = sum(1 for c in cases if c.escalations > 0)
    return Figures(
        opened=len(cases),
        resolved=sum(1 for c in cases if c.resolved_at is not None),
        active=sum(1 for c in cases if CaseStatus(c.status) in ACTIVE),
        overdue=overdue,
        overdue_rate=overdue / len(cases) if cases else None,
        response_p50_s=percentile(response, 0.5),
        response_p90_s=percentile(response, 0.9),
        closure_p50_s=percentile(closure, 0.5),
        closure_p90_s=percentile(closure, 0.9),
        judged=sum(n for code, n in resolutions.items() if code is not Resolution.TEST),
        false_alarm_rate=nuisance_rate(resolutions),
        ratings=len(ratings),
        rating_mean=sum(ratings) / len(ratings) if ratings else None,
        by_category=dict(sorted(Counter(c.category for c in cases).items())),
    )


class GroupBy(StrEnum):
    """How a level groups its figures."""

    DISTRICT = "district"
    STREET = "street"
    SITE = "site"
    GRID = "grid"
    CATEGORY = "category"


def group_key(case: CaseFacts, by: GroupBy) -> str | None:
    """Return the group ``case`` counts in when grouping ``by``."""
    match by:
        case GroupBy.DISTRICT:
            return case.district
        case GroupBy.STREET:
            return case.street
        case GroupBy.SITE:
            return case.site_id
        case GroupBy.GRID:
            return case.grid_id
        case GroupBy.CATEGORY:
            return case.category


def grouped(cases: Iterable[CaseFacts], by: GroupBy) -> list[Group]:
    """Return the figures of each group, by key (the group of no key last); a street's of
    each district apart, by district."""
    groups: dict[tuple[str | None, str | None], list[CaseFacts]] = defaultdict(list)
    for case in cases:
        key = group_key(case, by)
        district = case.district if by is GroupBy.STREET and key is not None else None
        groups[key, district].append(case)
    keys = sorted(groups, key=lambda k: (k[0] is None, k[0] or "", k[1] is None, k[1] or ""))
    return [Group(key=k, district=d, figures=figures(groups[k, d])) for k, d in keys]


def overdue_cases(cases: Iterable[CaseFacts]) -> list[CaseFacts]:
    """Return the cases that climbed the ladder at least once, oldest first."""
    return sorted((c for c in cases if c.escalations > 0), key=lambda c: (c.opened_at, c.id))


DEFAULT_PERIOD = timedelta(days=30)
"""The period asked for when none is given: the 30 days up to now."""
MAX_PERIOD = timedelta(days=366)
"""The longest period one report may cover: a year's, not the whole history."""


def report_period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Return the period a report covers, in UTC as stored: ``end`` (default ``now``) and
    ``start`` (default ``DEFAULT_PERIOD`` before it). Raise ``InvalidInputError`` for one that
    does not start before it ends, is longer than ``MAX_PERIOD``, or lies outside the years
    1 to 9999 in UTC (the year 1 at +14:00 is no instant a database holds)."""
    try:
        end = (end or now).astimezone(UTC)
        start = (start or end - DEFAULT_PERIOD).astimezone(UTC)
    except OverflowError:
        raise InvalidInputError("the period lies outside the years 1 to 9999 in UTC") from None
    if start >= end:
        raise InvalidInputError(f"start {start.isoformat()} is not before end {end.isoformat()}")
    if end - start > MAX_PERIOD:
        raise InvalidInputError(f"a period of at most {MAX_PERIOD.days} days, not {end - start}")
    return start, end


DEFAULT_ZONE = "Asia/Shanghai"
"""The time zone a month is cut in for a case of no site (the roster's default for a site)."""
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def month_period(month: str, zone: str) -> tuple[datetime, datetime]:
    """Return the first instant of ``month`` (``YYYY-MM``) in the time zone ``zone`` and of the
    month after, in UTC. Raise ``InvalidInputError`` for no such month, or one outside the
    years 1 to 9999 in UTC.

    Each community's month is its own: a case at 23:30 on 31 December in Berlin is December's
    there, though it is already January in Shanghai."""
    found = _MONTH.fullmatch(month)
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise InvalidInputError("a month is YYYY-MM, such as 2026-12")
    year, number = int(found[1]), int(found[2])
    local = ZoneInfo(zone)
    try:
        first = datetime(year, number, 1, tzinfo=local)
        following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=local)
        return first.astimezone(UTC), following.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"the month {month} lies outside the years 1 to 9999") from None
