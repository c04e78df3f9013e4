"""What a request looks like when read: to operators (``operator_view``) and to its household
(``resident_view``, responders named by first name and role only), inside a session."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.kinds import Severity
from hub.cases.dispatch import Team, team_of
from hub.cases.rules import CaseEventAction, CaseStatus
from hub.cases.views import TeamMemberView
from hub.persistence.community import (
    RequestPhotoRow,
    RequestRatingRow,
    RequestRow,
    RequestUpdateRow,
)
from hub.persistence.tables import CaseEventRow, CaseRow, HouseholdRow, ResponderRow
from hub.requests.rules import (
    NOT_FIXED_WITHIN,
    RequestCategory,
    RequestSource,
    public_name,
    request_stage,
)
from hub.requests.views import (
    AssigneeView,
    PhotoView,
    RatingView,
    RequestBasics,
    RequestView,
    ResidentRequestView,
    UpdateView,
)


def request_parts(
    session: Session, request: RequestRow
) -> tuple[CaseRow, list[RequestPhotoRow], list[RequestUpdateRow], list[RequestRatingRow]]:
    """Return a request's case, photos, updates and ratings, oldest first."""
    case = session.get_one(CaseRow, request.case_id)
    photos = list(
        session.scalars(
            select(RequestPhotoRow)
            .where(RequestPhotoRow.request_id == request.id)
            .order_by(RequestPhotoRow.id)
        )
    )
    updates = list(
        session.scalars(
            select(RequestUpdateRow)
            .where(RequestUpdateRow.request_id == request.id)
            .order_by(RequestUpdateRow.id)
        )
    )
    ratings = list(
        session.scalars(
            select(RequestRatingRow)
            .where(RequestRatingRow.request_id == request.id)
            .order_by(RequestRatingRow.id)
        )
    )
    return case, photos, updates, ratings


def planned_visits(session: Session, requests: Sequence[RequestRow]) -> dict[int, datetime | None]:
    """Return the visit each request has planned now, by request id: none once its case was
    reopened after the visit was planned (that visit was for the attempt that did not fix
    it), however it was reopened — by the household's "not fixed", or by an operator."""
    if not requests:
        return {}
    reopened: dict[int, datetime] = {
        case_id: ts
        for case_id, ts in session.execute(
            select(CaseEventRow.case_id, func.max(CaseEventRow.ts))
            .where(
                CaseEventRow.case_id.in_(sorted({r.case_id for r in requests})),
                CaseEventRow.action == CaseEventAction.REOPENED.value,
            )
            .group_by(CaseEventRow.case_id)
        )
    }
    planned: dict[int, datetime] = {
        request_id: ts
        for request_id, ts in session.execute(
            select(RequestUpdateRow.request_id, func.max(RequestUpdateRow.ts))
            .where(
                RequestUpdateRow.request_id.in_(sorted(r.id for r in requests)),
                RequestUpdateRow.visit_at.is_not(None),
            )
            .group_by(RequestUpdateRow.request_id)
        )
    }
    visits: dict[int, datetime | None] = {}
    for request in requests:
        again = reopened.get(request.case_id)
        when = planned.get(request.id)
        stale = again is not None and (when is None or when < again)
        visits[request.id] = None if stale else request.visit_at
    return visits


def operator_view(session: Session, request: RequestRow) -> RequestView:
    """Return a request as operators see it."""
    case, photos, updates, ratings = request_parts(session, request)
    household = session.get_one(HouseholdRow, request.household_id)
    team = team_of(case.team)
    return RequestView(
        **dict(_basics(session, request, case, team, photos)),
        case_id=case.id,
        household_id=household.id,
        household_name=household.name,
        source=RequestSource(request.source),
        created_by=request.created_by,
        volunteers=request.volunteers,
        case_status=CaseStatus(case.status),
        site_id=case.site_id,
        team=[
            TeamMemberView(duty=a.duty, responder=a.responder, accepted=a.accepted) for a in team
        ],
        updates=[
            UpdateView(ts=u.ts, by=u.actor or "", note=u.note, visit_at=u.visit_at) for u in updates
        ],
        ratings=[_rating_view(r) for r in ratings],
    )


def resident_view(session: Session, request: RequestRow, now: datetime) -> ResidentRequestView:
    """Return a request as its household sees it at ``now`` (responders by first name)."""
    case, photos, updates, ratings = request_parts(session, request)
    team = team_of(case.team)
    people = _people(session, [a.responder for a in team] + [u.actor or "" for u in updates])
    status = CaseStatus(case.status)
    shown = [
        UpdateView(
            ts=u.ts,
            by=_public(people, u.actor),
            note=u.note,
            visit_at=u.visit_at,
        )
        for u in updates
    ]
    resolved = _resolution_event(session, case)
    if resolved is not None:
        people.update(_people(session, [resolved.actor or ""]))
        shown.append(
            UpdateView(
                ts=resolved.ts,
                by=_public(people, resolved.actor),
                note=resolved.note,
                visit_at=None,
            )
        )
    current = next((r for r in reversed(ratings) if r.resolved_at == case.resolved_at), None)
    done = status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and case.resolved_at is not None
    return ResidentRequestView(
        **dict(_basics(session, request, case, team, photos)),
        updated_at=case.updated_at,
        assigned=[
            AssigneeView(name=people[a.responder][0], role=people[a.responder][1])
            for a in team
            if a.responder in people
        ],
        updates=sorted(shown, key=lambda u: u.ts),
        rating=None if current is None else _rating_view(current, public=True),
        can_rate=done and current is None,
        # Once this resolution is rated, "not fixed" is no longer taken (one rating each):
        # promising it until the week is out would end in a refusal.
        not_fixed_until=(
            case.resolved_at + NOT_FIXED_WITHIN
            if done
            and current is None
            and status is CaseStatus.RESOLVED
            and case.resolved_at is not None
            and case.resolved_at + NOT_FIXED_WITHIN > now
            else None
        ),
    )


def _basics(
    session: Session,
    request: RequestRow,
    case: CaseRow,
    team: Team,
    photos: Iterable[RequestPhotoRow],
) -> RequestBasics:
    """Return what every view of ``request`` shows, its stage read from its ``case``."""
    visit_at = planned_visits(session, [request])[request.id]
    return RequestBasics(
        id=request.id,
        category=RequestCategory(request.category),
        text=request.text,
        place=request.place,
        priority=Severity(case.priority),
        preferred_from=request.preferred_from,
        preferred_until=request.preferred_until,
        visit_at=visit_at,
        created_at=request.created_at,
        stage=request_stage(CaseStatus(case.status), team, visit_at),
        photos=[_photo_view(p) for p in photos],
    )


def _photo_view(row: RequestPhotoRow) -> PhotoView:
    return PhotoView(
        id=row.id,
        phase=row.phase,
        width=row.width,
        height=row.height,
        path=f"photos/{row.id}",
        thumbnail_path=f"photos/{row.id}?thumbnail=1",
    )


def _rating_view(row: RequestRatingRow, *, public: bool = False) -> RatingView:
    return RatingView(
        score=row.score,
        comment=row.comment,
        fixed=row.fixed,
        rated_at=row.rated_at,
        responders=[] if public else list(row.responders),
    )


def _people(session: Session, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Return the public name and role of each responder among ``ids``, by id."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return {
        row.id: (public_name(row.name), row.role)
        for row in session.scalars(select(ResponderRow).where(ResponderRow.id.in_(wanted)))
    }


def _public(people: dict[str, tuple[str, str]], actor: str | None) -> str:
    """Return how a household sees who wrote an update: ``王 · maintenance``, or ``staff``."""
    if actor is None or actor not in people:
        return "staff"
    name, role = people[actor]
    return f"{name} · {role}"


def _resolution_event(session: Session, case: CaseRow) -> CaseEventRow | None:
    """Return the line that resolved the case, while it is resolved or closed."""
    if case.resolved_at is None:
        return None
    return session.scalars(
        select(CaseEventRow)
        .where(
            CaseEventRow.case_id == case.id,
            CaseEventRow.action == CaseEventAction.RESOLVED.value,
        )
        .order_by(CaseEventRow.id.desc())
        .limit(1)
    ).one_or_none()
