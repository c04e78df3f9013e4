"""Telling a household through its messaging gateway that its request moved on (received →
assigned → visit planned → in progress → done, and back on a reopening).

Every request's stage is a function of its case (``rules.request_stage``); the stage the
household was last told is stored on the request (``told_stage``). ``StageTeller.tell_changes``
looks at the requests that may have moved, and for each whose stage differs from the one told
queues a signed webhook to the gateway (``gateway_outbound_url``) on the notifications queue, in
the same transaction that records the stage as told: the case notifier delivers it once, with
its retries. The update is conditional on the stage told before, so two hub workers never tell
the same change twice. ``StageWatch`` runs it every ``stage_check_interval_s``.

Done at the edge of the case machinery, not inside it: a stage is the household's view of a
case, and a case's actions, the supervisor and the request's own updates all change it.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import or_, select, update

from hub.cases.dispatch import team_of
from hub.cases.notices import Outgoing, enqueue
from hub.cases.notify import Channel
from hub.cases.rules import ACTIVE, CaseStatus
from hub.persistence.community import RequestRow
from hub.persistence.tables import CaseRow, HouseholdRow
from hub.persistence.transactions import Database
from hub.requests.reading import planned_visits
from hub.requests.rules import RequestCategory, RequestStage, request_stage

logger = logging.getLogger(__name__)


class StageMessage(BaseModel):
    """The JSON a messaging gateway receives when a household's request moves on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    type: Literal["request_stage"] = "request_stage"
    request_id: int
    ts: AwareDatetime
    category: RequestCategory
    stage: RequestStage
    previous_stage: RequestStage | None
    household_id: int
    household_token_sha256: str
    """Hex SHA-256 of the household's page token, as in a notice's copy."""


class StageTeller:
    """Queues the gateway's messages for requests whose stage changed; one transaction."""

    def __init__(self, db: Database, household_targets: Sequence[tuple[Channel, str]]) -> None:
        self._db = db
        self._targets = [(c, t) for c, t in household_targets if c is Channel.WEBHOOK]
        """Only the webhook (the gateway): an MQTT listener has the case notices already."""

    def tell_changes(self, *, limit: int = 500) -> int:
        """Queue a message for each request whose stage moved since the household was last
        told; return how many were queued. Every open request is looked at, ``limit`` per
        transaction: the first ``limit`` open requests, unchanged, must not hide the rest."""
        if not self._targets:
            return 0
        told = 0
        after: int | None = 0
        while after is not None:
            counted, after = self._tell_batch(after, limit)
            told += counted
        return told

    def _tell_batch(self, after: int, limit: int) -> tuple[int, int | None]:
        """Tell the changes of up to ``limit`` requests with ids above ``after``; return how
        many were told and the last id looked at (None: there are no more)."""
        now = self._db.clock()
        told = 0
        with self._db.writing() as session:
            rows = session.execute(
                select(RequestRow, CaseRow, HouseholdRow.token_hash)
                .join(CaseRow, CaseRow.id == RequestRow.case_id)
                .join(HouseholdRow, HouseholdRow.id == RequestRow.household_id)
                .where(
                    RequestRow.id > after,
                    or_(
                        RequestRow.told_stage.is_(None),
                        RequestRow.told_stage != RequestStage.DONE.value,
                        CaseRow.status.in_([s.value for s in ACTIVE]),
                    ),
                )
                .order_by(RequestRow.id)
                .limit(limit)
            ).all()
            last = rows[-1][0].id if len(rows) == limit else None
            visits = planned_visits(session, [request for request, _, _ in rows])
            for request, case, token_hash in rows:
                visit_at = visits[request.id]
                stage = request_stage(CaseStatus(case.status), team_of(case.team), visit_at)
                before = request.told_stage
                if stage.value == before:
                    continue
                won = session.execute(
                    update(RequestRow)
                    .where(
                        RequestRow.id == request.id,
                        RequestRow.told_stage.is_(None)
                        if before is None
                        else RequestRow.told_stage == before,
                    )
                    .values(told_stage=stage.value)
                    .returning(RequestRow.id)
                    .execution_options(synchronize_session=False)
                ).one_or_none()
                if won is None:
                    continue  # another worker told this change
                message = StageMessage(
                    request_id=request.id,
                    ts=now,
                    category=RequestCategory(request.category),
                    stage=stage,
                    previous_stage=None if before is None else RequestStage(before),
                    household_id=request.household_id,
                    household_token_sha256=token_hash,
                )
                payload = message.model_dump(mode="json")
                for channel, target in self._targets:
                    enqueue(
                        session,
                        Outgoing(channel, target, payload),
                        now,
                        case_id=case.id,
                        household_id=request.household_id,
                        contact="household",
                    )
                told += 1
        return told, last


class StageWatch:
    """Runs ``StageTeller.tell_changes`` every ``interval`` seconds until cancelled."""

    def __init__(self, teller: StageTeller, *, interval: float) -> None:
        self._teller = teller
        self._interval = interval

    async def run(self) -> None:
        """Tell the changes, round after round; a failed round is logged and the next runs."""
        while True:
            try:
                await asyncio.to_thread(self._teller.tell_changes)
            except Exception:
                logger.exception("telling households their requests' stages failed; next round")
            await asyncio.sleep(self._interval)
