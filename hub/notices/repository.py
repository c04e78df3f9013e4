"""The notices' repository: a notice, its recipients and their copies out in one
transaction, the households' read receipts, and what operators and households see of them."""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.chain import AuditAction, AuditRecord
from hub.cases.notices import Outgoing, enqueue
from hub.cases.notify import Channel
from hub.errors import NotFoundError
from hub.notices.rules import (
    URGENT,
    FamilyContact,
    Home,
    NoticeCategory,
    NoticeScope,
    Recipient,
    audience,
    copies,
    delivery,
)
from hub.notices.views import CopyCounts, CopyView, HouseholdNotice, NewNotice, NoticeView, Receipt
from hub.persistence.community import (
    CareContactRow,
    CareProfileRow,
    NoticeRecipientRow,
    NoticeRow,
)
from hub.persistence.tables import HouseholdRow, NotificationRow
from hub.persistence.transactions import Database, audit, clean, get_existing
from hub.residents.repository import household_sites_in


class NoticeRepository:
    """Reads and writes notices; each public method is one transaction."""

    def __init__(self, db: Database, household_targets: Sequence[tuple[Channel, str]] = ()) -> None:
        self._db = db
        self._targets = tuple(household_targets)
        """Where each household's own copy goes (``hub.cases.notify.household_targets``)."""

    def send(
        self, notice: NewNotice, actor: str | None, *, sites: frozenset[str] | None = None
    ) -> NoticeView:
        """Store a notice for the households its scope names (only of ``sites``, if given)."""
        now = self._db.clock()
        with self._db.writing() as session:
            placed = household_sites_in(session)
            homes = [
                Home(id=household_id, location=location, site_id=placed.get(household_id))
                for household_id, location in session.execute(
                    select(HouseholdRow.id, HouseholdRow.location)
                )
                if sites is None or placed.get(household_id) in sites
            ]
            chosen = audience(
                homes,
                notice.scope,
                site_id=notice.site_id,
                building=notice.building,
                household_ids=notice.household_ids,
            )
            row = NoticeRow(
                category=notice.category.value,
                title=clean(notice.title),
                body=clean(notice.body),
                scope=notice.scope.value,
                site_id=notice.site_id,
                building=notice.building,
                created_at=now,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            session.add_all(
                NoticeRecipientRow(notice_id=row.id, household_id=h, read_at=None) for h in chosen
            )
            self._queue_copies(session, row, chosen, now)
            audit(
                session,
                AuditRecord(
                    ts=now,
                    action=AuditAction.NOTICE_SENT,
                    actor=actor,
                    detail={
                        "notice_id": row.id,
                        "category": row.category,
                        "scope": row.scope,
                        "households": chosen,
                    },
                ),
            )
            session.flush()
            return _operator_view(session, row, _kept_households(session, sites))

    def _queue_copies(
        self, session: Session, row: NoticeRow, chosen: list[int], now: datetime
    ) -> None:
        """Queue each recipient's copies out, in the notice's transaction (never lost, sent once
        by the notifier)."""
        recipients = [
            Recipient(id=h, name=name, token_hash=token_hash)
            for h, name, token_hash in session.execute(
                select(HouseholdRow.id, HouseholdRow.name, HouseholdRow.token_hash)
                .where(HouseholdRow.id.in_(chosen))
                .order_by(HouseholdRow.id)
            )
        ]
        family: defaultdict[int, list[FamilyContact]] = defaultdict(list)
        for contact in session.scalars(
            select(CareContactRow)
            .join(CareProfileRow, CareProfileRow.household_id == CareContactRow.household_id)
            .where(CareContactRow.household_id.in_(chosen), CareProfileRow.enabled.is_(True))
            .order_by(CareContactRow.id)
        ):
            family[contact.household_id].append(
                FamilyContact(
                    name=contact.name,
                    relation=contact.relation,
                    channel=Channel(contact.channel),
                    target=contact.target,
                )
            )
        for copy in copies(
            notice_id=row.id,
            ts=now,
            category=NoticeCategory(row.category),
            title=row.title,
            body=row.body,
            recipients=recipients,
            household_targets=self._targets,
            family=family,
        ):
            enqueue(
                session,
                Outgoing(copy.channel, copy.target, copy.message.model_dump(mode="json")),
                now,
                notice_id=row.id,
                household_id=copy.household_id,
                contact=copy.contact,
            )

    def list_notices(
        self, *, sites: frozenset[str] | None = None, limit: int = 100
    ) -> list[NoticeView]:
        """Return notices, newest first (a scoped caller: those sent to its sites' homes,
        each showing those homes only)."""
        query = select(NoticeRow).order_by(NoticeRow.id.desc()).limit(limit)
        with self._db.reading() as session:
            if sites is not None:
                # Limited among the caller's notices, not everyone's: the sent-to check is in
                # the query, before the limit.
                homes = [h for h, site in household_sites_in(session).items() if site in sites]
                query = query.where(
                    select(NoticeRecipientRow.notice_id)
                    .where(
                        NoticeRecipientRow.notice_id == NoticeRow.id,
                        NoticeRecipientRow.household_id.in_(homes),
                    )
                    .exists()
                )
            rows = session.scalars(query).all()
            kept = _kept_households(session, sites)
            return [_operator_view(session, row, kept) for row in rows]

    def get_notice(self, notice_id: int, *, sites: frozenset[str] | None = None) -> NoticeView:
        """Return one notice with its read receipts, or raise NotFoundError (a scoped caller:
        also for a notice that reached none of its sites' homes, and it sees those only)."""
        missing = f"notice {notice_id} does not exist"
        with self._db.reading() as session:
            row = get_existing(session, NoticeRow, notice_id, missing)
            view = _operator_view(session, row, _kept_households(session, sites))
        if sites is not None and not view.receipts:
            raise NotFoundError(missing)
        return view

    def household_notices(self, household_id: int) -> list[HouseholdNotice]:
        """Return the notices a household got: urgent ones first, then newest first."""
        with self._db.reading() as session:
            found = session.execute(
                select(NoticeRow, NoticeRecipientRow.read_at)
                .join(NoticeRecipientRow, NoticeRecipientRow.notice_id == NoticeRow.id)
                .where(NoticeRecipientRow.household_id == household_id)
                .order_by(NoticeRow.id.desc())
            ).all()
        notices = [_household_view(row, read_at) for row, read_at in found]
        return sorted(notices, key=lambda n: (not n.urgent, n.read_at is not None, -n.id))

    def mark_read(self, household_id: int, notice_id: int) -> HouseholdNotice:
        """Record that a household read a notice (the first time counts); another
        household's notice is a 404."""
        now = self._db.clock()
        with self._db.writing() as session:
            receipt = session.get(
                NoticeRecipientRow, (notice_id, household_id), with_for_update=True
            )
            if receipt is None:
                raise NotFoundError(f"notice {notice_id} does not exist")
            if receipt.read_at is None:
                receipt.read_at = now
                audit(
                    session,
                    AuditRecord(
                        ts=now,
                        action=AuditAction.NOTICE_READ,
                        actor=f"household-{household_id}",
                        detail={"notice_id": notice_id, "household_id": household_id},
                    ),
                )
            row = session.get_one(NoticeRow, notice_id)
            session.flush()
            return _household_view(row, receipt.read_at)


def _household_view(row: NoticeRow, read_at: object) -> HouseholdNotice:
    category = NoticeCategory(row.category)
    return HouseholdNotice.model_validate(
        {
            "id": row.id,
            "category": category,
            "title": row.title,
            "body": row.body,
            "created_at": row.created_at,
            "read_at": read_at,
            "urgent": category in URGENT,
        }
    )


def _kept_households(session: Session, sites: frozenset[str] | None) -> Callable[[int], bool]:
    """Return which households a caller scoped to ``sites`` may see of a notice."""
    if sites is None:
        return lambda _household_id: True
    placed = household_sites_in(session)
    return lambda household_id: placed.get(household_id) in sites


def _operator_view(session: Session, row: NoticeRow, kept: Callable[[int], bool]) -> NoticeView:
    """Return the notice as operators see it, with only the households ``kept`` keeps (their
    receipts, their copies, and the counts of them): another site's homes, their names and
    their family contacts are not a scoped operator's to read."""
    sent: defaultdict[int, list[CopyView]] = defaultdict(list)
    for out in session.scalars(
        select(NotificationRow)
        .where(NotificationRow.notice_id == row.id)
        .order_by(NotificationRow.id)
    ):
        if out.household_id is None or not kept(out.household_id):
            continue
        sent[out.household_id].append(
            CopyView(
                contact=out.contact or "",
                channel=out.channel,
                status=delivery(out.delivered_at, out.failed_at),
                attempts=out.attempts,
                delivered_at=out.delivered_at,
                last_error=out.last_error,
            )
        )
    counts = Counter(c.status.value for views in sent.values() for c in views)
    receipts = [
        Receipt(
            household_id=household_id,
            household_name=name,
            read_at=read_at,
            copies=sent.get(household_id, []),
        )
        for household_id, name, read_at in session.execute(
            select(NoticeRecipientRow.household_id, HouseholdRow.name, NoticeRecipientRow.read_at)
            .join(HouseholdRow, HouseholdRow.id == NoticeRecipientRow.household_id)
            .where(NoticeRecipientRow.notice_id == row.id)
            .order_by(NoticeRecipientRow.household_id)
        )
        if kept(household_id)
    ]
    return NoticeView(
        id=row.id,
        category=NoticeCategory(row.category),
        title=row.title,
        body=row.body,
        scope=NoticeScope(row.scope),
        site_id=row.site_id,
        building=row.building,
        created_at=row.created_at,
        created_by=row.created_by,
        recipients=len(receipts),
        read=sum(1 for r in receipts if r.read_at is not None),
        copies=CopyCounts.model_validate(dict(counts)),
        receipts=receipts,
    )
