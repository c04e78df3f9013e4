"""Notices (通知) out through the notification channels, on a real hub (SQLite and PostgreSQL):
each recipient household's copy to the messaging gateway and each care household's family
contact, queued with the notice, delivered once by the case notifier with its retries,
signed, and shown as delivered or given up on the notice's receipts."""

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.cases.notifier import Notifier
from hub.cases.notify import MAX_ATTEMPTS, Channel
from hub.notices.rules import FamilyContact as Family
from hub.notices.rules import NoticeCategory, NoticeMessage, Recipient, copies
from hub.store import HubStore
from linli.brokers import free_port
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client
from tests.hub.residents import household, send_notice
from tests.hub.webhook_gateway import Gateway
from tests.residents.messaging import SECRET, gateway_app, signed_gateway


@pytest.fixture
def wechat() -> Iterator[Gateway]:
    """The residents' messaging gateway: down for its first two calls."""
    yield from signed_gateway(failures=2)


@pytest.fixture
def family() -> Iterator[Gateway]:
    """The gateway a family contact's messages go through."""
    yield from signed_gateway()


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FakeClock, wechat: Gateway) -> FastAPI:
    return gateway_app(database_url, tmp_path, clock, wechat.url)


async def care_for(client: httpx.AsyncClient, household_id: int, contact_url: str) -> None:
    body = {
        "consent": {"by": "Zhao Min (daughter, guardian)"},
        "contacts": [
            {
                "name": "Zhao Min",
                "relation": "daughter",
                "channel": "webhook",
                "target": contact_url,
            }
        ],
    }
    response = await client.put(f"/api/v1/households/{household_id}/care", json=body)
    assert response.status_code == 200, response.text


async def deliver_all(notifier: Notifier, clock: FakeClock, rounds: int = MAX_ATTEMPTS) -> None:
    for _ in range(rounds):
        await notifier.deliver_due()
        clock.advance(300)


def test_each_recipient_gets_one_copy_per_target_and_family_contact() -> None:
    homes = [Recipient(1, "Wang", "a" * 64), Recipient(2, "Zhao", "b" * 64)]
    daughter = Family("Zhao Min", "daughter", Channel.WEBHOOK, "https://gw.test/daughter")
    found = copies(
        notice_id=7,
        ts=datetime.fromisoformat("2026-12-02T08:00:00+00:00"),
        category=NoticeCategory.EVACUATION,
        title="Leave now",
        body="…",
        recipients=homes,
        household_targets=[
            (Channel.WEBHOOK, "https://gw.test/wechat"),
            (Channel.MQTT, "linli/hub/cases"),
            (Channel.WEBHOOK, "https://gw.test/wechat"),  # named twice: one copy
        ],
        family={2: [daughter]},
    )
    assert [(c.household_id, c.contact, c.channel, c.target) for c in found] == [
        (1, "household", Channel.WEBHOOK, "https://gw.test/wechat"),
        (1, "household", Channel.MQTT, "linli/hub/notices/7/1"),
        (2, "household", Channel.WEBHOOK, "https://gw.test/wechat"),
        (2, "household", Channel.MQTT, "linli/hub/notices/7/2"),
        (2, "Zhao Min (daughter)", Channel.WEBHOOK, "https://gw.test/daughter"),
    ]
    assert all(c.message.urgent and c.message.notice_id == 7 for c in found)
    assert found[0].message.household_token_sha256 == "a" * 64
    # Nobody to send to: the notice is shown on the page only.
    none = copies(
        notice_id=8,
        ts=datetime.fromisoformat("2026-12-02T08:00:00+00:00"),
        category=NoticeCategory.GENERAL,
        title="t",
        body="b",
        recipients=homes,
        household_targets=[],
        family={},
    )
    assert none == []


async def test_a_notice_reaches_the_gateway_and_the_family_once_with_retries(
    app: FastAPI, clock: FakeClock, wechat: Gateway, family: Gateway
) -> None:
    async with api_client(app) as client:
        wang = await household(client, "Wang", "Building 2/Floor 3/Unit 301")
        zhao = await household(client, "Zhao", "Building 2/Floor 3/Unit 302")
        li = await household(client, "Li", "Building 3/Floor 1/Unit 101")
        await care_for(client, zhao["id"], family.url)
        notice = await send_notice(
            client,
            "water_shutoff",
            "停水通知 Water shut-off",
            "Tomorrow 9:00-12:00.",
            scope="building",
            building="Building 2",
        )
        assert notice["copies"] == {"pending": 3, "delivered": 0, "failed": 0}

        store: HubStore = app.state.store
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http, webhook_secret=SECRET)
            # Two workers' rounds over the same queue, and more rounds than needed: still once.
            await deliver_all(notifier, clock)
            await deliver_all(notifier, clock, rounds=2)

        seen = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
    assert seen["copies"] == {"pending": 0, "delivered": 3, "failed": 0}
    by_name = {r["household_name"]: r["copies"] for r in seen["receipts"]}
    assert sorted(by_name) == ["Wang", "Zhao"]
    assert [(c["contact"], c["status"]) for c in by_name["Zhao"]] == [
        ("household", "delivered"),
        ("Zhao Min (daughter)", "delivered"),
    ]
    # The gateway failed its first two calls, one for each household's copy: both were retried.
    assert [c["attempts"] for c in by_name["Wang"] + by_name["Zhao"]] == [2, 2, 1]

    got = [NoticeMessage.model_validate(b) for b in wechat.bodies]
    assert sorted(m.household_id for m in got) == [wang["id"], zhao["id"]]  # each once, Li none
    assert li["id"] not in [m.household_id for m in got]
    wang_copy = next(m for m in got if m.household_id == wang["id"])
    assert wang_copy.household_token_sha256 == hashlib.sha256(wang["token"].encode()).hexdigest()
    assert (wang_copy.title, wang_copy.category, wang_copy.contact) == (
        "停水通知 Water shut-off",
        "water_shutoff",
        "household",
    )
    [to_daughter] = [NoticeMessage.model_validate(b) for b in family.bodies]
    assert (to_daughter.household_id, to_daughter.contact) == (zhao["id"], "Zhao Min (daughter)")
    assert (wechat.bad_signatures, family.bad_signatures) == (0, 0)


async def test_a_dead_contact_is_given_up_and_shown_failed(
    app: FastAPI, clock: FakeClock, wechat: Gateway
) -> None:
    wechat.failures = 0
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    async with api_client(app) as client:
        zhao = await household(client, "Zhao", "Building 2/Floor 3/Unit 302")
        await care_for(client, zhao["id"], dead)
        notice = await send_notice(
            client,
            "fire_drill",
            "Fire drill",
            "Friday 10:00",
            scope="households",
            household_ids=[zhao["id"]],
        )
        store: HubStore = app.state.store
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http, webhook_secret=SECRET)
            await deliver_all(notifier, clock)
        seen = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
        # Read on the page all the same.
        read = await client.post(f"/r/{zhao['token']}/notices/{notice['id']}/read")
        assert read.status_code == 200
    assert seen["copies"] == {"pending": 0, "delivered": 1, "failed": 1}
    [receipt] = seen["receipts"]
    failed = next(c for c in receipt["copies"] if c["status"] == "failed")
    assert (failed["contact"], failed["attempts"]) == ("Zhao Min (daughter)", MAX_ATTEMPTS)
    assert failed["last_error"]
    assert notifier.counters["notices_failed"] == 1
