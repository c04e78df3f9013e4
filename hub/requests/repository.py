"""The requests' repository: a request and its case in one transaction, its photos, updates
and ratings. It loads and stores; what a request is and does is ``hub.requests.rules``'s.

A request's case is opened here, not by the alert intake, with ``hub.cases.raised``: it has
no alert and joins no incident, but the roster dispatches it and the supervisor escalates it
like any other. Photo bytes are written to disk before the rows naming them are committed.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.cases.actions import PersonAction
from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import team_of
from hub.cases.raised import open_hub_case
from hub.cases.records import CasePolicy, add_event, case_view, members
from hub.cases.repository import CaseRepository
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus
from hub.cases.staffing import auto_dispatch
from hub.cases.timers import postpone_resolution, schedule_resolution
from hub.cases.views import CaseView
from hub.errors import HubError, InvalidInputError, NotFoundError
from hub.persistence.community import (
    RequestPhotoRow,
    RequestRatingRow,
    RequestRow,
    RequestUpdateRow,
    ResponderRatingRow,
)
from hub.persistence.tables import (
    LOCATION_LENGTH,
    CaseRow,
    ResponderRow,
)
from hub.persistence.transactions import Database, clean, clean_or_none, get_existing
from hub.requests.photos import PhotoFiles, ProcessedPhoto
from hub.requests.reading import operator_view, resident_view
from hub.requests.rules import (
    MAX_PHOTOS,
    REQUEST_PRIORITY,
    Feedback,
    RatingFacts,
    RequestCategory,
    RequestSource,
    decide_feedback,
    resolution_starts,
    volunteers_welcome,
)
from hub.requests.views import (
    RequestView,
    ResidentRequestView,
    ResponderScore,
)
from hub.residents.repository import existing_household, household_device_id


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request to open, as a route or the gateway parsed it."""

    household_id: int
    category: RequestCategory
    text: str
    source: RequestSource
    place: str | None = None
    preferred: tuple[datetime, datetime] | None = None
    created_by: str | None = None
    external_id: str | None = None
    volunteers: bool | None = None
    """Whether a resident volunteer may help; None: the category's default."""


class MessageIdClashError(HubError):
    """A gateway message id already names another message (another household's, or other
    words): answered 409, the message is not taken."""


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a request did: ``new`` is False for a gateway message sent again."""

    request: RequestView
    case: CaseView
    new: bool


class RequestRepository:
    """Reads and writes residents' requests; each public method is one transaction."""

    def __init__(
        self, db: Database, policy: CasePolicy, cases: CaseRepository, photos: PhotoFiles
    ) -> None:
        self._db = db
        self._policy = policy
        self._cases = cases
        self.photos = photos

    # --- opening -------------------------------------------------------------------------

    def open_request(self, new: NewRequest, photos: Sequence[ProcessedPhoto]) -> Opened:
        """Open a request and its case, dispatched by the roster; a gateway message id seen
        before returns the request it opened (``new`` False) if it is the same message, and
        raises ``MessageIdClashError`` if it is not."""
        if len(photos) > MAX_PHOTOS:
            raise InvalidInputError(
                f"at most {MAX_PHOTOS} photos per request", code="too_many_photos"
            )
        text = clean(new.text)
        if not text:
            raise InvalidInputError("say in a few words what the problem is", code="need_text")
        now = self._db.clock()
        if new.external_id is not None:
            seen = self._by_external_id(new, text)
            if seen is not None:
                return seen
        # Kept only once the request committed: a failed or repeated one leaves no file.
        with self.photos.staged(_blobs(photos)) as staged:
            try:
                with self._db.writing() as session:
                    opened = self._open(session, new, text, photos, now)
            except IntegrityError:
                # The same gateway message, racing itself: the other copy committed first.
                assert new.external_id is not None
                seen = self._by_external_id(new, text)
                if seen is None:
                    raise
                return seen
            staged.keep()
            return opened

    def repeat_of(self, new: NewRequest) -> Opened | None:
        """Return the request a message id (``external_id``) opened before, if ``new`` is that
        same message sent again; raise ``MessageIdClashError`` if the id names another one.

        Asked before a message is checked, so a retry is answered as the first delivery was
        even when it would no longer pass (its visit window has begun to pass meanwhile)."""
        if new.external_id is None:
            return None
        return self._by_external_id(new, clean(new.text))

    def _open(
        self,
        session: Session,
        new: NewRequest,
        text: str,
        photos: Sequence[ProcessedPhoto],
        now: datetime,
    ) -> Opened:
        household = existing_household(session, new.household_id)
        device_id = household_device_id(session, household, now)
        priority = REQUEST_PRIORITY[new.category]
        volunteers = volunteers_welcome(new.category, new.volunteers)
        row = open_hub_case(
            session,
            self._policy,
            device_id=device_id,
            kind=AlertKind.RESIDENT_REQUEST,
            category=CaseCategory.REQUEST,
            priority=priority,
            place=new.place or household.location,
            now=now,
            actor=new.created_by,
            note=f"{new.category.value} request from {household.name}: {text}"[:2000],
        )
        request = RequestRow(
            case_id=row.id,
            household_id=household.id,
            category=new.category.value,
            text=text,
            place=None if new.place is None else clean(new.place)[:LOCATION_LENGTH],
            preferred_from=None if new.preferred is None else new.preferred[0],
            preferred_until=None if new.preferred is None else new.preferred[1],
            visit_at=None,
            source=new.source.value,
            external_id=new.external_id,
            created_at=now,
            created_by=new.created_by,
            volunteers=volunteers,
        )
        session.add(request)
        session.flush()
        schedule_resolution(session, self._policy, row, now)
        start = resolution_starts(now, new.preferred)
        if start > now:
            postpone_resolution(session, self._policy, row, start)
        if volunteers:
            # The case was staffed as it opened, before its request row said volunteers may
            # help: now the roster adds one beside the staff member (never instead).
            auto_dispatch(session, self._policy, row, now)
        self._add_photos(session, request.id, "report", photos, now, new.created_by)
        session.flush()
        case = case_view(row, household.location, members(session, [row.id])[row.id])
        return Opened(operator_view(session, request), case, True)

    def _by_external_id(self, new: NewRequest, text: str) -> Opened | None:
        with self._db.reading() as session:
            request = session.scalars(
                select(RequestRow).where(
                    RequestRow.source == new.source.value,
                    RequestRow.external_id == new.external_id,
                )
            ).one_or_none()
            if request is None:
                return None
            # A message id is the gateway's, unique per source only: the same id from another
            # household, or with other words, is another message, never a repeat; answering
            # it as one would lose that resident's request and show them another's. A page's
            # id is the household's own report's: sent again after an edit (its first answer
            # lost), it is that report, as first received.
            reworded = request.text != text and new.source is not RequestSource.PAGE
            if request.household_id != new.household_id or reworded:
                raise MessageIdClashError(
                    f"message id {new.external_id!r} was already used for another message: "
                    "send each message with an id of its own"
                )
            case = session.get_one(CaseRow, request.case_id)
            view = case_view(case, None, members(session, [case.id])[case.id])
            return Opened(operator_view(session, request), view, False)

    def _add_photos(
        self,
        session: Session,
        request_id: int,
        phase: str,
        photos: Iterable[ProcessedPhoto],
        now: datetime,
        by: str | None,
    ) -> None:
        session.add_all(
            RequestPhotoRow(
                request_id=request_id,
                phase=phase,
                sha256=photo.sha256,
                thumbnail_sha256=photo.thumbnail_sha256,
                width=photo.width,
                height=photo.height,
                size=len(photo.jpeg),
                uploaded_at=now,
                uploaded_by=by,
            )
            for photo in photos
        )

    # --- the responder's side ------------------------------------------------------------

    def case_of(self, request_id: int) -> tuple[int, str | None, frozenset[str]]:
        """Return a request's case id, site and team members, or raise NotFoundError."""
        with self._db.reading() as session:
            found = session.execute(
                select(CaseRow.id, CaseRow.site_id, CaseRow.team)
                .join(RequestRow, RequestRow.case_id == CaseRow.id)
                .where(RequestRow.id == request_id)
            ).one_or_none()
        if found is None:
            raise NotFoundError(f"request {request_id} does not exist")
        return found[0], found[1], frozenset(a.responder for a in team_of(found[2]))

    def add_update(
        self,
        request_id: int,
        *,
        actor: str | None,
        note: str | None,
        visit_at: datetime | None,
        photos: Sequence[ProcessedPhoto] = (),
    ) -> RequestView:
        """Add a responder's note, planned visit and after-photos to a request."""
        note = clean_or_none(note)
        if note is None and visit_at is None and not photos:
            raise InvalidInputError("an update needs a note, a visit time or a photo")
        if len(photos) > MAX_PHOTOS:
            raise InvalidInputError(f"at most {MAX_PHOTOS} photos per update")
        now = self._db.clock()
        with self.photos.staged(_blobs(photos)) as staged:
            view = self._add_update(request_id, actor, note, visit_at, photos, now)
            staged.keep()
            return view

    def _add_update(
        self,
        request_id: int,
        actor: str | None,
        note: str | None,
        visit_at: datetime | None,
        photos: Sequence[ProcessedPhoto],
        now: datetime,
    ) -> RequestView:
        with self._db.writing() as session:
            request = get_existing(
                session, RequestRow, request_id, f"request {request_id} does not exist", lock=True
            )
            session.add(
                RequestUpdateRow(
                    request_id=request_id, ts=now, actor=actor, note=note, visit_at=visit_at
                )
            )
            if visit_at is not None:
                request.visit_at = visit_at
            self._add_photos(session, request_id, "after", photos, now, actor)
            detail = {"request_id": str(request_id), "photos": str(len(photos))}
            if visit_at is not None:
                detail["visit_at"] = visit_at.isoformat()
            add_event(
                session,
                self._policy,
                request.case_id,
                now,
                CaseEventAction.COMMENTED,
                note=note or (f"visit planned for {visit_at.isoformat()}" if visit_at else None),
                actor=actor,
                detail=detail,
            )
            session.flush()
            return operator_view(session, request)

    # --- the household's side ------------------------------------------------------------

    def rate(
        self, household_id: int, request_id: int, feedback: Feedback
    ) -> tuple[ResidentRequestView, CaseView | None]:
        """Record a household's rating of its request's resolution; "not fixed" within
        ``NOT_FIXED_WITHIN`` reopens the case (returned, to report it as changed)."""
        now = self._db.clock()
        with self._db.writing() as session:
            request = self._own(session, household_id, request_id)
            case = session.get_one(CaseRow, request.case_id, with_for_update=True)
            already = (
                case.resolved_at is not None
                and session.scalar(
                    select(func.count())
                    .select_from(RequestRatingRow)
                    .where(
                        RequestRatingRow.request_id == request_id,
                        RequestRatingRow.resolved_at == case.resolved_at,
                    )
                )
                != 0
            )
            feedback = replace(feedback, comment=clean_or_none(feedback.comment))
            last = _latest_rating(session, case.id)
            facts = RatingFacts(
                CaseStatus(case.status),
                case.resolved_at,
                already,
                last=None if last is None else Feedback(last.score, last.comment, last.fixed),
                last_resolved_at=None if last is None else last.resolved_at,
            )
            outcome = decide_feedback(facts, feedback, now)
            if outcome.repeat:
                return resident_view(session, request, now), None
            assert case.resolved_at is not None  # decide_feedback
            responders = [a.responder for a in team_of(case.team)]
            rating = RequestRatingRow(
                request_id=request_id,
                case_id=case.id,
                score=feedback.score,
                comment=feedback.comment,
                fixed=feedback.fixed,
                resolved_at=case.resolved_at,
                rated_at=now,
                responders=responders,
            )
            session.add(rating)
            session.flush()
            session.add_all(
                ResponderRatingRow(
                    rating_id=rating.id, responder_id=who, score=feedback.score, rated_at=now
                )
                for who in sorted(set(responders))
            )
            actor = f"household-{household_id}"
            reopened: CaseView | None = None
            if outcome.reopen:
                request.visit_at = None  # a new visit is planned for the second attempt
                reopened = self._cases.act_in(
                    session,
                    case.id,
                    PersonAction(
                        CaseAction.REOPEN,
                        actor=actor,
                        note=f"the household says it is not fixed: {rating.comment or ''}".strip(),
                    ),
                    now,
                )
                schedule_resolution(session, self._policy, case, now)
            else:
                add_event(
                    session,
                    self._policy,
                    case.id,
                    now,
                    CaseEventAction.COMMENTED,
                    note=f"rated {feedback.score}/5"
                    + (f": {rating.comment}" if rating.comment else ""),
                    actor=actor,
                    detail={"rating": str(feedback.score)},
                )
            session.flush()
            return resident_view(session, request, now), reopened

    def household_requests(self, household_id: int) -> list[ResidentRequestView]:
        """Return a household's own requests, newest first."""
        now = self._db.clock()
        with self._db.reading() as session:
            rows = session.scalars(
                select(RequestRow)
                .where(RequestRow.household_id == household_id)
                .order_by(RequestRow.id.desc())
            ).all()
            return [resident_view(session, row, now) for row in rows]

    def household_request(self, household_id: int, request_id: int) -> ResidentRequestView:
        """Return one of a household's requests; another household's is a 404."""
        with self._db.reading() as session:
            request = self._own(session, household_id, request_id)
            return resident_view(session, request, self._db.clock())

    def photo_sha(
        self, request_id: int, photo_id: int, *, thumbnail: bool, household_id: int | None = None
    ) -> str:
        """Return the hash of a request's photo (only of the household's own requests, if
        given), or raise NotFoundError."""
        with self._db.reading() as session:
            query = (
                select(RequestPhotoRow)
                .join(RequestRow, RequestRow.id == RequestPhotoRow.request_id)
                .where(RequestPhotoRow.id == photo_id, RequestPhotoRow.request_id == request_id)
            )
            if household_id is not None:
                query = query.where(RequestRow.household_id == household_id)
            photo = session.scalars(query).one_or_none()
        if photo is None:
            raise NotFoundError("no such photo")
        return photo.thumbnail_sha256 if thumbnail else photo.sha256

    def _own(self, session: Session, household_id: int, request_id: int) -> RequestRow:
        request = session.get(RequestRow, request_id)
        if request is None or request.household_id != household_id:
            raise NotFoundError(f"request {request_id} does not exist")
        return request

    # --- operators -----------------------------------------------------------------------

    def list_requests(
        self,
        *,
        sites: frozenset[str] | None = None,
        household_id: int | None = None,
        limit: int = 100,
    ) -> list[RequestView]:
        """Return requests, newest first (only of ``sites``, of one household, if given)."""
        query = (
            select(RequestRow)
            .join(CaseRow, CaseRow.id == RequestRow.case_id)
            .order_by(RequestRow.id.desc())
            .limit(limit)
        )
        if sites is not None:
            query = query.where(CaseRow.site_id.in_(sorted(sites)))
        if household_id is not None:
            query = query.where(RequestRow.household_id == household_id)
        with self._db.reading() as session:
            return [operator_view(session, row) for row in session.scalars(query)]

    def get_request(self, request_id: int) -> RequestView:
        """Return one request, or raise NotFoundError."""
        with self._db.reading() as session:
            request = get_existing(
                session, RequestRow, request_id, f"request {request_id} does not exist"
            )
            return operator_view(session, request)

    def responder_scores(
        self, responder_id: str | None = None, *, sites: frozenset[str] | None = None
    ) -> list[ResponderScore]:
        """Return each responder's ratings: how many, the average, how many said not fixed
        (``sites``: only of the responders on those sites' rosters)."""
        query = (
            select(
                ResponderRatingRow.responder_id,
                func.count(),
                func.avg(ResponderRatingRow.score),
                func.sum(when((RequestRatingRow.fixed.is_(False), 1), else_=0)),
            )
            .join(RequestRatingRow, RequestRatingRow.id == ResponderRatingRow.rating_id)
            .group_by(ResponderRatingRow.responder_id)
            .order_by(ResponderRatingRow.responder_id)
        )
        if responder_id is not None:
            query = query.where(ResponderRatingRow.responder_id == responder_id)
        if sites is not None:
            roster = select(ResponderRow.id).where(ResponderRow.site_id.in_(sorted(sites)))
            query = query.where(ResponderRatingRow.responder_id.in_(roster))
        with self._db.reading() as session:
            return [
                ResponderScore(
                    responder_id=who,
                    ratings=count,
                    average=round(float(average), 2),
                    not_fixed=int(not_fixed or 0),
                )
                for who, count, average, not_fixed in session.execute(query)
            ]


def _latest_rating(session: Session, case_id: int) -> RequestRatingRow | None:
    """Return the latest rating of a request's case, if it has one."""
    return session.scalars(
        select(RequestRatingRow)
        .where(RequestRatingRow.case_id == case_id)
        .order_by(RequestRatingRow.id.desc())
        .limit(1)
    ).one_or_none()


def _blobs(photos: Iterable[ProcessedPhoto]) -> list[bytes]:
    """Return the files each photo is kept as: the photo and its thumbnail."""
    return [blob for photo in photos for blob in (photo.jpeg, photo.thumbnail)]
