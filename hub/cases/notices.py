"""The notices queue: case notices stored with their case change, claimed and delivered."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.cases.dispatch import team_of
from hub.cases.notify import CaseNotice, Channel, next_attempt, notice_topic
from hub.cases.rules import CaseEventAction
from hub.persistence.tables import CaseMemberRow, CaseRow, NotificationRow
from hub.persistence.transactions import Database

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    """A notice a worker holds for delivery."""

    id: int
    channel: Channel
    target: str
    """The webhook URL, or the MQTT topic."""
    payload: dict[str, Any]


def enqueue_notices(
    session: Session,
    targets: Sequence[tuple[Channel, str]],
    case_id: int,
    action: CaseEventAction,
    now: datetime,
    note: str | None,
) -> None:
    """Queue a case event's notice for each target, in the transaction of the change."""
    session.flush()  # the case row and its members as they are now
    row = session.get_one(CaseRow, case_id)
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


class NoticeRepository:
    """Claims and settles queued notices; each public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_notifications(
        self, now: datetime, *, limit: int = 50, lease: timedelta = timedelta(seconds=30)
    ) -> list[ClaimedNotice]:
        """Claim due notices for delivery (oldest first); another worker will not take them
        until the lease runs out."""
        with self._db.writing() as session:
            due = session.scalars(
                select(NotificationRow.id)
                .where(
                    NotificationRow.next_attempt_at <= now,
                    (NotificationRow.claimed_until.is_(None))
                    | (NotificationRow.claimed_until <= now),
                )
                .order_by(NotificationRow.id)
                .limit(limit)
            ).all()
            claimed: list[ClaimedNotice] = []
            for notice_id in due:
                won = session.execute(
                    update(NotificationRow)
                    .where(
                        NotificationRow.id == notice_id,
                        NotificationRow.next_attempt_at.is_not(None),
                        (NotificationRow.claimed_until.is_(None))
                        | (NotificationRow.claimed_until <= now),
                    )
                    .values(claimed_until=now + lease, attempts=NotificationRow.attempts + 1)
                    .returning(
                        NotificationRow.channel, NotificationRow.target, NotificationRow.payload
                    )
                ).one_or_none()
                if won is not None:
                    channel, target, payload = won
                    claimed.append(ClaimedNotice(notice_id, Channel(channel), target, payload))
            return claimed

    def finish_notification(self, notice_id: int, now: datetime, error: str | None) -> bool:
        """Record a delivery attempt; return False if the notice was given up for good."""
        with self._db.writing() as session:
            row = session.get_one(NotificationRow, notice_id, with_for_update=True)
            row.claimed_until = None
            if error is None:
                row.delivered_at, row.next_attempt_at, row.last_error = now, None, None
                return True
            row.last_error = error[:2000]
            row.next_attempt_at = next_attempt(row.attempts, now)
            if row.next_attempt_at is None:
                row.failed_at = now
                logger.error(
                    "notice %s (case %s, notice %s) to %s given up after %d attempts: %s",
                    row.id,
                    row.case_id,
                    row.notice_id,
                    row.target,
                    row.attempts,
                    error,
                )
                return False
            return True

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
