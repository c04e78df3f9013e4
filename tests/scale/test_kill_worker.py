"""kill -9 one of three `linli hub --worker-id` processes under load: 0 alerts lost, 0 duplicate
cases. Real processes end to end: devices → a real `linli edge` (outbox, fsync) → Mosquitto (the
site configuration Linli ships; one shared subscription across the three workers) → PostgreSQL,
and each ``AlertAck`` back to the edge, which forgets the alert.

The devices are 30 gas sensors publishing readings on the edge's device broker, alternating over
the alarm level and clean air, so that every reading is a transition and the edge raises (or
clears) one alert for it; worker 2 is SIGKILLed mid-burst and started again with its client id.

What the broker does: Mosquitto 2.0 keeps a dead persistent client's unacknowledged and queued
messages of a shared subscription in that client's session (and keeps dealing it its share
while it is away), for when it comes back. But the hub's ingest does not hold MQTT
acknowledgements back (paho acknowledges a QoS 1 message as it reads it): what the killed
worker had read and not yet committed is gone from the broker. Nothing is lost all the same,
because delivery is end to end: the edge keeps each alert in its outbox until an ``AlertAck``
names it, sent only after the commit, and re-sends it otherwise (``--resend-after``, 1 s in
the stack). Nobody re-publishes anything here: the edge's own re-sends must bring every alert
in, each stored once, on one case per device, with the edge's outbox empty at the end.
"""

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from devices.kinds import DeviceKind
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import AlertRow, CaseRow
from linli.brokers import MosquittoProcess, free_port
from tests.conftest import missing
from tests.e2e.stack import LinliProcess, Stack, dumps
from tests.e2e.test_delivery import burst_in_background
from tests.polling import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.mosquitto,
    pytest.mark.postgres,
]

BUILDINGS = 30
ALERTS_PER_DEVICE = 40
TOTAL = BUILDINGS * ALERTS_PER_DEVICE
DEVICES = [
    Device(id=f"b{n}-gas", kind=DeviceKind.GAS, location=f"Building {n}/Basement/Boiler room")
    for n in range(BUILDINGS)
]
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
"""An hour ago: within the day a device's own time is believed (docs/detection.md)."""


@dataclasses.dataclass
class Workers:
    stack: Stack
    processes: list[LinliProcess]
    engine: Engine


@pytest.fixture
def workers(tmp_path: Path, postgres_url: str) -> Iterator[Workers]:
    """Three hub workers on one PostgreSQL and one Mosquitto, and an edge with the devices."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    (tmp_path / "stack").mkdir()
    stack = Stack(tmp_path / "stack", DEVICES, postgres_url)
    processes = []
    for n in (1, 2, 3):
        args = list(stack.hub.args)
        args[args.index("--data-dir") + 1] = str(tmp_path / f"hub-{n}")
        args[args.index("--http-port") + 1] = str(stack.http_port if n == 1 else free_port())
        processes.append(
            dataclasses.replace(
                stack.hub,
                name=f"hub-{n}",
                args=[*args, "--worker-id", str(n)],
                log_path=tmp_path / f"hub-{n}.log",
                proc=None,
            )
        )
    stack.hub = processes[0]  # the stack's API client talks to worker 1
    engine = create_hub_engine(postgres_url)
    try:
        stack.local_broker.start()
        processes[0].start()
        stack.wait_for_hub()  # migrates the database before the others start
        for process in processes[1:]:
            process.start()
        stack.edge.start()
        wait_until(stack.edge_online, timeout=120, what="the edge online with its devices")
        yield Workers(stack, processes, engine)
    finally:
        for process in processes:
            if process.alive:
                process.stop()
        stack.close()
        engine.dispose()


def sessions(engine: Engine) -> list[tuple[object, ...]]:
    """Return what the database's sessions are doing (for a failure message)."""
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 100)"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state <> 'idle'"
                )
            )
        ]


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AlertRow)).scalar_one()


def readings() -> list[tuple[str, str]]:
    """Every device's gas flag on and off, interleaved: one alert each. (A measured level
    would not do: it clears only after 5 min of clean readings.)"""
    return [
        (
            device_topic(device.id, DeviceChannel.STATE),
            dumps({"gas": n % 2 == 0, "ts": (T0 + timedelta(seconds=n)).isoformat()}),
        )
        for n in range(ALERTS_PER_DEVICE)
        for device in DEVICES
    ]


def test_kill_9_one_of_three_workers_loses_nothing_and_doubles_nothing(
    workers: Workers,
) -> None:
    stack, engine = workers.stack, workers.engine
    victim = workers.processes[1]
    for process in workers.processes:
        wait_until(process.hub_connected, timeout=180, what=f"{process.name} connected")
    killed = threading.Event()
    devices = burst_in_background(stack.local_broker.port, readings(), held=killed)
    wait_until(lambda: stored(engine) >= TOTAL // 5, interval=0.02, what="a fifth stored")
    victim.kill()  # SIGKILL mid-burst
    at_kill = stored(engine)
    # The last third is published now, while the victim is dead, however far the rest had got:
    # its session has a share waiting for it when it comes back.
    killed.set()
    devices.join(timeout=120)
    assert not devices.is_alive(), "the devices could not publish their readings"
    # The survivors take their share (and the edge's re-sends); the victim's session keeps its own.
    before_restart = _settle(engine)
    victim.start()
    wait_until(victim.hub_connected, timeout=180, what="worker 2 back")
    # Back with its client id, it is handed what its session kept: its share of everything
    # sent while it was away (the edge's re-sends included), each already stored or new.
    wait_until(
        lambda: sum(victim.hub_counters().get(k, 0) for k in ("alerts_new", "alerts_duplicate")),
        timeout=120,
        what="worker 2 handed its session's backlog",
    )
    try:
        wait_until(lambda: stored(engine) == TOTAL, timeout=180)
    except AssertionError:
        raise AssertionError(
            f"{stored(engine)}/{TOTAL} stored (at the kill {at_kill}, before the restart "
            f"{before_restart}); sessions: {sessions(engine)}"
        ) from None
    # Every alert acknowledged, and the edge forgot it (its status comes every 0.5 s).
    wait_until(lambda: stack.edge_outbox_depth() == 0, timeout=60, what="the edge outbox empty")
    sent = stack.edge_counters().get("alerts_sent", 0)
    backlog = victim.hub_counters()
    print(
        f"\nkill -9 of worker 2 with {at_kill}/{TOTAL} stored, {before_restart} before its "
        f"restart; its backlog: {backlog.get('alerts_new', 0)} new, "
        f"{backlog.get('alerts_duplicate', 0)} already stored; all {TOTAL} stored once; "
        f"the edge sent {sent} ({sent - TOTAL} re-sends)"
    )

    with engine.connect() as conn:
        per_case = conn.execute(select(CaseRow.device_id, CaseRow.alert_count)).all()
        on_cases = conn.execute(
            select(func.count()).select_from(AlertRow).where(AlertRow.case_id.is_not(None))
        ).scalar_one()
        per_device = {
            device: count
            for device, count in conn.execute(
                select(AlertRow.device_id, func.count()).group_by(AlertRow.device_id)
            )
        }
    assert sent > TOTAL, "no re-send: the kill tested nothing"
    assert per_device == {d.id: ALERTS_PER_DEVICE for d in DEVICES}
    assert sorted(device for device, _ in per_case) == sorted(d.id for d in DEVICES)  # 1 each
    assert {count for _, count in per_case} == {ALERTS_PER_DEVICE}
    assert on_cases == TOTAL
    assert stack.api.get("/audit/verify").json()["intact"]


def _settle(engine: Engine) -> int:
    """Return the stored count once it stops growing for two seconds (the survivors are done)."""
    last = -1
    while True:
        now = stored(engine)
        if now == last:
            return now
        last = now
        time.sleep(2)
