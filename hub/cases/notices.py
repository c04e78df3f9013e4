"""The notices queue: case notices stored with their case change, claimed and delivered."""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import team_of
from hub.cases.notify import (
    MAX_ATTEMPTS,
    CaseNotice,
    Channel,
    DeliveryFailure,
    next_attempt,
    notice_topic,
)
from hub.cases.rules import CaseEventAction
from hub.cases.supervision import DEFAULT_POLICY, SupervisionPolicy
from hub.persistence.tables import CaseMemberRow, CaseRow, NotificationRow, SiteRow
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


class Settled(StrEnum):
    """What recording a delivery attempt did to its notice."""

    DELIVERED = "delivered"
    RETRY = "retry"
    """Failed; tried again later, by this worker or another."""
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

        A notice claimed ``MAX_ATTEMPTS`` times whose worker never recorded an outcome (it
        died or hung on it each time) is given up here instead of being claimed again. One of a
        channel this version does not know (queued by a newer worker during a rolling upgrade,
        or left after rolling one back) is left for a worker that knows it: read as one, it
        failed the whole claim, round after round, and no page went out from this worker.
        """
        claimable = (NotificationRow.next_attempt_at <= now) & (
            NotificationRow.claimed_until.is_(None) | (NotificationRow.claimed_until <= now)
        )
        known = NotificationRow.channel.in_([channel.value for channel in Channel])
        with self._db.writing() as session:
            self._give_up_unsettled(session, claimable, now)
            due = self._due(session, claimable & known, limit, per_gateway, dict(in_flight or {}))
            claimed: list[ClaimedNotice] = []
            for notice_id in due:
                won = session.execute(
                    update(NotificationRow)
                    .where(
                        NotificationRow.id == notice_id,
                        claimable,
                        known,
                        NotificationRow.attempts < MAX_ATTEMPTS,
                    )
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
        due = claimable & (NotificationRow.attempts < MAX_ATTEMPTS)
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

    def _give_up_unsettled(
        self, session: Session, claimable: ColumnElement[bool], now: datetime
    ) -> None:
        given_up = session.execute(
            update(NotificationRow)
            .where(claimable, NotificationRow.attempts >= MAX_ATTEMPTS)
            .values(
                next_attempt_at=None,
                claimed_until=None,
                failed_at=now,
                last_error="claimed too many times without an outcome: its worker died or hung",
            )
            .returning(NotificationRow.id, NotificationRow.case_id, NotificationRow.target)
        ).all()
        for notice_id, case_id, target in given_up:
            logger.error(
                "notice %s (case %s) to %s given up: claimed %d times, never settled",
                notice_id,
                case_id,
                target,
                MAX_ATTEMPTS,
            )

    def finish_notification(
        self, notice: ClaimedNotice, now: datetime, failure: DeliveryFailure | None
    ) -> Settled:
        """Record a delivery attempt, only while the worker still holds its lease (else a late
        finisher would clear another worker's claim and the notice go out twice more)."""
        with self._db.writing() as session:
            row = session.scalars(
                select(NotificationRow)
                .where(
                    NotificationRow.id == notice.id,
                    NotificationRow.claimed_until == notice.lease,
                    NotificationRow.next_attempt_at.is_not(None),
                )
                .with_for_update()
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
                return Settled.DELIVERED
            row.last_error = failure.error[:2000]
            row.next_attempt_at = None if failure.permanent else next_attempt(row.attempts, now)
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
                return Settled.GIVEN_UP
            return Settled.RETRY

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
