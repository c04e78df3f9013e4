"""Dispatch, the pure core: which responder a case goes to.

A case goes to an on-call responder of its site whose role fits the case's category (life
safety: the grid worker first, then security patrol, then property staff; security: patrol
first; property damage: property staff, then maintenance; maintenance: maintenance staff,
then property), preferring those who cover the case's grid over site-wide ones, and never to
someone who already declined it. Ties go to the lowest responder id, so every hub worker
makes the same choice.

Nothing here does I/O or reads the clock.
"""

from collections.abc import Iterable
from datetime import datetime

from hub.correlation import CaseCategory
from hub.roster import Responder, ResponderRole, on_call

ROLES_FOR: dict[CaseCategory, tuple[ResponderRole, ...]] = {
    CaseCategory.LIFE_SAFETY: (
        ResponderRole.GRID_WORKER,
        ResponderRole.SECURITY,
        ResponderRole.PROPERTY,
    ),
    CaseCategory.SECURITY: (ResponderRole.SECURITY, ResponderRole.GRID_WORKER),
    CaseCategory.PROPERTY: (
        ResponderRole.PROPERTY,
        ResponderRole.MAINTENANCE,
        ResponderRole.GRID_WORKER,
    ),
    CaseCategory.MAINTENANCE: (ResponderRole.MAINTENANCE, ResponderRole.PROPERTY),
}
"""Who may take a case of each category, most suitable first."""


def choose_responder(
    category: CaseCategory,
    site_id: str,
    grid_id: str | None,
    responders: Iterable[Responder],
    now: datetime,
    timezone: str,
    *,
    exclude: Iterable[str] = (),
) -> Responder | None:
    """Return the responder a case should go to now, or None if nobody fits."""
    roles = ROLES_FOR[category]
    excluded = set(exclude)
    ranked: list[tuple[int, int, str, Responder]] = []
    for responder in responders:
        if responder.site_id != site_id or responder.id in excluded:
            continue
        if responder.role not in roles:
            continue
        if responder.grid_ids and (grid_id is None or grid_id not in responder.grid_ids):
            continue
        if not on_call(responder, now, timezone):
            continue
        site_wide = 0 if responder.grid_ids else 1
        ranked.append((roles.index(responder.role), site_wide, responder.id, responder))
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None
