"""PRODUCT.md scenarios 1, 2, 3, 4, 7 and 9 through the real stack, driven by `linli simulate`.

One stack (real `linli hub` and `linli edge` processes, a real Mosquitto, SQLite) serves the
sample courtyard; the six scenarios run at once as `linli simulate <name> --speed N`
subprocesses, each on its own devices, so hours of simulated time replay in seconds (the
payloads carry event time, which the detectors judge by). Each scenario's own expectations
(``Scenario.expected_alert_kinds`` / ``forbidden_alert_kinds``) are checked on the hub's
alerts of its participants, and on the cases those alerts joined.

Scenario 9 stops its dying smoke detector before its last will: the edge must notice the
silence itself, through the short check-in deadline the test's site file gives that one
device (``[detection.devices.<id>] checkin_s``).
"""

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.registry import Device
from devices.site import SiteFile
from devices.topics import DeviceChannel, device_topic, zigbee_topic
from linli.brokers import MosquittoProcess
from simulators.scenarios import SCENARIOS
from simulators.sites import sample_site_path
from tests.conftest import missing
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.e2e.test_sos_loop import listening, stages
from tests.polling import wait_until

SPEED = "300"
"""Simulated seconds per real second: CO's 66 simulated minutes take 13 s."""
CHECKIN_S = 15.0
"""The dying detector's check-in deadline in the test site (default for smoke: 2 h)."""
BATTERY_REPORTS_S = "420"
"""Simulated seconds of scenario 9 to play: its reports, not the last will after them."""

NAMES = ["fire", "co_rising", "gas_leak", "water_leak", "sos", "battery_dying"]

CANCELLABLE_SOS = Device(
    id="e2e-cancel-sos", kind=DeviceKind.SOS_BUTTON, location="Building 2/Floor 3/Unit 302"
)
"""A native button whose site table turns on the cancel gesture (not cast by any scenario)."""
ANNOUNCING_SOS = Device(
    id="e2e-announce-sos",
    kind=DeviceKind.SOS_BUTTON,
    location="Building 2/Floor 3/Unit 303",
    zigbee_name="e2e announce sos",
)
"""A Zigbee2MQTT button that rejoins and then says emergency (not cast by any scenario)."""

Played = tuple[Stack, Path, datetime]
"""The stack, its site file, and when the simulators were spawned."""


@pytest.fixture(scope="module")
def site() -> SiteFile:
    return SiteFile.load(sample_site_path())


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory, site: SiteFile) -> Iterator[Played]:
    """A stack serving the sample site, after all six scenarios were played against it."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    root = tmp_path_factory.mktemp("scenarios")
    devices = [*site.devices, CANCELLABLE_SOS, ANNOUNCING_SOS]
    # The scenarios stamp readings in simulated time, SPEED times faster than the edge's clock.
    stack = Stack(root, devices, f"sqlite:///{root / 'hub.sqlite3'}", trust_device_time=True)
    [dying] = SCENARIOS["battery_dying"].participants(site)
    site_file = root / "site.toml"
    # The Stack wrote the devices; the detection tables are the site file's own business.
    with site_file.open("a") as f:
        f.write(f"\n[detection.devices.{dying.id}]\ncheckin_s = {CHECKIN_S}\n")
        f.write(f'\n[detection.devices.{CANCELLABLE_SOS.id}.sos]\ncancel_on = ["press"]\n')
    try:
        stack.start()
        put_roster(stack)
        mqtt = f"127.0.0.1:{stack.local_broker.port}"
        spawned_at = datetime.now(UTC)
        runs = []
        for name in NAMES:
            args = ["simulate", name, "--site", str(site_file), "--mqtt", mqtt]
            args += ["--speed", SPEED, "--seed", "1"]
            if name == "battery_dying":
                args += ["--duration", BATTERY_REPORTS_S]
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "linli", *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        for name, run in zip(NAMES, runs, strict=True):
            output, _ = run.communicate(timeout=60)
            assert run.returncode == 0, f"linli simulate {name}: {output.decode()}"
        yield stack, site_file, spawned_at
    finally:
        stack.close()


ROSTER: list[tuple[str, dict[str, Any]]] = [
    ("/grids/g-b3", {"id": "g-b3", "site_id": "e2e", "name": "B3", "places": ["Building 3"]}),
    (
        "/responders/wang",
        {"id": "wang", "site_id": "e2e", "name": "Wang", "role": "grid_worker"}
        | {"grid_ids": ["g-b3"]},
    ),
    (
        "/responders/li",
        {"id": "li", "site_id": "e2e", "name": "Li", "role": "security", "grid_ids": ["g-b3"]},
    ),
]
"""Building 3's grid worker and security patrol; nobody covers the other buildings."""


def put_roster(stack: Stack) -> None:
    site = {"id": "e2e", "name": "E2E", "edge_ids": [stack.edge_id]}
    for path, body in [("/sites/e2e", site), *ROSTER]:
        stack.api.put(path, json=body).raise_for_status()


def participant_alerts(stack: Stack, site: SiteFile, name: str) -> list[dict[str, Any]]:
    ids = {d.id for d in SCENARIOS[name].participants(site)}
    return [a for a in stack.get("/alerts", limit=100_000) if a["device_id"] in ids]


def raised_kinds(alerts: list[dict[str, Any]]) -> set[AlertKind]:
    return {AlertKind(a["kind"]) for a in alerts if a["state"] == "raised"}


def settled(stack: Stack, site: SiteFile, name: str) -> list[dict[str, Any]]:
    """Wait until every expected kind has been raised and has joined a case; return alerts."""
    expected = SCENARIOS[name].expected_alert_kinds

    def probe() -> list[dict[str, Any]] | None:
        alerts = participant_alerts(stack, site, name)
        with_case = {AlertKind(a["kind"]) for a in alerts if a["case_id"] is not None}
        return alerts if expected <= raised_kinds(alerts) and expected <= with_case else None

    return wait_until(probe, timeout=45, what=f"{name}: cases for {sorted(expected)}")


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_opens_the_cases_it_must_and_none_it_must_not(
    played: Played, site: SiteFile, name: str
) -> None:
    stack, _, _ = played
    scenario = SCENARIOS[name]
    alerts = settled(stack, site, name)
    kinds = raised_kinds(alerts)
    assert kinds >= scenario.expected_alert_kinds
    assert not kinds & scenario.forbidden_alert_kinds, sorted(kinds)
    # No case for a forbidden kind: not from a raised alert, not from a cleared one.
    in_cases = {AlertKind(a["kind"]) for a in alerts if a["case_id"] is not None}
    assert not in_cases & scenario.forbidden_alert_kinds


def test_fire_is_one_critical_case_sent_to_the_grid_worker_and_the_patrol(
    played: Played, site: SiteFile
) -> None:
    stack, _, _ = played
    alerts = settled(stack, site, "fire")
    [case_id] = {a["case_id"] for a in alerts if a["state"] == "raised"}
    case = stack.api.get(f"/cases/{case_id}").json()
    assert (case["rule"], case["place"], case["priority"]) == ("fire", "Building 3", "critical")
    assert {"smoke", "heat", "sos"} <= set(case["kinds"])
    # PRODUCT.md scenario 1: dispatched to the building's grid worker and security patrol.
    assert case["status"] == "dispatched"
    assert [(m["duty"], m["responder"]) for m in case["team"]] == [
        ("area", "wang"),
        ("patrol", "li"),
    ]


def test_co_alarms_only_when_the_dose_says_so(played: Played, site: SiteFile) -> None:
    stack, _, spawned_at = played
    alerts = settled(stack, site, "co_rising")
    [alarm] = [a for a in alerts if a["kind"] == "co" and a["state"] == "raised"]
    assert alarm["reason"]["rule"] == "co_dose>=1"
    assert alarm["reason"]["profile"] == "ul2034"
    # Event time = the simulator's start (a second or two after spawning it) + simulated
    # seconds; the CO starts rising after the 60 s lead-in and passes 150 ppm within 5 min.
    # UL 2034 at 150 ppm: not before 10 min, by 50 min.
    minutes = (datetime.fromisoformat(alarm["ts"]) - spawned_at).total_seconds() / 60 - 1
    assert 10 <= minutes <= 50, minutes


def test_gas_warns_then_alarms(played: Played, site: SiteFile) -> None:
    stack, _, _ = played
    alerts = settled(stack, site, "gas_leak")
    raised = sorted(
        (a for a in alerts if a["kind"] == "gas" and a["state"] == "raised"), key=lambda a: a["ts"]
    )
    assert [a["severity"] for a in raised] == ["high", "critical"]
    assert [a["reason"]["rule"] for a in raised] == ["gas_lel_pct>=10", "gas_lel_pct>=20"]


def test_a_flapping_leak_is_one_case(played: Played, site: SiteFile) -> None:
    stack, _, _ = played
    alerts = settled(stack, site, "water_leak")
    leak = [a for a in alerts if a["kind"] == "water_leak"]
    assert len({a["case_id"] for a in leak}) == 1
    assert sum(a["state"] == "raised" for a in leak) == 1


def test_a_silent_dying_detector_is_reported_by_its_checkin_deadline(
    played: Played, site: SiteFile
) -> None:
    stack, _, _ = played
    alerts = settled(stack, site, "battery_dying")
    offline = [a for a in alerts if a["kind"] == "device_offline" and a["state"] == "raised"]
    last = offline[-1]
    assert last["reason"]["rule"] == "checkin_overdue"
    assert last["reason"]["values"]["deadline_s"] == CHECKIN_S
    assert last["severity"] == "medium"  # a fault: a maintenance case, not a fire case
    battery = [a for a in alerts if a["kind"] == "battery_low"]
    assert battery
    assert battery[0]["severity"] == "low"


def test_a_second_press_cancels_visibly_and_the_case_stays_open(played: Played) -> None:
    stack, _, _ = played
    port = stack.local_broker.port
    press = dumps({"event": "press"})
    with listening(port, device_topic(CANCELLABLE_SOS.id, DeviceChannel.SET)) as received:
        mosquitto_pub(port, device_topic(CANCELLABLE_SOS.id, DeviceChannel.EVENT), press)
        mosquitto_pub(port, device_topic(CANCELLABLE_SOS.id, DeviceChannel.EVENT), press)
        wait_until(lambda: "cancelled" in stages(received), what="the cancelled pattern")

    def both() -> list[dict[str, Any]] | None:
        alerts = stack.get("/alerts", device_id=CANCELLABLE_SOS.id)
        joined = len(alerts) == 2 and all(a["case_id"] is not None for a in alerts)
        return alerts if joined else None

    alerts = sorted(wait_until(both, what="press and cancel at the hub"), key=lambda a: a["ts"])
    assert [(a["state"], a["reason"]["rule"]) for a in alerts] == [
        ("raised", "button_press"),
        ("cleared", "sos-cancelled"),
    ]
    assert alerts[1]["reason"]["values"]["cancel_window_s"] == 10.0
    assert alerts[0]["case_id"] == alerts[1]["case_id"]
    [case] = [c for c in stack.get("/cases") if c["id"] == alerts[0]["case_id"]]
    assert case["status"] == "open"  # an operator closes it, not the resident's second press
    assert stages(received)[0] == "received"


def test_an_emergency_right_after_a_zigbee_rejoin_is_raised_and_marked(played: Played) -> None:
    stack, _, _ = played
    port = stack.local_broker.port
    name = ANNOUNCING_SOS.zigbee_name or ""
    announce = {"type": "device_announce", "data": {"friendly_name": name, "ieee_address": "0x1"}}
    mosquitto_pub(port, "zigbee2mqtt/bridge/event", dumps(announce))
    mosquitto_pub(port, zigbee_topic(name), '{"action":"emergency","battery":100,"linkquality":18}')
    [alert] = wait_until(
        lambda: stack.get("/alerts", device_id=ANNOUNCING_SOS.id), what="the SOS at the hub"
    )
    assert (alert["kind"], alert["state"], alert["case_id"] is not None) == ("sos", "raised", True)
    assert alert["reason"]["values"]["suspected_uncommanded"] is True
    assert alert["reason"]["values"]["uncommanded_rule"] == "after-rejoin"


def test_hub_and_edge_come_through_every_scenario_running(played: Played) -> None:
    stack, _, _ = played
    assert stack.edge.alive
    assert stack.hub.alive
    counters = stack.edge_counters()
    assert not {name for name in counters if name.startswith("rejected.")}, counters
