"""A silence's view names its site (for its times on that site's clock), its end's audit entry
says whether it was cancelled before it began, and every change goes on the live stream
(``silence_changed``) for other desks."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.live.events import EventBus, SilenceChanged
from hub.roster.rules import Grid, Site
from hub.silences.rules import SilenceScope
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_device

pytestmark = pytest.mark.fake_clock


@pytest.fixture
def sites(store: HubStore) -> HubStore:
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["e1"]))
    store.roster.put_site(Site(id="berlin", name="Berlin", timezone="Europe/Berlin"))
    store.roster.put_grid(Grid(id="g-b7", site_id="berlin", name="B7", places=["Building 7"]))
    store.fleet.register_device(make_device("b7-leak", location="Building 7/Cellar", edge_id=None))
    store.fleet.register_device(make_device())  # b3-1201-smoke, on e1
    return store


def test_a_silence_view_names_its_site_by_place_device_or_edge(
    sites: HubStore, clock: FakeClock
) -> None:
    ends = clock.now + timedelta(hours=1)
    place = sites.silences.create_silence(
        SilenceScope.PLACE, "Building 7", ends_at=ends, reason="a"
    )
    device = sites.silences.create_silence(SilenceScope.DEVICE, "b7-leak", ends_at=ends, reason="b")
    edge = sites.silences.create_silence(SilenceScope.EDGE, "e1", ends_at=ends, reason="c")
    nowhere = sites.silences.create_silence(SilenceScope.PLACE, "Mars", ends_at=ends, reason="d")
    assert [v.site_id for v in (place, device, edge, nowhere)] == [
        "berlin",
        "berlin",
        "lanyuan",
        None,
    ]
    listed = {v.id: v.site_id for v in sites.silences.list_silences()}
    assert listed == {place.id: "berlin", device.id: "berlin", edge.id: "lanyuan", nowhere.id: None}
    assert [v.id for v in sites.silences.list_silences(sites=frozenset({"berlin"}))] == [
        device.id,
        place.id,
    ]


def test_ending_a_silence_not_begun_is_audited_as_cancelled(
    sites: HubStore, clock: FakeClock
) -> None:
    later = sites.silences.create_silence(
        SilenceScope.EDGE,
        "e1",
        starts_at=clock.now + timedelta(hours=2),
        ends_at=clock.now + timedelta(hours=3),
        reason="drill tomorrow",
    )
    now = sites.silences.create_silence(
        SilenceScope.EDGE, "e1", ends_at=clock.now + timedelta(hours=1), reason="drill now"
    )
    clock.advance(60)
    sites.silences.end_silence(later.id, actor="op.li")
    sites.silences.end_silence(now.id, actor="op.li")
    ended = [e for e in sites.audit.list_audit(limit=100) if e.action == "silence_ended"]
    assert [(e.detail["silence_id"], e.detail.get("cancelled")) for e in ended] == [
        (later.id, True),
        (now.id, None),
    ]
    assert sites.audit.verify_audit().intact


async def test_a_silence_set_or_ended_goes_on_the_live_stream(
    client: httpx.AsyncClient, app: FastAPI, clock: FakeClock
) -> None:
    bus: EventBus = app.state.events
    with bus.subscribe() as subscription:
        ends = (clock.now + timedelta(hours=1)).isoformat()
        body = {"scope": "place", "target": "Building 3", "ends_at": ends, "reason": "drill"}
        response = await client.post("/api/v1/silences", json=body)
        assert response.status_code == 201, response.text
        made = response.json()
        set_event = await asyncio.wait_for(subscription.get(), 5)
        assert isinstance(set_event, SilenceChanged)
        assert set_event.silence.model_dump(mode="json") == made
        response = await client.post(f"/api/v1/silences/{made['id']}/end")
        assert response.status_code == 200
        end_event = await asyncio.wait_for(subscription.get(), 5)
        assert isinstance(end_event, SilenceChanged)
        assert end_event.silence.ended_at is not None
