"""The notices queue: case notices stored with their case change, claimed and delivered."""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import pending, team_of
from hub.cases.notice_lines import (
    answers_failing,
    case_notice,
    family,
    has_failed_lines,
    say_delivered,
    say_failed,
    say_page_failing,
)
from hub.cases.notify import (
    CALLS_OUT,
    MAX_ATTEMPTS,
    SENDS,
    CaseNotice,
    Channel,
    DeliveryFailure,
    PagedCase,
    next_attempt,
    notice_topic,
    still_paging,
)
from hub.cases.rules import ACTIVE, CaseEventAction, CaseStatus
from hub.cases.supervision import DEFAULT_POLICY, SupervisionPolicy
from hub.persistence.tables import (
    CaseEventRow,
    CaseMemberRow,
    CaseRow,
    NotificationRow,
    SiteRow,
)
from hub.persistence.transactions import Database

logger = logging.getLogger(__name__)

LIFE_SAFETY = CaseCategory.LIFE_SAFETY.value


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    """A notice a worker holds for delivery."""

    id: int
    channel: Channel
    target: str
    """The webhook URL, or the MQTT topic."""
    payload: dict[str, Any]
    lease: datetime | None = None
    """Until when the worker holds it (as stored): its outcome is recorded only while so."""


def enqueue_notices(
    session: Session,
    targets: Sequence[tuple[Channel, str]],
    case_id: int,
    action: CaseEventAction,
    now: datetime,
    note: str | None,
    *,
    supervision: SupervisionPolicy = DEFAULT_POLICY,
) -> None:
    """Queue a case event's notice for each target, in the transaction of the change
    (``supervision`` names its escalation level)."""
    session.flush()  # the case row and its members as they are now
    row = session.get_one(CaseRow, case_id)
    site = None if row.site_id is None else session.get(SiteRow, row.site_id)
    kinds = session.scalars(
        select(CaseMemberRow.kind)
        .where(CaseMemberRow.case_id == case_id)
        .order_by(CaseMemberRow.first_alert_at, CaseMemberRow.kind)
    ).all()
    notice = CaseNotice(
        event=action,
        ts=now,
        case_id=case_id,
        status=row.status,
        category=row.category,
        priority=row.priority,
        place=row.place,
        kinds=list(dict.fromkeys(kinds)) or [row.kind],
        assignee=row.assignee,
        team=[a.responder for a in team_of(row.team)],
        escalation_level=row.escalation_level,
        note=note,
        level_name=supervision.level_name(row.escalation_level),
        site_id=row.site_id,
        street=None if site is None else site.street,
        district=None if site is None else site.district,
    )
    payload = notice.model_dump(mode="json")
    for channel, target in targets:
        enqueue(
            session,
            Outgoing(channel, notice_topic(notice) if channel is Channel.MQTT else target, payload),
            now,
            case_id=case_id,
        )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to queue: where it goes and the JSON it carries."""

    channel: Channel
    target: str
    """The webhook URL, or the MQTT topic."""
    payload: dict[str, Any]


def enqueue(
    session: Session,
    message: Outgoing,
    now: datetime,
    *,
    case_id: int | None = None,
    notice_id: int | None = None,
    household_id: int | None = None,
    contact: str | None = None,
) -> None:
    """Queue one message for the notifier, in the caller's transaction (a case's notice, or a
    household's copy of a notice)."""
    session.add(
        NotificationRow(
            case_id=case_id,
            notice_id=notice_id,
            household_id=household_id,
            contact=contact,
            channel=message.channel.value,
            target=message.target,
            payload=message.payload,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class Page:
    """What became of the pages asking a responder about a case since their assignment."""

    queued: bool
    """A dispatch or hand-over notice naming them (``SENDS``) was queued."""
    delivered_at: datetime | None
    """When the first of those went out."""
    tried: bool
    """One of those is still being tried."""


def page_of(session: Session, case_id: int, responder: str, since: datetime) -> Page:
    """Return what became of the pages asking ``responder`` about the case since ``since``."""
    rows = session.execute(
        select(
            NotificationRow.payload, NotificationRow.delivered_at, NotificationRow.next_attempt_at
        )
        .where(
            NotificationRow.case_id == case_id,
            NotificationRow.created_at >= since,
            NotificationRow.payload["event"].as_string().in_([e.value for e in SENDS]),
        )
        .order_by(NotificationRow.id)
    ).all()
    naming = [(out, due) for payload, out, due in rows if responder in (payload.get("team") or ())]
    return Page(
        queued=bool(naming),
        delivered_at=min((out for out, _ in naming if out is not None), default=None),
        tried=any(due is not None for _, due in naming),
    )


class Settled(StrEnum):
    """What recording a delivery attempt did to its notice."""

    DELIVERED = "delivered"
    RETRY = "retry"
    """Failed; tried again later, by this worker or another."""
    FAILING = "failing"
    """Failed ``MAX_ATTEMPTS`` times and still paging (``still_paging``): tried on, and its
    case's history says it is failing."""
    GIVEN_UP = "given_up"
    LOST = "lost"
    """The worker's lease had run out and another worker holds the notice: nothing recorded."""


class NoticeRepository:
    """Claims and settles queued notices; each public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_notifications(
        self,
        now: datetime,
        *,
        limit: int = 50,
        lease: timedelta = timedelta(seconds=30),
        per_gateway: int | None = None,
        in_flight: Mapping[str, int] | None = None,
    ) -> list[ClaimedNotice]:
        """Claim due notices for delivery, life-safety ones first, then oldest first; another
        worker will not take them until the lease runs out.

        ``per_gateway``: claim no more for one gateway (``gateway_of``) than that, less those
        of its the caller is delivering now (``in_flight``), so a backlog of notices to a
        gateway that hangs cannot take every slot from the pages behind it.

        A notice whose claim ran out with no outcome recorded (its worker died or hung on it)
        is settled as a failed try first (``_settle_unsettled``): given up once that happened
        ``MAX_ATTEMPTS`` times running, never for one death of a page still paging. One of a
        channel this version does not know (queued by a newer worker during a rolling upgrade,
        or left after rolling one back) is left for a worker that knows it: read as one, it
        failed the whole claim, round after round, and no page went out from this worker.
        """
        claimable = (NotificationRow.next_attempt_at <= now) & (
            NotificationRow.claimed_until.is_(None) | (NotificationRow.claimed_until <= now)
        )
        known = NotificationRow.channel.in_([channel.value for channel in Channel])
        with self._db.writing() as session:
            self._settle_unsettled(session, claimable, now)
            self._give_up_superseded(session, claimable, now)
            due = self._due(session, claimable & known, limit, per_gateway, dict(in_flight or {}))
            claimed: list[ClaimedNotice] = []
            for notice_id in due:
                won = session.execute(
                    update(NotificationRow)
                    .where(NotificationRow.id == notice_id, claimable, known, _triable())
                    .values(claimed_until=now + lease, attempts=NotificationRow.attempts + 1)
                    .returning(
                        NotificationRow.channel,
                        NotificationRow.target,
                        NotificationRow.payload,
                        NotificationRow.claimed_until,
                    )
                ).one_or_none()
                if won is not None:
                    channel, target, payload, until = won
                    claimed.append(
                        ClaimedNotice(notice_id, Channel(channel), target, payload, until)
                    )
            return claimed

    @staticmethod
    def _due(
        session: Session,
        claimable: ColumnElement[bool],
        limit: int,
        per_gateway: int | None,
        in_flight: dict[str, int],
    ) -> list[int]:
        """Return the ids of the notices to claim, in order, each gateway's share at most."""
        urgent = case((NotificationRow.payload["category"].as_string() == LIFE_SAFETY, 0), else_=1)
        due = claimable & _triable()
        if per_gateway is None:
            query = select(NotificationRow.id).where(due).order_by(urgent, NotificationRow.id)
            return list(session.scalars(query.limit(limit)))
        gateway = case(
            (NotificationRow.channel == Channel.MQTT.value, Channel.MQTT.value),
            else_=NotificationRow.target,
        )
        full = sorted(g for g, n in in_flight.items() if n >= per_gateway)
        if full:
            due &= gateway.not_in(full)
        ranked = (
            select(
                NotificationRow.id.label("id"),
                gateway.label("gateway"),
                urgent.label("urgent"),
                func.row_number()
                .over(partition_by=gateway, order_by=(urgent, NotificationRow.id))
                .label("rank"),
            )
            .where(due)
            .subquery()
        )
        # Up to each gateway's share by rank in SQL; what it has in flight is taken off below
        # (at most that many more rows read).
        rows = session.execute(
            select(ranked.c.id, ranked.c.gateway)
            .where(ranked.c.rank <= per_gateway)
            .order_by(ranked.c.urgent, ranked.c.id)
            .limit(limit + sum(in_flight.values()))
        ).all()
        taken: list[int] = []
        for notice_id, name in rows:
            if in_flight.get(name, 0) < per_gateway and len(taken) < limit:
                taken.append(notice_id)
                in_flight[name] = in_flight.get(name, 0) + 1
        return taken

    def _settle_unsettled(
        self, session: Session, claimable: ColumnElement[bool], now: datetime
    ) -> None:
        """Record a failed try, as its worker would have, for each notice whose claim ran out
        with no outcome (its worker died or hung on it), before anything is claimed: tried on
        at once, or given up as after any failure (``_still_paging``), and its page said
        failing if it is now (``say_page_failing``). A notice claimed ``MAX_ATTEMPTS`` times
        running with no outcome is given up (one that kills its worker is not claimed for
        ever); a page tried on past ``MAX_ATTEMPTS`` whose worker died once is not: its tries
        had outcomes, its gateway's answers (before, the sweep gave it up: nobody was paged)."""
        unsettled = claimable & NotificationRow.claimed_until.is_not(None)
        # Their cases first, then the notices (``finish_notification``'s order).
        _lock_cases(
            session,
            session.scalars(
                select(NotificationRow.case_id).where(
                    unsettled, NotificationRow.case_id.is_not(None)
                )
            ).all(),
        )
        rows = session.scalars(
            select(NotificationRow)
            .where(unsettled)
            .order_by(NotificationRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for row in rows:
            times = _no_outcome_times(row.last_error) + 1
            row.claimed_until = None
            row.last_error = _no_outcome_error(times)
            stop: str | None = None
            if times >= MAX_ATTEMPTS:
                stop = f"its worker died or hung on it {times} times running"
            elif row.attempts >= MAX_ATTEMPTS:
                stop = self._still_paging(session, row)
            if stop is None:
                # Still due: claimed again in this round, as an expired claim always was.
                say_page_failing(session, row, now, own_tries_out=row.attempts == MAX_ATTEMPTS)
                continue
            row.next_attempt_at, row.failed_at = None, now
            logger.error(
                "notice %s (case %s) to %s given up: claimed %d times, %d running with no "
                "outcome: %s",
                row.id,
                row.case_id,
                row.target,
                row.attempts,
                times,
                stop,
            )
            say_failed(session, row, now, given_up=stop)

    def _give_up_superseded(
        self, session: Session, claimable: ColumnElement[bool], now: datetime
    ) -> None:
        """Give up the life-safety call-outs and dispatches that failed before and that a
        later one of the same event of the case (a dispatch or hand-over: either, ``family``),
        to the same target, says again as the case is now (delivered, or still tried): a
        gateway back from a few minutes' outage gets the newest escalation, once, not each one
        queued meanwhile (``still_paging`` does so only after ``MAX_ATTEMPTS``). A copy never
        tried yet goes out as it is. No history line: the later one is the page, and says so
        if it fails in turn."""
        later = aliased(NotificationRow)
        event = NotificationRow.payload["event"].as_string()
        given_up = session.execute(
            update(NotificationRow)
            .where(
                claimable,
                NotificationRow.attempts >= 1,
                NotificationRow.case_id.is_not(None),
                NotificationRow.payload["category"].as_string() == LIFE_SAFETY,
                event.in_([e.value for e in CALLS_OUT | SENDS]),
                exists().where(
                    later.case_id == NotificationRow.case_id,
                    later.target == NotificationRow.target,
                    later.id > NotificationRow.id,
                    later.delivered_at.is_not(None) | later.next_attempt_at.is_not(None),
                    family(later.payload["event"].as_string()) == family(event),
                ),
            )
            .values(next_attempt_at=None, failed_at=now)
            .returning(NotificationRow.id, NotificationRow.case_id)
            .execution_options(synchronize_session=False)
        ).all()
        for notice_id, case_id in given_up:
            logger.info(
                "notice %s (case %s): a later one says it again, given up", notice_id, case_id
            )

    def finish_notification(
        self, notice: ClaimedNotice, now: datetime, failure: DeliveryFailure | None
    ) -> Settled:
        """Record a delivery attempt, only while the worker still holds its lease (else a late
        finisher would clear another worker's claim and the notice go out twice more).

        An outcome that may add a line to the case's history locks the case first, as every
        change of a case does (then the notice): two notices of one case failing at once
        deadlocked on PostgreSQL the other way round."""
        with self._db.writing() as session:
            head = session.execute(
                select(NotificationRow.case_id, NotificationRow.attempts).where(
                    NotificationRow.id == notice.id
                )
            ).one_or_none()
            answers = False
            case_id = None if head is None else head.case_id
            # Any failure may make its page failing (``say_page_failing``), a delivery answer
            # a line (``answers_failing``): the case is locked first, so two copies of one page
            # settled at once do not both say it, or miss the other's line.
            if case_id is not None and (failure is not None or has_failed_lines(session, case_id)):
                _lock_cases(session, [case_id])
                answers = failure is None and answers_failing(session, notice.id)
            row = session.scalars(
                select(NotificationRow)
                .where(
                    NotificationRow.id == notice.id,
                    NotificationRow.claimed_until == notice.lease,
                    NotificationRow.next_attempt_at.is_not(None),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one_or_none()
            if row is None:
                logger.warning(
                    "notice %s to %s: the lease ran out before its outcome (%s) was recorded",
                    notice.id,
                    notice.target,
                    "delivered" if failure is None else failure.error,
                )
                return Settled.LOST
            row.claimed_until = None
            if failure is None:
                row.delivered_at, row.next_attempt_at, row.last_error = now, None, None
                # Its history says it (or an earlier copy of its page) is failing: no more.
                if row.attempts > MAX_ATTEMPTS or answers:
                    say_delivered(session, row, now)
                return Settled.DELIVERED
            row.last_error = failure.error[:2000]
            life_safety = row.payload.get("category") == LIFE_SAFETY
            stop: str | None = "the target can never take it" if failure.permanent else None
            if stop is None and row.attempts >= MAX_ATTEMPTS:
                stop = self._still_paging(session, row)
            row.next_attempt_at = (
                None
                if stop is not None
                # Past MAX_ATTEMPTS only when still paging (``_still_paging`` said so).
                else next_attempt(row.attempts, now, life_safety=life_safety, keep_paging=True)
            )
            if row.next_attempt_at is None:
                row.failed_at = now
                logger.error(
                    "notice %s (case %s, notice %s) to %s given up after %d attempts: %s",
                    row.id,
                    row.case_id,
                    row.notice_id,
                    row.target,
                    row.attempts,
                    failure.error,
                )
                say_failed(session, row, now, given_up=stop or "no tries left")
                return Settled.GIVEN_UP
            if row.attempts == MAX_ATTEMPTS:
                logger.error(
                    "notice %s (case %s) to %s still failing after %d attempts, tried on: %s",
                    row.id,
                    row.case_id,
                    row.target,
                    row.attempts,
                    failure.error,
                )
                say_page_failing(session, row, now, own_tries_out=True)
                return Settled.FAILING
            say_page_failing(session, row, now, own_tries_out=False)
            return Settled.RETRY

    @staticmethod
    def _still_paging(session: Session, row: NotificationRow) -> str | None:
        """Return why a notice tried ``MAX_ATTEMPTS`` times may be given up now, or None to
        try it on (``still_paging``)."""
        notice = case_notice(row)
        if notice is None:
            return "not a case notice"
        case_row = session.get(CaseRow, notice.case_id)
        if case_row is None:
            return still_paging(notice, None)
        later = session.scalar(
            select(NotificationRow.id)
            .where(
                NotificationRow.case_id == row.case_id,
                NotificationRow.target == row.target,
                NotificationRow.id > row.id,
                NotificationRow.delivered_at.is_not(None)
                | NotificationRow.next_attempt_at.is_not(None),
                family(NotificationRow.payload["event"].as_string())
                == family(literal(notice.event.value)),
            )
            .limit(1)
        )
        paged = PagedCase(
            active=CaseStatus(case_row.status) in ACTIVE and case_row.merged_into is None,
            acknowledged=case_row.acknowledged_at is not None,
            waiting=pending(team_of(case_row.team)),
            superseded=later is not None,
        )
        return still_paging(notice, paged)

    def notice_lines_after(self, event_id: int | None) -> tuple[int, list[int]]:
        """Return the last history line's id, and the cases given a line about their notices
        after ``event_id`` (none for None: where a supervisor starts), for the live stream."""
        with self._db.reading() as session:
            if event_id is None:
                return session.scalar(select(func.max(CaseEventRow.id))) or 0, []
            rows = session.execute(
                select(CaseEventRow.id, CaseEventRow.case_id)
                .where(
                    CaseEventRow.id > event_id,
                    CaseEventRow.action.in_(
                        [CaseEventAction.NOTICE_FAILED.value, CaseEventAction.NOTICE_DELIVERED]
                    ),
                )
                .order_by(CaseEventRow.id)
            ).all()
        if not rows:
            return event_id, []
        return rows[-1][0], list(dict.fromkeys(case_id for _, case_id in rows))

    def notification_counts(self) -> dict[str, int]:
        """Return how many notices are pending, delivered and given up."""
        with self._db.reading() as session:
            pending = session.scalar(
                select(func.count()).where(NotificationRow.next_attempt_at.is_not(None))
            )
            delivered = session.scalar(
                select(func.count()).where(NotificationRow.delivered_at.is_not(None))
            )
            failed = session.scalar(
                select(func.count()).where(NotificationRow.failed_at.is_not(None))
            )
        return {"pending": pending or 0, "delivered": delivered or 0, "failed": failed or 0}


def _triable() -> ColumnElement[bool]:
    """A notice with tries left, or one tried on past ``MAX_ATTEMPTS`` whose last try recorded
    its outcome (``NoticeRepository._settle_unsettled`` settles the others first)."""
    return (NotificationRow.attempts < MAX_ATTEMPTS) | NotificationRow.claimed_until.is_(None)


_NO_OUTCOME = "claimed with no outcome"


def _no_outcome_error(times: int) -> str:
    """Return the last error of a notice whose last ``times`` claims recorded no outcome."""
    return f"{_NO_OUTCOME} {times} times running: its worker died or hung"


def _no_outcome_times(error: str | None) -> int:
    """Return how many claims running recorded no outcome, as ``_no_outcome_error`` says."""
    if error is None or not error.startswith(f"{_NO_OUTCOME} "):
        return 0
    count = error.removeprefix(f"{_NO_OUTCOME} ").split(" ", 1)[0]
    return int(count) if count.isdigit() else 0


def _lock_cases(session: Session, case_ids: Sequence[int | None]) -> None:
    """Lock the rows of the cases a line may be added to, in id order (a no-op on SQLite,
    whose writers take turns)."""
    ids = sorted({c for c in case_ids if c is not None})
    if ids:
        session.execute(
            select(CaseRow.id).where(CaseRow.id.in_(ids)).order_by(CaseRow.id).with_for_update()
        )
