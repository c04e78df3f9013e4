"""The sample residents seed through the hub's API: households, care, requests (one fixed and
rated), a notice; seeding again adds nothing."""

from datetime import UTC, datetime
from pathlib import Path

from devices.site import SiteFile
from hub.app import create_app
from hub.settings import HubSettings
from simulators.residents import ResidentsFile, seed_residents
from simulators.sites import sample_residents_path, sample_roster_path, sample_site_path
from tests.hub.http import api_client


async def test_the_sample_residents_seed_once(tmp_path: Path) -> None:
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        start_ingest=False,
        roster_file=sample_roster_path(),
    )
    residents = ResidentsFile.load(sample_residents_path())
    site = SiteFile.load(sample_site_path())
    async with api_client(create_app(settings)) as client:
        for device in site.devices:
            body = {"id": device.id, "kind": device.kind.value, "location": device.location}
            assert (await client.post("/api/v1/devices", json=body)).status_code == 201
        links = await seed_residents(client, residents, now=datetime.now(UTC))
        assert set(links) == {"wang", "zhao", "li"}
        requests = (await client.get("/api/v1/requests")).json()["items"]
        assert sorted(r["category"] for r in requests) == ["hazard", "repair", "sanitation"]
        rated = [r for r in requests if r["ratings"]]
        assert [r["ratings"][0]["score"] for r in rated] == [4]
        [care] = (await client.get("/api/v1/care")).json()["items"]
        assert care["device_ids"] == ["b2-f3-301-motion"]
        [notice] = (await client.get("/api/v1/notices")).json()["items"]
        assert notice["recipients"] == 2  # the two households of building 2
        volunteers = [
            r
            for r in (await client.get("/api/v1/responders")).json()["items"]
            if r["role"] == "volunteer"
        ]
        assert [v["id"] for v in volunteers] == ["hu"]

        assert await seed_residents(client, residents) == {}
        assert len((await client.get("/api/v1/requests")).json()["items"]) == 3
