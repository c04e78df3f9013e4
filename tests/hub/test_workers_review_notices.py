"""One queued notice a worker cannot take must not stop every page, on every hub worker.

A notice row of a channel this version does not know (queued by a newer hub worker during a
rolling upgrade, or left behind after rolling one back) makes ``claim_notifications`` raise
inside its transaction, so the whole claim rolls back: no notice is claimed, round after round,
and no page goes out from that worker again. Now such a row is left out of the claim, for a
worker that knows its channel.
"""

from sqlalchemy import Engine

from hub.cases.notify import Channel
from hub.persistence.tables import NotificationRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock


def test_a_notice_of_an_unknown_channel_does_not_stop_the_others(
    pg_engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(pg_engine, clock=clock)
    with store.db.writing() as session:
        for channel, target in (("sms", "+8613800000000"), ("webhook", "http://gw.invalid/h")):
            session.add(
                NotificationRow(
                    channel=channel,
                    target=target,
                    payload={"category": "life_safety"},
                    created_at=clock.now,
                    attempts=0,
                    next_attempt_at=clock.now,
                )
            )

    claimed = store.notices.claim_notifications(clock.now)

    assert [(n.channel, n.target) for n in claimed] == [(Channel.WEBHOOK, "http://gw.invalid/h")]
