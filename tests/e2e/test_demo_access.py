"""`linli demo` sets up the sample community's door access (the door scenarios raise alerts)
and plays a synthetic clip on its corridor camera (a camera fire case with its pictures).

The demo runs in-process (embedded broker, hub, edge) without its own simulators; the test
plays the door scenarios against it as `linli simulate` would.
"""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.site import SiteFile
from linli.brokers import free_port
from linli.demo import DemoEndpoints, DemoOptions, run_demo
from linli.status import HubSnapshot, fetch_status
from simulators.runner import run_scenario
from tests.polling import until

pytestmark = pytest.mark.slow

TOKEN = "lnl_demo-access-test-token-0123456789"


async def test_the_demo_has_door_access_and_a_camera_clip(
    tmp_path: Path,
) -> None:
    ready: asyncio.Future[DemoEndpoints] = asyncio.get_running_loop().create_future()
    options = DemoOptions(
        data_dir=tmp_path / "data",
        http_port=free_port(),
        mqtt_port=free_port(),
        simulators=False,
        operator_token=TOKEN,
    )
    demo = asyncio.create_task(run_demo(options, on_ready=ready.set_result), name="demo")
    try:
        endpoints = await asyncio.wait_for(ready, 60)
        site = SiteFile.load(endpoints.site_file)
        async with httpx.AsyncClient(
            base_url=f"{endpoints.hub_url}/api/v1",
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ) as api:

            async def doors() -> list[dict[str, Any]]:
                # The demo puts its doors in one at a time: wait for both of them.
                response = await api.get("/access/doors")
                items: list[dict[str, Any]] = (
                    response.json()["items"] if response.status_code == 200 else []
                )
                return items if len(items) >= 2 else []

            configured = await until(doors, "the sample doors", timeout_s=60, interval_s=0.2)
            assert {d["edge_id"] for d in configured} == {site.site.edge_id}

            async def both_groups() -> list[dict[str, Any]]:
                # The doors come first, then the schedule and the groups: wait for all of it.
                items: list[dict[str, Any]] = (await api.get("/access/groups")).json()["items"]
                return items if len(items) >= 2 else []

            groups = await until(both_groups, "the sample groups", timeout_s=60, interval_s=0.2)
            assert {g["name"] for g in groups} == {"Residents", "Cleaners"}
            assert any(g["schedule_id"] for g in groups)

            async def alert_kinds() -> set[str]:
                return {a["kind"] for a in (await api.get("/alerts")).json()["items"]}

            async def scenario(name: str, kind: str) -> bool:
                # The edge may still be catching up with its allow-list: play it again then.
                for _ in range(3):
                    await run_scenario(
                        name,
                        site,
                        host=endpoints.mqtt_host,
                        port=endpoints.mqtt_port,
                        speed=30.0,
                    )
                    try:
                        await until(
                            lambda: _has(alert_kinds, kind),
                            f"a {kind} alert",
                            timeout_s=10,
                            interval_s=0.2,
                        )
                    except AssertionError:
                        continue
                    return True
                return False

            assert await scenario("forced_gate", "door_forced")
            assert await scenario("card_brute_force", "access_denied_burst")

            # The corridor camera's clip has flames from its 15th second on.
            async def camera_case() -> int | None:
                alerts = (await api.get("/alerts", params={"kind": "camera_fire"})).json()
                cases = [a["case_id"] for a in alerts["items"] if a["case_id"]]
                return cases[0] if cases else None

            case_id = await until(camera_case, "a camera fire case", timeout_s=90, interval_s=0.2)

            async def pictures() -> list[Any]:
                found: list[Any] = (await api.get(f"/cases/{case_id}/evidence")).json()["items"]
                return found

            assert await until(pictures, "the camera's pictures", timeout_s=60, interval_s=0.2)

            # `linli status` reads the same hub.
            def status() -> HubSnapshot:
                with httpx.Client(
                    base_url=endpoints.hub_url, headers={"authorization": f"Bearer {TOKEN}"}
                ) as client:
                    return fetch_status(client)

            snapshot = await asyncio.to_thread(status)
            assert [(e["id"], e["state"]) for e in snapshot.edges] == [
                (site.site.edge_id, "online")
            ]
            assert {c["kind"] for c in snapshot.cases} >= {"door_forced", "camera_fire"}
    finally:
        demo.cancel()
        with pytest.raises(asyncio.CancelledError):
            await demo


async def _has(kinds: Any, kind: str) -> bool:
    found: set[str] = await kinds()
    return kind in found
