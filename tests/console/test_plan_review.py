"""Found by an outside review of the site plan: two communities each with a "Building 3" showed
as one building, their devices mixed on its floors. Each site's buildings are kept apart (the
pure plan, and ``GET /api/v1/console/site-plan`` through the roster), each device with its
site."""

from pathlib import Path

from devices.kinds import AlertKind
from hub.app import create_app
from hub.console.routes import build_site_plan
from hub.settings import HubSettings
from tests.console.test_console_api import case, device
from tests.hub.factories import T0, make_device
from tests.hub.http import api_client, ok

FLAT = "Building 3/Floor 12/Unit 1201"


def test_two_sites_building_3s_are_two_buildings() -> None:
    devices = [
        device("lanyuan-smoke", FLAT),
        device("zhuyuan-smoke", FLAT),
        device("zhuyuan-sos", "building 3/floor 12/Unit 1202"),  # another spelling, one place
        device("lost", FLAT),  # of no site (no roster yet)
    ]
    sites = {"lanyuan-smoke": "lanyuan", "zhuyuan-smoke": "zhuyuan", "zhuyuan-sos": "zhuyuan"}
    cases = [case(1, "zhuyuan-smoke", AlertKind.SMOKE)]
    plan = build_site_plan(devices, cases, T0, sites, {"lanyuan": "Lanyuan", "zhuyuan": "Zhuyuan"})
    assert [(b.site_id, b.site_name, b.name, b.hazards) for b in plan.buildings] == [
        ("lanyuan", "Lanyuan", "Building 3", 0),
        ("zhuyuan", "Zhuyuan", "Building 3", 1),
        (None, None, "Building 3", 0),
    ]
    on_floor = [[(d.id, d.site_id) for d in b.floors[0].devices] for b in plan.buildings]
    assert on_floor == [
        [("lanyuan-smoke", "lanyuan")],
        [("zhuyuan-smoke", "zhuyuan"), ("zhuyuan-sos", "zhuyuan")],
        [("lost", None)],
    ]
    assert [b.floors[0].name for b in plan.buildings] == ["Floor 12"] * 3


async def test_the_plan_keeps_each_communitys_building_3_apart(tmp_path: Path) -> None:
    app = create_app(HubSettings(data_dir=tmp_path, start_ingest=False))
    async with api_client(app) as admin:
        for site_id, edge in (("lanyuan", "e1"), ("zhuyuan", "e2")):
            site = {"id": site_id, "name": site_id.title(), "edge_ids": [edge]}
            await ok(await admin.put(f"/api/v1/sites/{site_id}", json=site))
            smoke = make_device(f"{site_id}-smoke", edge_id=edge).model_dump(mode="json")
            await ok(await admin.post("/api/v1/devices", json=smoke), 201)
        plan = await ok(await admin.get("/api/v1/console/site-plan"))
    buildings = [
        (
            b["site_id"],
            b["site_name"],
            b["name"],
            [d["id"] for f in b["floors"] for d in f["devices"]],
        )
        for b in plan["buildings"]
    ]
    assert buildings == [
        ("lanyuan", "Lanyuan", "Building 3", ["lanyuan-smoke"]),
        ("zhuyuan", "Zhuyuan", "Building 3", ["zhuyuan-smoke"]),
    ]
    devices = {
        d["id"]: d["site_id"] for b in plan["buildings"] for f in b["floors"] for d in f["devices"]
    }
    assert devices == {"lanyuan-smoke": "lanyuan", "zhuyuan-smoke": "zhuyuan"}
