"""The notifier survives anything one notice or one round can throw at it: the webhook target
check, a failure of any kind recorded against its notice, a failed round, a task that dies
(restarted), and a notice whose worker died each time it held it (given up at claim)."""

import asyncio
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notifier import Notifier
from hub.cases.notify import MAX_ATTEMPTS, Channel, webhook_target_problem
from hub.cases.tasks import supervised
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.test_ingest_mqtt import hub_settings, start_hub
from tests.polling import until

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)


@pytest.mark.parametrize(
    "target",
    [
        "http://[fd00::5/sms",
        "ftp://gw.example/page",
        "mailto:zhao@example.com",
        "http:///page",
        "http://gw .example/page",
        "http://gw.example/\npage",
        "",
        "https://gw.example/" + "p" * 2000,
    ],
)
def test_a_target_that_can_never_work_is_named(target: str) -> None:
    assert webhook_target_problem(target) is not None


@pytest.mark.parametrize(
    "target",
    ["https://gw.example/page", "http://127.0.0.1:8080/sms?to=1", "http://[fd00::5]/sms"],
)
def test_a_usable_target_passes(target: str) -> None:
    assert webhook_target_problem(target) is None


def queue_an_sos(engine: Engine, clock: FakeClock, target: str) -> HubStore:
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, target)])
    store.fleet.register_device(SOS)
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
    store.intake.ingest_alerts([sos], clock.now)
    return store


async def test_an_unforeseen_error_is_recorded_against_its_notice(
    engine: Engine, clock: FakeClock
) -> None:
    store = queue_an_sos(engine, clock, "https://gw.test/page")

    def broken(_request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as http:
        notifier = Notifier(store, clock=clock, http=http)
        assert await notifier.deliver_due() == 1
    assert notifier.counters["notices_retried"] == 1
    assert store.notices.notification_counts()["pending"] == 1


async def test_a_round_that_fails_is_logged_and_the_loop_goes_on(
    engine: Engine, clock: FakeClock
) -> None:
    store = queue_an_sos(engine, clock, "https://gw.test/page")
    calls = Counter[str]()

    def flaky_clock() -> datetime:
        calls["now"] += 1
        if calls["now"] <= 2:
            raise ValueError("a bug in a round")
        return clock()

    sent: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
        notifier = Notifier(store, clock=flaky_clock, http=http, interval=0.01)
        task = asyncio.create_task(notifier.run())
        for _ in range(100):
            await asyncio.sleep(0.01)
            if sent:
                break
        await asyncio.sleep(0.05)
        alive = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert alive
    assert len(sent) == 1
    assert notifier.counters["notices_round_failed"] == 2


async def test_a_case_task_that_dies_is_started_again() -> None:
    counters: Counter[str] = Counter()
    running: dict[str, bool] = {}
    starts: list[int] = []
    forever = asyncio.Event()

    async def run() -> None:
        starts.append(len(starts))
        if len(starts) <= 2:
            raise RuntimeError("died")
        await forever.wait()

    task = asyncio.create_task(
        supervised("notifications", run, counters, first_delay=0.01, running=running)
    )
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(starts) == 3:
            break
    assert running == {"notifications": True}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(starts) == 3
    assert counters["notifications_restarts"] == 2


def test_a_notice_whose_worker_dies_every_time_is_given_up_at_claim(
    engine: Engine, clock: FakeClock
) -> None:
    store = queue_an_sos(engine, clock, "https://gw.test/page")
    for _ in range(MAX_ATTEMPTS):
        # Claimed, then the worker is killed: no outcome is ever recorded.
        assert len(store.notices.claim_notifications(clock.now)) == 1
        clock.advance(31)
    assert store.notices.claim_notifications(clock.now) == []
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 0, "failed": 1}


async def test_health_says_degraded_while_a_case_task_is_down(
    mosquitto: MosquittoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real hub whose notifier dies at every start (a bug): /health says so while it is
    # down, beside the supervision task that runs.
    async def dies(_self: Notifier) -> None:
        raise RuntimeError("a bug in the notifier")

    monkeypatch.setattr(Notifier, "run", dies)
    hub = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    try:

        async def reported_down() -> bool:
            tasks = (await hub.http.get("/api/v1/health")).json()["tasks"]
            return bool(tasks == {"supervision": True, "notifications": False})

        await until(reported_down, "the dead notifier reported")
        health = (await hub.http.get("/api/v1/health")).json()
        assert health["status"] == "degraded"
        assert health["counters"]["notifications_restarts"] >= 1
    finally:
        await hub.close()


async def test_health_says_ok_while_the_case_tasks_run(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    hub = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    try:
        health = (await hub.http.get("/api/v1/health")).json()
        assert health["status"] == "ok"
        assert health["tasks"] == {"supervision": True, "notifications": True}
    finally:
        await hub.close()
