"""Two real `linli hub` processes on one PostgreSQL database split the edges' messages through
an MQTT shared subscription on Mosquitto, and still make one incident per problem.

PRODUCT.md scenario 1 runs through the real path (device readings → edge → hubs), with the
camera's fire cue injected as an ``Alert`` message, as the camera analytics will send it.
"""

import dataclasses
import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason
from devices.registry import Device
from devices.topics import DeviceChannel, EdgeChannel, device_topic, edge_topic
from linli.brokers import MosquittoProcess, free_port
from tests.conftest import missing
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.hub.webhook_gateway import Gateway
from tests.polling import wait_until

HEAT = Device(id="b3-1201-heat", kind=DeviceKind.HEAT, location="Building 3/Floor 12/Unit 1201")
SMOKE = Device(id="b3-1201-smoke", kind=DeviceKind.SMOKE, location="Building 3/Floor 12/Unit 1201")
CAMERA = Device(id="b3-f12-cam", kind=DeviceKind.CAMERA, location="Building 3/Floor 12/Corridor")
SOS = Device(id="b3-1202-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3/Floor 12/Unit 1202")
DEVICES = [HEAT, SMOKE, CAMERA, SOS]
GROUP = "linli-hubs"
ACK_S = 2


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A paging gateway: a real HTTP server on loopback."""
    running = Gateway()
    yield running
    running.close()


@pytest.fixture
def hubs(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, gateway: Gateway
) -> Iterator[tuple[Stack, Stack]]:
    """A stack whose hub has a twin: two hubs, one broker, one database, one shared group;
    life-safety cases must be acknowledged within 2 s, and case events go to ``gateway``."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Stack(tmp_path / "a", DEVICES, postgres_url)
    # The twin's own Stack only lends its API client (with the first's token) and HTTP port;
    # its hub process is the first's, pointed at its own port and data folder.
    twin = Stack(tmp_path / "b", DEVICES, postgres_url, http_port=free_port(), token=first.token)
    # The same command line as the first hub (whatever the stack passes), but its own HTTP
    # port and data folder.
    args = list(first.hub.args)
    args[args.index("--data-dir") + 1] = str(tmp_path / "b" / "hub")
    args[args.index("--http-port") + 1] = str(twin.http_port)
    twin.hub = dataclasses.replace(
        first.hub, name="hub-b", args=args, log_path=tmp_path / "b" / "hub.log", proc=None
    )
    monkeypatch.setenv("LINLI_HUB_MQTT_SHARED_GROUP", GROUP)
    monkeypatch.setenv("LINLI_HUB_ACKNOWLEDGE_WITHIN_S", json.dumps({"life_safety": ACK_S}))
    monkeypatch.setenv("LINLI_HUB_NOTIFY_WEBHOOK_URLS", json.dumps([gateway.url]))
    monkeypatch.setenv("LINLI_HUB_NOTIFY_WEBHOOK_SECRET", "two-hubs-webhook-secret")
    try:
        # Each process copies the environment when it starts: one client id each.
        monkeypatch.setenv("LINLI_HUB_MQTT_CLIENT_ID", "linli-hub-a")
        first.local_broker.start()
        first.hub.start()
        first.wait_for_hub()
        monkeypatch.setenv("LINLI_HUB_MQTT_CLIENT_ID", "linli-hub-b")
        twin.hub.start()
        twin.wait_for_hub()
        first.edge.start()
        wait_until(first.edge_online, what="the edge to report online with its devices")
        yield first, twin
    finally:
        if twin.hub.alive:
            twin.hub.stop()
        twin.api.close()
        first.close()


def alert(stack: Stack, device: Device, kind: AlertKind, ts: datetime, **extra: Any) -> Alert:
    """Return an alert as an edge (or the camera analytics) sends it."""
    return Alert(
        id=uuid.uuid4().hex,
        edge_id=stack.edge_id,
        device_id=device.id,
        kind=kind,
        state=AlertState.RAISED,
        severity=extra.get("severity", Severity.HIGH),
        ts=ts,
        detected_at=ts,
        reason=AlertReason(rule=extra.get("rule", "e2e"), values={"confidence": 0.93}),
    )


def put_roster(stack: Stack) -> None:
    """Building 3's grid worker and the site's security patrol."""
    records: list[tuple[str, dict[str, Any]]] = [
        ("/sites/lanyuan", {"id": "lanyuan", "name": "Lanyuan", "edge_ids": [stack.edge_id]}),
        (
            "/grids/g-b3",
            {"id": "g-b3", "site_id": "lanyuan", "name": "B3", "places": ["Building 3"]},
        ),
        (
            "/responders/wang",
            {"id": "wang", "site_id": "lanyuan", "name": "Wang", "role": "grid_worker"}
            | {"grid_ids": ["g-b3"]},
        ),
        ("/responders/li", {"id": "li", "site_id": "lanyuan", "name": "Li", "role": "security"}),
    ]
    for path, body in records:
        stack.api.put(path, json=body).raise_for_status()


def counters(stack: Stack) -> dict[str, int]:
    health = stack.api.get("/health")
    health.raise_for_status()
    found: dict[str, int] = health.json()["counters"]
    return found


def test_scenario_1_is_one_fire_case_with_four_kinds(
    hubs: tuple[Stack, Stack], gateway: Gateway
) -> None:
    stack, twin = hubs
    put_roster(stack)
    local = stack.local_broker.port
    now = datetime.now(UTC)
    heat = device_topic(HEAT.id, DeviceChannel.STATE)
    # 10 °C a minute: two readings over the EN 54-5 fixed point alarm.
    for seconds, celsius in ((0, 61.0), (6, 62.0)):
        reading = {"temperature_c": celsius, "ts": (now + timedelta(seconds=seconds)).isoformat()}
        mosquitto_pub(local, heat, dumps(reading))
    mosquitto_pub(local, device_topic(SMOKE.id, DeviceChannel.STATE), dumps({"smoke": True}))
    camera_fire = alert(stack, CAMERA, AlertKind.CAMERA_FIRE, now, rule="flame_colour_flicker")
    mosquitto_pub(
        local, edge_topic(stack.edge_id, EdgeChannel.ALERT), camera_fire.model_dump_json()
    )
    mosquitto_pub(local, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))

    def fire_case() -> dict[str, Any] | None:
        cases = stack.get("/cases")
        return cases[0] if len(cases) == 1 and len(cases[0]["kinds"]) == 4 else None

    case = wait_until(fire_case, what="one case with four kinds of evidence")
    assert sorted(case["kinds"]) == ["camera_fire", "heat", "smoke", "sos"]
    assert sorted(case["device_ids"]) == sorted(d.id for d in DEVICES)
    assert (case["category"], case["rule"], case["place"]) == ("life_safety", "fire", "Building 3")
    assert case["priority"] == "critical"
    # Every alert of the incident is evidence on it; no second case appeared on either hub.
    detail = stack.api.get(f"/cases/{case['id']}").json()
    assert {a["kind"] for a in detail["alerts"]} == {"heat", "smoke", "camera_fire", "sos"}
    assert [c["id"] for c in twin.get("/cases")] == [case["id"]]
    # Dispatched to the building's grid worker and the security patrol, both at once.
    assert [(m["duty"], m["responder"]) for m in detail["team"]] == [
        ("area", "wang"),
        ("patrol", "li"),
    ]

    # Nobody acknowledges: both hubs supervise, each deadline fires once (one escalation per
    # ACK_S), and the paging gateway hears of the case and of each escalation.
    def escalations() -> list[str]:
        events = stack.api.get(f"/cases/{case['id']}").json()["events"]
        return [e["ts"] for e in events if e["action"] == "escalated"]

    def two_escalations() -> list[str] | None:
        found = escalations()
        return found if len(found) >= 2 else None

    times = wait_until(two_escalations, what="two escalations")
    first, second = (datetime.fromisoformat(t) for t in times[:2])
    assert second - first >= timedelta(seconds=ACK_S)
    level = stack.api.get(f"/cases/{case['id']}").json()["escalation_level"]
    assert level == 2  # community → street → district
    wait_until(lambda: {"opened", "escalated"} <= {b["event"] for b in gateway.bodies})
    assert {b["case_id"] for b in gateway.bodies} == {case["id"]}
    assert stack.api.get("/audit/verify").json()["intact"]


def test_two_hubs_split_a_burst_with_copies_and_open_one_case(hubs: tuple[Stack, Stack]) -> None:
    stack, twin = hubs
    now = datetime.now(UTC)
    devices = [(HEAT, AlertKind.HEAT), (SMOKE, AlertKind.SMOKE), (CAMERA, AlertKind.CAMERA_FIRE)]
    unique = [
        alert(stack, device, kind, now + timedelta(milliseconds=n))
        for n in range(300)
        for device, kind in [devices[n % 3]]
    ]
    # Every alert twice, the copy right behind it (two copies a millisecond apart), then the
    # whole burst again (a replay after an outage).
    lines = [a.model_dump_json() for a in unique for _ in range(2)] * 2
    subprocess.run(
        [
            "mosquitto_pub", "-h", "127.0.0.1", "-p", str(stack.local_broker.port), "-q", "1",
            "-t", edge_topic(stack.edge_id, EdgeChannel.ALERT), "-l",
        ],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        timeout=60,
    )  # fmt: skip

    def all_stored() -> bool:
        return sum(counters(h).get("alerts_new", 0) for h in (stack, twin)) == len(unique)

    wait_until(all_stored, what=f"{len(unique)} alerts stored once")

    def judged() -> int:
        both = [counters(h) for h in (stack, twin)]
        return sum(c.get("alerts_new", 0) + c.get("alerts_duplicate", 0) for c in both)

    wait_until(lambda: judged() == len(lines), what="every copy judged")
    # Both hubs took part. (The broker deals messages out in turn, so with each copy right
    # behind its original one hub may well see mostly the copies: judged, not new.)
    for hub in (stack, twin):
        seen = counters(hub)
        assert seen.get("alerts_new", 0) + seen.get("alerts_duplicate", 0) > 0
    [case] = stack.get("/cases")
    assert case["alert_count"] == len(unique)
    assert sorted(case["kinds"]) == ["camera_fire", "heat", "smoke"]
    assert len(stack.get("/alerts", limit=10_000)) == len(unique)
    # Each alert stored once and put on the case once, across both hubs; the 2 s
    # acknowledgement deadline may also have escalated the case meanwhile (more entries, also
    # between reading the trail and checking it: the check comes after, and covers them all).
    trail = twin.api.get("/audit", params={"limit": 10_000}).json()["items"]
    verdict = twin.api.get("/audit/verify").json()
    assert verdict["intact"]
    actions = Counter(entry["action"] for entry in trail)
    assert actions["alert_stored"] == len(unique)
    assert actions["opened"] == 1
    assert actions["opened"] + actions["alert_attached"] == len(unique)
    assert verdict["checked"] >= len(trail)
