"""Alarms do not wait for the threads every request shares.

The hub's routes and its alarm path both ran their database work on asyncio's default thread
pool (min(32, cores + 4) threads: 6 on a 2-core box). Work that holds those threads — a few
residents' photos being re-encoded (a 5 KB PNG of 7000 × 7000 pixels takes about a second and
300 MB), a slow statistics query, a stalled database call — held up the intake of a fire
alarm, its acknowledgement to the edge and the case behind it, for as long as it lasted. The
alarm path has threads of its own now (``hub.persistence.threads``).

Here the default pool is held busy on purpose (every thread waits on a gate the test opens at
the end), as any such load would hold it, and an alarm must still be acknowledged: the hub
acknowledges an alert only after the transaction that stored it committed.
"""

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devices.messages import DeviceRegistry
from devices.topics import EdgeChannel, edge_topic
from hub.cases.changes import CaseChanges
from hub.cases.supervisor import Supervisor
from hub.live.events import EventBus
from hub.persistence.threads import alarm_thread
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.test_ingest_mqtt import (
    SMOKE,
    RunningHub,
    acked,
    edge_client,
    hub_settings,
    receive,
    start_hub,
)
from tests.hub.test_supervision import SOS, press

POOL = 4


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub whose event loop's default pool has ``POOL`` threads (the test fills them)."""
    pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="shared")
    asyncio.get_running_loop().set_default_executor(pool)
    running = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    yield running
    await running.close()


@pytest.mark.mosquitto
async def test_a_fire_alarm_is_taken_in_while_every_shared_thread_is_busy(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    async with edge_client(mosquitto) as edge:
        assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
        await receive(
            edge,
            edge_topic("e1", EdgeChannel.DEVICES),
            lambda raw: bool(DeviceRegistry.model_validate_json(raw).devices),
        )
        busy = [loop.run_in_executor(None, gate.wait) for _ in range(POOL)]
        try:
            alert = make_alert(device_id=SMOKE["id"])
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
            await acked(edge, alert.id)  # committed, with the shared threads still held
            assert not any(b.done() for b in busy)
        finally:
            gate.set()
            await asyncio.gather(*busy)
    # And the case is there for the operator once the shared threads are free again.
    [case] = (await hub.http.get("/api/v1/cases")).json()["items"]
    assert case["device_ids"] == [SMOKE["id"]]


async def test_an_sos_nobody_answered_climbs_while_every_shared_thread_is_busy(
    store: HubStore, clock: FakeClock
) -> None:
    """The supervisor's round (the SOS nobody acknowledged within a minute goes to the
    street) waited for a shared thread as the intake did."""
    store.fleet.register_device(SOS)
    case_id = press(store, clock)
    clock.advance(60)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="shared"))
    gate = threading.Event()
    busy = [loop.run_in_executor(None, gate.wait) for _ in range(POOL)]
    supervisor = Supervisor(store, CaseChanges(EventBus()), clock=clock)
    try:
        async with asyncio.timeout(20):
            assert await supervisor.tick() == 1
        assert not any(b.done() for b in busy)
    finally:
        gate.set()
        await asyncio.gather(*busy)
    assert store.cases.get_case(case_id).escalation_level == 1


async def test_the_alarm_threads_carry_the_callers_context() -> None:
    """The audit trail names who acted from a context variable (``hub.audit.acting``): work
    moved to these threads must see it as ``asyncio.to_thread`` did."""
    who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
    who.set("op.li")
    assert await alarm_thread(who.get) == "op.li"
    name = await alarm_thread(lambda: threading.current_thread().name)
    assert name.startswith("linli-alarm")
