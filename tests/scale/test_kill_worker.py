"""kill -9 one of three `linli hub --worker-id` processes under load: 0 alerts lost, 0 duplicate
cases. Real processes, real Mosquitto (the site configuration Linli ships), real PostgreSQL.

A burst of alerts is published at QoS 1 on the edge's alert topic, as an edge sends them, by
``mosquitto_pub``; worker 2 is SIGKILLed mid-burst and started again with its client id.

What the broker does: Mosquitto 2.0 keeps a dead persistent client's unacknowledged and queued
messages of a shared subscription in that client's session (and keeps dealing it its share
while it is away), for when it comes back. But the hub's ingest does not hold MQTT
acknowledgements back (paho acknowledges a QoS 1 message as it reads it): what the killed
worker had read and not yet committed is gone from the broker. Nothing is lost all the same,
because delivery is end to end: an edge keeps each alert in its outbox until an ``AlertAck``
names it, sent only after the commit, and re-sends it otherwise (``--resend-after``). This
test plays that edge: after the restart it publishes the whole burst again (same alert ids),
as the edge re-sends whatever was not acknowledged; then every alert must be stored once, on
one case per building.
"""

import dataclasses
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import AlertRow, CaseRow
from linli.brokers import MosquittoProcess, free_port
from tests.conftest import missing
from tests.e2e.stack import LinliProcess, Stack, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.mosquitto,
    pytest.mark.postgres,
]

BUILDINGS = 30
ALERTS_PER_DEVICE = 60
TOTAL = BUILDINGS * ALERTS_PER_DEVICE
DEVICES = [
    Device(id=f"b{n}-smoke", kind=DeviceKind.SMOKE, location=f"Building {n}/Floor 1/Unit 101")
    for n in range(BUILDINGS)
]


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


def burst(edge_id: str) -> list[str]:
    """Every device raises ALERTS_PER_DEVICE alerts (one incident each), interleaved."""
    now = datetime.now(UTC)
    lines = []
    for n in range(ALERTS_PER_DEVICE):
        for device in DEVICES:
            ts = now + timedelta(milliseconds=n)
            alert = Alert(
                id=uuid.uuid4().hex,
                edge_id=edge_id,
                device_id=device.id,
                kind=AlertKind.SMOKE,
                state=AlertState.RAISED,
                severity=Severity.HIGH,
                ts=ts,
                detected_at=ts,
                reason=AlertReason(rule="kill-test"),
            )
            lines.append(alert.model_dump_json())
    return lines


def test_kill_9_one_of_three_workers_loses_nothing_and_doubles_nothing(
    workers: Workers,
) -> None:
    stack, engine = workers.stack, workers.engine
    victim = workers.processes[1]
    for process in workers.processes:
        wait_until(process.hub_connected, timeout=180, what=f"{process.name} connected")
    publisher = subprocess.Popen(
        [
            "mosquitto_pub", "-h", "127.0.0.1", "-p", str(stack.local_broker.port), "-q", "1",
            "-t", edge_topic(stack.edge_id, EdgeChannel.ALERT), "-l",
        ],
        stdin=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert publisher.stdin is not None
    lines = burst(stack.edge_id)
    publisher.stdin.write("\n".join(lines) + "\n")
    publisher.stdin.close()
    wait_until(lambda: stored(engine) >= TOTAL // 5, interval=0.02, what="a fifth stored")
    victim.kill()  # SIGKILL mid-burst
    at_kill = stored(engine)
    assert publisher.wait(timeout=120) == 0
    # The survivors take their share; the victim's session keeps its own.
    before_restart = _settle(engine)
    stalled = sessions(engine)
    victim.start()
    wait_until(victim.hub_connected, timeout=180, what="worker 2 back")
    after_restart = _settle(engine)
    # The edge re-sends every alert no AlertAck has named: the whole burst, same ids.
    resend = subprocess.run(
        [
            "mosquitto_pub", "-h", "127.0.0.1", "-p", str(stack.local_broker.port), "-q", "1",
            "-t", edge_topic(stack.edge_id, EdgeChannel.ALERT), "-l",
        ],
        input="\n".join(lines) + "\n",
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    assert resend.returncode == 0
    try:
        wait_until(lambda: stored(engine) == TOTAL, timeout=180)
    except AssertionError:
        raise AssertionError(
            f"{stored(engine)}/{TOTAL} stored (at the kill {at_kill}, before the restart "
            f"{before_restart}, after it {after_restart}); sessions: {stalled}"
        ) from None
    print(
        f"\nkill -9 of worker 2 with {at_kill}/{TOTAL} stored; {after_restart}/{TOTAL} once it "
        f"was back ({TOTAL - after_restart} read by it and lost with it); all {TOTAL} stored "
        "once after the re-send"
    )

    with engine.connect() as conn:
        per_case = conn.execute(select(CaseRow.device_id, CaseRow.alert_count)).all()
        on_cases = conn.execute(
            select(func.count()).select_from(AlertRow).where(AlertRow.case_id.is_not(None))
        ).scalar_one()
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
