"""The door scenarios (PRODUCT.md 5 and 6) through the edge's real decision and door monitor.

The steps are replayed in simulated time: reader frames through the allow-list and
``decide``, door contacts through the adapters, every door's timers every half second.
"""

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.access import CredentialFrame
from devices.adapters import decode
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import StateUpdate
from devices.site import SiteFile
from devices.topics import parse_credential_topic
from edge.access.decision import decide
from edge.access.door import (
    BurstPhase,
    ContactChanged,
    Denied,
    DoorEvent,
    DoorPhase,
    DoorState,
    Granted,
    Tick,
    step,
)
from edge.access.store import AllowList
from simulators.doors import RESIDENT_CARDS, enrolment, site_doors
from simulators.scenarios import SCENARIOS
from simulators.sensors import Step
from simulators.sites import sample_site_path

EPOCH = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)  # 02:00 on the 20th in Shanghai
KEY = bytes.fromhex("5a" * 32)
DOOR_SCENARIOS = ["forced_gate", "propped_door", "card_brute_force", "door_day"]


@pytest.fixture(scope="module")
def site() -> SiteFile:
    return SiteFile.load(sample_site_path())


def allow_list(site: SiteFile) -> AllowList:
    enrolled = enrolment("e1", KEY, RESIDENT_CARDS, site_doors(site), timezone="Asia/Shanghai")
    bodies = [(item.key, item.body) for item in enrolled.items if item.body is not None]
    return AllowList(enrolled.to_version, bodies)


def replay(
    site: SiteFile, steps: list[Step]
) -> tuple[list[tuple[AlertKind, AlertState]], Counter[str]]:
    allow = allow_list(site)
    contacts = {d.contact_id: d for d in allow.doors.values()}
    devices = {d.id: d for d in site.devices}
    states: dict[str, DoorState] = {}
    alerts: list[tuple[AlertKind, AlertState]] = []
    verdicts: Counter[str] = Counter()

    def feed(door_id: str, event: DoorEvent) -> None:
        result = step(states.get(door_id, DoorState()), event, allow.doors[door_id])
        states[door_id] = result.state
        alerts.extend((a.kind, a.state) for a in result.alerts)

    clock = 0.0
    for s in [*steps, Step(steps[-1].at + 120.0, "", b"")]:
        while clock + 0.5 <= s.at:
            clock += 0.5
            for door_id, state in list(states.items()):
                # A closed door with no burst has no timer running: nothing to tick.
                if state.phase is not DoorPhase.CLOSED or state.burst is BurstPhase.RAISED:
                    feed(door_id, Tick(EPOCH + timedelta(seconds=clock)))
        if not s.topic:
            break
        now = EPOCH + timedelta(seconds=s.at)
        reader_id = parse_credential_topic(s.topic)
        if reader_id is not None:
            role = allow.reader(reader_id)
            assert role is not None
            frame = CredentialFrame.model_validate_json(s.payload)
            _, entry = allow.lookup(frame.kind, frame.value)
            decision = decide(entry, role.door, role.direction, now, ZoneInfo("Asia/Shanghai"))
            verdicts[decision.verdict] += 1
            feed(
                role.door.id,
                Granted(now, decision.person_id or 0, role.direction)
                if decision.granted
                else Denied(now),
            )
            continue
        decoded = decode(s.topic, s.payload)
        assert decoded is not None
        for observation in decoded.observations:
            if isinstance(observation, StateUpdate) and observation.readings.contact is not None:
                door = None
                for contact_id, config in contacts.items():
                    device = devices[contact_id]  # type: ignore[index]
                    if device.kind is DeviceKind.DOOR_CONTACT and (
                        s.topic.endswith(f"/{contact_id}/state")
                        or (device.zigbee_name and s.topic.endswith(device.zigbee_name))
                    ):
                        door = config
                if door is not None:
                    feed(door.id, ContactChanged(now, not observation.readings.contact))
    return alerts, verdicts


@pytest.mark.parametrize("name", DOOR_SCENARIOS)
def test_a_door_scenario_causes_its_expected_alerts_and_no_forbidden_one(
    name: str, site: SiteFile
) -> None:
    scenario = SCENARIOS[name]
    steps = list(scenario.steps(site, random.Random(3), epoch=EPOCH))
    assert all(a.at <= b.at for a, b in itertools.pairwise(steps))
    alerts, _ = replay(site, steps)
    raised = {kind for kind, state in alerts if state is AlertState.RAISED}
    assert raised >= scenario.expected_alert_kinds
    assert not raised & scenario.forbidden_alert_kinds
    # Every alarm clears: the door closed, or the denials stopped.
    assert Counter(k for k, s in alerts if s is AlertState.RAISED) == Counter(
        k for k, s in alerts if s is AlertState.CLEARED
    )
    assert {d.id for d in scenario.participants(site)} >= {
        t.topic.split("/")[2] for t in steps if t.topic.startswith("linli/dev/")
    }


def test_the_brute_force_is_eight_denials_within_a_minute(site: SiteFile) -> None:
    steps = list(SCENARIOS["card_brute_force"].steps(site, random.Random(9), epoch=EPOCH))
    frames = [s for s in steps if s.topic.endswith("/credential")]
    assert len(frames) == 8
    assert frames[-1].at - frames[0].at < 60.0
    _, verdicts = replay(site, steps)
    assert verdicts == Counter({"unknown_credential": 8})


def test_a_day_of_residents_is_hundreds_of_granted_passages_peaking_at_rush_hours(
    site: SiteFile,
) -> None:
    steps = list(SCENARIOS["door_day"].steps(site, random.Random(5), epoch=EPOCH))
    frames = [s for s in steps if s.topic.endswith("/credential")]
    alerts, verdicts = replay(site, steps)
    assert alerts == []
    assert verdicts == Counter({"granted": len(frames)})
    assert len(frames) > 200
    by_hour = Counter(int(s.at // 3600) for s in frames)
    assert by_hour[8] > 2 * by_hour[3]
    assert by_hour[18] > 2 * by_hour[3]
