"""The sample residents seed through the hub's API: households, care, requests (one fixed and
rated), a notice; seeding again adds nothing."""

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devices.site import SiteFile
from hub.app import create_app
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from simulators.family_phones import FamilyPhones, summary
from simulators.residents import ResidentsFile, seed_residents
from simulators.sites import sample_residents_path, sample_roster_path, sample_site_path
from tests.hub.conftest import hub_on
from tests.hub.http import api_client
from tests.polling import until


async def test_the_sample_residents_seed_once(tmp_path: Path) -> None:
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        start_ingest=False,
        roster_file=sample_roster_path(),
    )
    residents = ResidentsFile.load(sample_residents_path())
    async with api_client(create_app(settings)) as client:
        for device in sample_devices():
            assert (await client.post("/api/v1/devices", json=device)).status_code == 201
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


@pytest.mark.mosquitto
async def test_the_demos_family_phones_receive_the_care_households_copies(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    """The demo's families are reached at a local receiver (simulators.family_phones): the
    building's notice reaches Grandma Zhao's daughter there, as a gateway would text it."""
    settings = hub_on(mosquitto, tmp_path, roster_file=sample_roster_path())
    phones = FamilyPhones()
    base = await phones.start()
    try:
        async with api_client(create_app(settings)) as client:
            for device in sample_devices():
                assert (await client.post("/api/v1/devices", json=device)).status_code == 201
            residents = ResidentsFile.load(sample_residents_path())
            await seed_residents(client, residents, family_phones=base)
            [care] = (await client.get("/api/v1/care")).json()["items"]
            assert [c["target"] for c in care["contacts"]] == [f"{base}/zhao-min"]

            async def delivered() -> bool:
                return any(m.get("contact") == "Zhao Min (daughter)" for m in phones.received)

            await until(delivered, "the notice's copy at the daughter's phone")
            [copy] = phones.received
            assert copy["type"] == "notice"
            assert copy["household_name"] == "赵奶奶 Grandma Zhao"
            assert summary(copy) == f"notice for Zhao Min (daughter): {copy['title']}"
            # Anything else is refused and changes nothing.
            async with httpx.AsyncClient(base_url=base) as other:
                assert (await other.get("/zhao-min")).status_code == 405
                assert (await other.post("/zhao-min", content=b"not json")).status_code == 400
                assert (await other.post("/zhao-min", json=[1])).status_code == 400
            assert len(phones.received) == 1
    finally:
        await phones.stop()


def sample_devices() -> list[dict[str, str]]:
    return [
        {"id": d.id, "kind": d.kind.value, "location": d.location}
        for d in SiteFile.load(sample_site_path()).devices
    ]
