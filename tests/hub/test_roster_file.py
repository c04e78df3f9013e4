"""The roster file: the sample community's responders, provisioning at start, bad files."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind, Severity
from devices.location import Location
from devices.site import SiteFile
from hub.app import create_app
from hub.errors import HubStartupError
from hub.roster.file import apply_roster, load_roster
from hub.roster.rules import grid_of_place
from hub.settings import HubSettings
from hub.store import HubStore
from simulators.sites import sample_roster_path, sample_site_path
from tests.hub.factories import make_alert
from tests.hub.http import api_client

# 10:00 and 22:00 in Shanghai on a Monday.
MORNING = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
NIGHT = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


def test_the_sample_roster_covers_the_sample_site() -> None:
    roster = load_roster(sample_roster_path())
    site = SiteFile.load(sample_site_path())
    [community] = roster.sites
    assert community.edge_ids == [site.site.edge_id]
    # Every device of the sample is in some grid, and every grid has a grid worker.
    for device in site.devices:
        assert grid_of_place(roster.grids, device.location) is not None, device.id
    workers = {g for r in roster.responders if r.role == "grid_worker" for g in r.grid_ids}
    assert workers == {g.id for g in roster.grids}
    assert all(Location.parse(p) for g in roster.grids for p in g.places)


@pytest.mark.parametrize(("now", "patrol"), [(MORNING, "li"), (NIGHT, "chen")])
def test_a_fire_in_the_sample_goes_to_its_grid_worker_and_the_patrol_on_shift(
    store: HubStore, now: datetime, patrol: str
) -> None:
    site = SiteFile.load(sample_site_path())
    apply_roster(store.roster, load_roster(sample_roster_path()))
    for device in site.devices:
        store.fleet.register_device(device.model_copy(update={"edge_id": site.site.edge_id}))
    smoke = next(
        d for d in site.devices if d.location.startswith("Building 3") and d.kind == "smoke"
    )
    alert = make_alert(device_id=smoke.id, kind=AlertKind.SMOKE, severity=Severity.CRITICAL, ts=now)
    [case] = store.intake.ingest_alerts([alert], now).cases_opened
    assert [(m.duty, m.responder) for m in case.team] == [("area", "zhang"), ("patrol", patrol)]


def test_only_what_changed_is_written_again(store: HubStore, tmp_path: Path) -> None:
    roster = load_roster(sample_roster_path())
    records = len(roster.sites) + len(roster.grids) + len(roster.responders)
    assert apply_roster(store.roster, roster) == records
    assert apply_roster(store.roster, roster) == 0  # a restart writes nothing, audits nothing
    audited = [e for e in store.audit.list_audit(limit=1000) if e.action == "roster_changed"]
    assert len(audited) == records
    moved = roster.responders[0].model_copy(update={"name": "Wang Fang (moved)"})
    changed = roster.model_copy(update={"responders": [moved, *roster.responders[1:]]})
    assert apply_roster(store.roster, changed) == 1
    names = {r.id: r.name for r in store.roster.list_responders()}
    assert names["wang"] == "Wang Fang (moved)"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[[sites]\n", "not valid TOML"),
        ('[[sites]]\nid = "a"\nname = "A"\ncolour = "red"\n', "sites.0.colour: Extra inputs"),
        (
            '[[sites]]\nid = "a"\nname = "A"\n[[sites]]\nid = "a"\nname = "B"\n',
            "site a is listed twice",
        ),
        (
            '[[responders]]\nid = "r"\nsite_id = "a"\nname = "R"\nrole = "chef"\n',
            "responders.0.role",
        ),
    ],
)
def test_a_bad_roster_file_is_refused_naming_the_problem(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(text)
    with pytest.raises(HubStartupError, match=complaint):
        load_roster(path)
    with pytest.raises(HubStartupError, match="cannot read the roster file"):
        load_roster(tmp_path / "missing.toml")


def app_with(roster: Path, database_url: str, tmp_path: Path) -> FastAPI:
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, roster_file=roster
    )
    return create_app(settings)


async def test_the_hub_provisions_its_roster_file_at_start(
    tmp_path: Path, database_url: str
) -> None:
    app = app_with(sample_roster_path(), database_url, tmp_path)
    async with api_client(app) as client:
        responders = (await client.get("/api/v1/responders")).json()["items"]
    # The sample community: staff, and hu, a resident volunteer (邻里守望).
    assert {r["id"] for r in responders} == {"chen", "hu", "li", "sun", "wang", "zhang", "zhao"}


async def test_a_roster_that_does_not_fit_stops_the_hub(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "roster.toml"
    path.write_text('[[grids]]\nid = "g"\nsite_id = "nowhere"\nname = "G"\nplaces = ["B1"]\n')
    app = app_with(path, database_url, tmp_path)
    with pytest.raises(HubStartupError, match="site nowhere does not exist"):
        async with api_client(app):
            pass
