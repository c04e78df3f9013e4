"""A stuck edge stops saying it is online: a real ``EdgeAgent`` on a real Mosquitto.

The device ingest's reading loop is made to hang (its group handling awaits an event the
test holds: the fault of a deadlock, or of an SQLite call stuck on a dying SD card). The
agent's monotonic clock is the test's: the test moves it past the bound, so that what
decides "stuck" is the agent's rule, not how fast this machine runs. The heartbeat and
systemd's watchdog (a real AF_UNIX socket in place of systemd's) then go quiet, and resume
when the loop runs again.
"""

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import ManualClock, SettingsFactory, eventually, running_edge
from tests.edge.test_systemd_notify import NotifySocket

pytestmark = pytest.mark.mosquitto

SMOKE_STATE = "linli/dev/b3-smoke/state"


async def test_an_idle_ingest_beats_on_its_own_and_is_not_taken_for_stuck(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    settings = make_settings(ingest_beat_s=0.05, detection_tick_s=3600.0)
    agent = EdgeAgent(settings, monotonic=clock)
    async with running_edge(mosquitto, agent):
        assert agent.liveness.stuck() == []
        clock.advance(100.0)  # no device says a word for 100 s
        assert [s.part for s in agent.liveness.stuck()] == ["ingest"]
        # Its wait for a message wakes every ingest_beat_s and beats, at the clock's now.
        await eventually(lambda: agent.liveness.stuck() == [], "the idle ingest to beat")


async def test_a_hung_ingest_silences_the_heartbeat_and_the_watchdog_until_it_runs_again(
    mosquitto: MosquittoProcess,
    make_settings: SettingsFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="edge.liveness")
    systemd = NotifySocket(str(tmp_path / "notify"))
    clock = ManualClock()
    settings = make_settings(heartbeat_s=0.05, ingest_beat_s=0.05, detection_tick_s=3600.0)
    agent = EdgeAgent(
        settings,
        monotonic=clock,
        # 100 ms: a ping every 50 ms of real time while the agent is well.
        environ={"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "100000"},
    )
    counters = agent.counters
    try:
        async with running_edge(mosquitto, agent) as (hub, devices):
            await eventually(lambda: len(hub.statuses) >= 3, "heartbeats")
            assert {s.state for s in hub.statuses} == {"online"}
            await eventually(lambda: "WATCHDOG=1" in systemd.drain(), "watchdog pings")
            assert systemd.received[0] == "READY=1"

            # The fault: the reading loop's next group never finishes.
            entered, release = asyncio.Event(), asyncio.Event()
            handle = agent.ingest.on_device_messages

            async def hung(messages: Sequence[aiomqtt.Message]) -> None:
                entered.set()
                await release.wait()
                await handle(messages)

            monkeypatch.setattr(agent.ingest, "on_device_messages", hung)
            await devices.publish(SMOKE_STATE, '{"smoke": true}')
            await eventually(entered.is_set, "the ingest to take the message and hang")
            clock.advance(1.0)  # 20 periods of 50 ms: well past 3

            await eventually(lambda: counters["heartbeats_withheld"] >= 2, "heartbeats withheld")
            # Every status sent before the first withheld one was acknowledged by the broker
            # before the heartbeat looked again; a ping is sent in the step of its look.
            said = len(hub.statuses)
            systemd.drain()
            await eventually(lambda: counters["heartbeats_withheld"] >= 6, "more withheld")
            assert len(hub.statuses) == said, "no online status while the ingest is stuck"
            assert systemd.drain() == [], "no watchdog ping while the ingest is stuck"
            assert counters["stuck.ingest"] == 1
            assert "stuck.detection" not in counters
            said_by_liveness = [r for r in caplog.records if r.name == "edge.liveness"]
            errors = [r for r in said_by_liveness if r.levelno >= logging.ERROR]
            assert len(errors) == 1, "logged once, not at every heartbeat"
            assert "ingest" in errors[0].getMessage()
            assert not any(a.kind is AlertKind.SMOKE for a in hub.alerts)

            release.set()  # the loop runs again
            await eventually(lambda: len(hub.statuses) > said, "heartbeats again")
            back = hub.statuses[-1]
            assert back.state == "online"
            assert back.counters["stuck.ingest"] == 1
            assert back.counters["heartbeats_withheld"] >= 6
            await eventually(lambda: "WATCHDOG=1" in systemd.drain(), "watchdog pings again")
            await eventually(
                lambda: any(a.kind is AlertKind.SMOKE for a in hub.alerts),
                "the smoke alarm heard during the hang, delivered",
            )
            assert [r.getMessage() for r in caplog.records if r.name == "edge.liveness"][1:] == [
                "the edge's ingest runs again"
            ]
    finally:
        systemd.close()
