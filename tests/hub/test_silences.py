"""Silences: the pure cover rule, then the repository and the API on SQLite and PostgreSQL."""

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from devices.kinds import LIFE_SAFETY, AlertKind, DeviceKind, Severity
from hub.silences.rules import Silence, SilencedAlert, SilenceScope, covers, is_active, silencing
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device

pytestmark = pytest.mark.fake_clock

UNIT = "Building 3/Floor 12/Unit 1201"


DRILL = frozenset({AlertKind.SMOKE, AlertKind.HEAT})
"""What a fire drill names: a life-safety alarm is silenced only when named."""


def silence(
    scope: SilenceScope = SilenceScope.PLACE,
    target: str = "Building 3",
    kinds: frozenset[AlertKind] = DRILL,
    id: int = 1,
) -> Silence:
    return Silence(id, scope, target, kinds, T0, T0 + timedelta(hours=1))


def smoke_at(
    ts: datetime, *, kind: AlertKind = AlertKind.SMOKE, location: str = UNIT
) -> SilencedAlert:
    return SilencedAlert("b3-1201-smoke", "edge-b3", location, kind, ts)


@pytest.mark.parametrize(("minutes", "covered"), [(-1, False), (0, True), (59, True), (60, False)])
def test_a_silence_covers_from_its_start_until_just_before_its_end(
    minutes: int, covered: bool
) -> None:
    assert covers(silence(), smoke_at(T0 + timedelta(minutes=minutes))) is covered
    assert is_active(silence(), T0 + timedelta(minutes=minutes)) is covered


def test_scopes_device_place_and_edge() -> None:
    at = T0 + timedelta(minutes=5)
    assert covers(silence(SilenceScope.DEVICE, "b3-1201-smoke"), smoke_at(at))
    assert not covers(silence(SilenceScope.DEVICE, "b3-1202-smoke"), smoke_at(at))
    assert covers(silence(SilenceScope.EDGE, "edge-b3"), smoke_at(at))
    assert not covers(silence(SilenceScope.EDGE, "edge-b4"), smoke_at(at))
    assert covers(silence(SilenceScope.PLACE, "Building 3/Floor 12"), smoke_at(at))
    assert not covers(silence(SilenceScope.PLACE, "Building 3/Floor 1"), smoke_at(at))
    assert not covers(silence(SilenceScope.PLACE, "Building 30"), smoke_at(at))


def test_a_life_safety_alarm_is_silenced_only_when_named() -> None:
    """A silence naming no kinds (set for a plumber's visit) covers every kind but the
    life-safety ones: a fire during it is a fire, an SOS a call for help."""
    at = T0 + timedelta(minutes=5)
    everything = silence(kinds=frozenset())
    for kind in LIFE_SAFETY:
        assert not covers(everything, smoke_at(at, kind=kind)), kind
        assert covers(silence(kinds=frozenset({kind})), smoke_at(at, kind=kind)), kind
    for kind in (AlertKind.WATER_LEAK, AlertKind.BATTERY_LOW, AlertKind.DOOR_HELD_OPEN):
        assert covers(everything, smoke_at(at, kind=kind)), kind


def test_an_sos_is_silenced_only_when_named() -> None:
    at = T0 + timedelta(minutes=5)
    sos = smoke_at(at, kind=AlertKind.SOS)
    assert not covers(silence(), sos)
    assert covers(silence(kinds=frozenset({AlertKind.SOS})), sos)
    heat_only = silence(kinds=frozenset({AlertKind.HEAT}))
    assert not covers(heat_only, smoke_at(at))
    assert silencing([heat_only, silence(id=2)], smoke_at(at)) == silence(id=2)
    assert silencing([], smoke_at(at)) is None


# --- the repository ---------------------------------------------------------------------


@pytest.fixture
def building(store: HubStore) -> HubStore:
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id="edge-b3"))
    store.fleet.register_device(
        make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
    )
    return store


def test_a_drill_records_and_audits_alerts_but_opens_no_case(
    building: HubStore, clock: FakeClock
) -> None:
    drill = building.silences.create_silence(
        SilenceScope.PLACE,
        "Building 3",
        ends_at=clock.now + timedelta(minutes=30),
        reason="fire drill",
        actor="manager-li",
        kinds=DRILL,
    )
    assert (drill.created_by, drill.starts_at) == ("manager-li", clock.now)
    smoke = make_alert(device_id="b3-1201-smoke", ts=clock.now + timedelta(minutes=1))
    sos = make_alert(
        device_id="b3-1201-sos",
        kind=AlertKind.SOS,
        severity=Severity.CRITICAL,
        ts=clock.now + timedelta(minutes=2),
    )
    result = building.intake.ingest_alerts([smoke, sos], clock.advance(120))
    assert result.silenced == [smoke.id]
    assert [a.id for a in result.new] == [smoke.id, sos.id]
    # The SOS during the drill is a real call for help.
    [case] = result.cases_opened
    assert case.kinds == [AlertKind.SOS]
    assert building.cases.list_alerts(device_id="b3-1201-smoke")[0].case_id is None
    actions = [(e.action, e.alert_id, e.detail) for e in building.audit.list_audit(limit=100)]
    assert ("alert_silenced", smoke.id, {"silence_id": drill.id}) in actions
    assert actions[0][0] == "silence_created"
    assert building.audit.verify_audit().intact

    # Ended early: alerts from then on open cases again; the event time decides.
    ended = building.silences.end_silence(drill.id, actor="manager-li")
    assert (ended.ended_by, ended.ends_at) == ("manager-li", clock.now)
    late = make_alert(device_id="b3-1201-smoke", ts=clock.now + timedelta(seconds=1))
    replayed = make_alert(device_id="b3-1201-smoke", ts=clock.now - timedelta(seconds=30))
    result = building.intake.ingest_alerts([late, replayed], clock.advance(5))
    assert result.silenced == [replayed.id]
    assert len(result.cases_opened) == 1
    assert building.silences.list_silences(active_at=clock.now) == []
    assert [s.id for s in building.silences.list_silences()] == [drill.id]


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
async def client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Return the admin's client of the app, with a smoke detector registered."""
    device = {"id": "b3-1201-smoke", "kind": "smoke", "location": UNIT, "edge_id": "e1"}
    assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    return client


async def test_silences_over_http(client: httpx.AsyncClient, clock: FakeClock) -> None:
    until = (clock.now + timedelta(hours=2)).isoformat()
    body = {
        "scope": "device",
        "target": "b3-1201-smoke",
        "ends_at": until,
        "reason": "detector swap",
    }
    created = await client.post("/api/v1/silences", json=body)
    assert created.status_code == 201, created.text
    silence_id = created.json()["id"]
    active = (await client.get("/api/v1/silences", params={"active": "true"})).json()["items"]
    assert [s["id"] for s in active] == [silence_id]
    ended = await client.post(f"/api/v1/silences/{silence_id}/end")
    assert ended.status_code == 200
    assert (await client.get("/api/v1/silences", params={"active": "true"})).json()["items"] == []
    again = await client.post(f"/api/v1/silences/{silence_id}/end")
    assert (again.status_code, again.json()["detail"]) == (
        409,
        f"silence {silence_id} is already over",
    )
    assert (await client.post("/api/v1/silences/999/end")).status_code == 404


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"starts_at": "-2h", "ends_at": "past"}, "already over"),
        ({"starts_at": "+3h"}, "end after it starts"),
        ({"ends_at": "+40d"}, "at most 31 days"),
        ({"target": "nobody"}, "not registered"),
        ({"scope": "place", "target": "Building 3//x"}, "non-empty parts"),
        ({"scope": "galaxy"}, "scope"),
        ({"reason": " "}, "reason"),
        ({"reason": "\u200b\u200d\u3164"}, "reason"),  # nothing visible: no reason on the trail
        ({"ends_at": "2026-01-01T00:00:00"}, "timezone"),
    ],
)
async def test_bad_silences_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, clock: FakeClock, change: dict[str, Any], complaint: str
) -> None:
    times = {
        "past": clock.now - timedelta(minutes=1),
        "-2h": clock.now - timedelta(hours=2),
        "+3h": clock.now + timedelta(hours=3),
        "+40d": clock.now + timedelta(days=40),
    }
    body: dict[str, Any] = {
        "scope": "device",
        "target": "b3-1201-smoke",
        "ends_at": (clock.now + timedelta(hours=2)).isoformat(),
        "reason": "maintenance",
    }
    body.update({k: times[v].isoformat() if v in times else v for k, v in change.items()})
    response = await client.post("/api/v1/silences", json=body)
    assert response.status_code == 422
    assert complaint in response.text
    assert (await client.get("/api/v1/silences")).json()["items"] == []
