"""A case handed over while the paging gateway is down: when it is back, each responder
still waited for is paged once, not once by the old dispatch and again by the hand-over.

Before, only a later notice of the same event said an earlier one again
(``NoticeRepository._give_up_superseded``): the dispatch to wang and li and the hand-over to
zhao and li (both naming li, who has not answered) went out side by side, and li's pager
rang twice for one case (outside review of the console's failing pages)."""

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from hub.cases.notifier import Notifier
from hub.cases.rules import CaseAction
from hub.roster.rules import Responder, ResponderRole
from tests.hub.conftest import FakeClock
from tests.hub.test_dispatch_review_gateway_down import run_hub
from tests.hub.test_notifier_review_gateway_down import DOWN, press, staffed_store
from tests.hub.webhook_gateway import Gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


async def test_a_hand_over_during_an_outage_pages_each_responder_once_when_it_is_back(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = staffed_store(engine, clock, gateway)
    zhao = Responder(id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.GRID_WORKER)
    store.roster.put_responder(zhao)
    case_id = press(store, clock)  # dispatched to wang and li: neither is paged
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await run_hub(store, notifier, clock, 30)
        # wang answers by phone, and hands his duty to zhao; li is still waited for.
        store.cases.act(case_id, CaseAction.ACCEPT, actor="wang", for_self=True)
        store.cases.act(case_id, CaseAction.HAND_OVER, assignee="zhao", actor="op.wang")
        await run_hub(store, notifier, clock, 60)
        assert gateway.bodies == []
        gateway.failures = 0
        await run_hub(store, notifier, clock, 60)
    sends = [b for b in gateway.bodies if b["event"] in ("dispatched", "handed_over")]
    assert [b["event"] for b in sends] == ["handed_over"]
    paged = Counter(who for b in sends for who in b["team"])
    assert paged == {"zhao": 1, "li": 1}
    counts = store.notices.notification_counts()
    assert counts["pending"] == 0
    assert store.audit.verify_audit().intact
