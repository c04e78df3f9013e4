"""An edge's heartbeat, said in its status over real Mosquitto, taken by a real hub on
PostgreSQL and judged by the supervision round (``hub.fleet.supervision.EdgeRhythm``).

The hub runs on the wall clock; the round judged here is a supervisor of the test's own on the
hub's database, on an injected clock set from the time the hub recorded the status: no
waiting for wall time.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Row, select

from devices.kinds import AlertKind
from devices.messages import EdgeStatus
from devices.topics import EdgeChannel, edge_topic
from hub.cases.changes import CaseChanges
from hub.cases.supervisor import Supervisor
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import EdgeRow
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.hub.conftest import FakeClock
from tests.hub.test_ingest_mqtt import (
    RunningHub,
    edge_client,
    hub_settings,
    start_hub,
)
from tests.polling import until

pytestmark = pytest.mark.mosquitto


@pytest.fixture
async def hub(
    mosquitto: MosquittoProcess, tmp_path: Path, migrated_postgres_url: str
) -> AsyncIterator[RunningHub]:
    settings = hub_settings(mosquitto, tmp_path / "hub").model_copy(
        update={"database_url": migrated_postgres_url}
    )
    running = await start_hub(settings)
    yield running
    await running.close()


async def test_an_edge_that_says_five_minutes_is_judged_by_them_after_the_real_ingest(
    hub: RunningHub, mosquitto: MosquittoProcess, migrated_postgres_url: str
) -> None:
    status = EdgeStatus(edge_id="e1", state="online", heartbeat_s=300)
    engine = create_hub_engine(migrated_postgres_url)
    try:

        def read_edge() -> Row[float | None, datetime] | None:
            with engine.connect() as connection:
                return connection.execute(
                    select(EdgeRow.heartbeat_s, EdgeRow.last_seen)
                ).one_or_none()

        # The edge's row, not the ingest's counter: it counts a status as it takes it up,
        # before its transaction commits (a loaded CI run read no row here once).
        async def recorded() -> bool:
            return (await asyncio.to_thread(read_edge)) is not None

        async with edge_client(mosquitto, "e1") as edge:
            await edge.publish(
                edge_topic("e1", EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
            )
            await until(recorded, "the edge's status in the database")
        row = read_edge()
        assert row is not None
        assert row.heartbeat_s == 300
        clock = FakeClock(row.last_seen)
        store = HubStore(engine, clock=clock)
        supervisor = Supervisor(
            store, CaseChanges(EventBus()), clock=clock, edge_check_every=timedelta(0)
        )
        # Past the hub's 120 s, within 4 of its 300 s heartbeats: not lost (before: a case).
        clock.advance(299)
        await supervisor.tick()
        assert store.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE) == []
        clock.advance(1200 - 299 + 1)
        await supervisor.tick()
        [raised] = await asyncio.to_thread(store.cases.list_alerts, kind=AlertKind.EDGE_OFFLINE)
        assert raised.reason.values["silent_after_s"] == 1200.0
    finally:
        engine.dispose()
