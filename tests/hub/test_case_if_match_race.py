"""Two actions on one case at once on PostgreSQL, both sent with the version their senders saw
(``If-Match``): the check is made under the case's row lock, so the second sees the first's
version and is refused; a check made by a read before the lock let both through."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Connection, Engine, select, text

from devices.kinds import DeviceKind
from hub.cases.rules import CaseAction, CaseEventAction
from hub.cases.views import CaseView
from hub.errors import StaleVersionError
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import CaseRow
from hub.store import HubStore
from tests.hub.conftest import hub_app
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.http import api_client
from tests.hub.test_cases_api import HEAT, SMOKE, open_fire

WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND datname = current_database() AND pid <> :holder"
)


def waiting_for_the_case(engine: Engine, holder: Connection) -> int:
    """Return how many sessions other than ``holder`` wait for a lock."""
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as watcher:
        return int(watcher.execute(WAITING, {"holder": pid}).scalar_one())


def hold_the_case(engine: Engine, case_id: int) -> Connection:
    """Return a connection holding the case's row lock (an action of a third party, under way)."""
    holder = engine.connect()
    holder.execute(select(CaseRow.id).where(CaseRow.id == case_id).with_for_update())
    return holder


async def test_two_operators_acting_at_once_on_one_version_one_wins(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    app = hub_app(migrated_postgres_url, tmp_path)
    engine = create_hub_engine(migrated_postgres_url)
    async with api_client(app) as client:
        for device in (SMOKE, HEAT):
            assert (await client.post("/api/v1/devices", json=device)).status_code == 201
        url = f"/api/v1/cases/{open_fire(app)}"
        seen = (await client.get(url)).headers["etag"]

        holder = hold_the_case(engine, int(url.rsplit("/", 1)[1]))
        try:

            async def comment(note: str) -> httpx.Response:
                return await client.post(
                    f"{url}/comment", json={"note": note}, headers={"If-Match": seen}
                )

            # Both read the case at the same version; both wait for its lock (each in its own
            # worker thread and connection), then go one after the other.
            racing = [asyncio.create_task(comment(n)) for n in ("王师傅到了", "李师傅到了")]
            deadline = time.monotonic() + 30
            while await asyncio.to_thread(waiting_for_the_case, engine, holder) < 2:
                assert time.monotonic() < deadline, "the two actions never waited for the case"
                assert not any(t.done() for t in racing), [t.result().text for t in racing]
                await asyncio.sleep(0.01)
            holder.commit()
        finally:
            holder.close()
        answers = await asyncio.gather(*racing)

        assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
        [won] = [a for a in answers if a.status_code == 200]
        [lost] = [a for a in answers if a.status_code == 412]
        assert lost.json()["version"] == won.json()["version"]
        case = (await client.get(url)).json()
        assert case["version"] == won.json()["version"]
        comments = [e for e in case["events"] if e["action"] == "commented"]
        assert len(comments) == 1
    engine.dispose()


def test_two_workers_acting_at_once_on_one_version_one_wins(
    pg_engine: Engine, migrated_postgres_url: str
) -> None:
    store = HubStore(pg_engine)
    store.fleet.register_device(make_device(SMOKE["id"], kind=DeviceKind.SMOKE))
    [case] = store.intake.ingest_alerts([make_alert(device_id=SMOKE["id"])], T0).cases_opened
    other = create_hub_engine(migrated_postgres_url)
    workers = [HubStore(pg_engine), HubStore(other)]  # two hub workers, a pool each
    seen = frozenset({case.version})

    def comment(worker: HubStore, note: str) -> object:
        try:
            return worker.cases.act(
                case.id, CaseAction.COMMENT, note=note, actor="op", if_match=seen
            )
        except StaleVersionError as exc:
            return exc

    holder = hold_the_case(pg_engine, case.id)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            racing = [
                pool.submit(comment, w, n) for w, n in zip(workers, ("one", "two"), strict=True)
            ]
            deadline = time.monotonic() + 30
            while waiting_for_the_case(pg_engine, holder) < 2:
                assert time.monotonic() < deadline, "the two actions never waited for the case"
                assert not any(f.done() for f in racing), [f.result() for f in racing]
                time.sleep(0.01)
            holder.commit()
            outcomes = [f.result(timeout=60) for f in racing]
    finally:
        holder.close()
        other.dispose()

    [lost] = [o for o in outcomes if isinstance(o, StaleVersionError)]
    [won] = [o for o in outcomes if not isinstance(o, StaleVersionError)]
    assert isinstance(won, CaseView)
    assert (lost.version, lost.status) == (won.version, won.status.value)
    events = [e.action for e in store.cases.get_case(case.id).events]
    assert events.count(CaseEventAction.COMMENTED) == 1
