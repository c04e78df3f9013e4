"""Found by an outside review: a care household took another site's sensors from a scoped
operator, and the refusal of another site's smoke detector told its kind. A scoped caller's
care household now names its sites' sensors only; another site's device reads as missing."""

import httpx
import pytest

from tests.hub.http import ok
from tests.hub.test_scoping_more import (
    admin,  # noqa: F401 - the two-site fixture
    new_household,
)

pytestmark = pytest.mark.fake_clock

API = "/api/v1"
LAN_MOTION = {
    "id": "lan-motion",
    "kind": "motion",
    "location": "Building 3/Unit 201/Hall",
    "edge_id": "edge-lan",
}
MEI_MOTION = {
    "id": "mei-motion",
    "kind": "motion",
    "location": "Building 9/Unit 101/Hall",
    "edge_id": "edge-mei",
}


def care(*device_ids: str) -> dict[str, object]:
    return {"consent": {"by": "Chen"}, "device_ids": list(device_ids)}


async def test_a_scoped_operator_flags_a_household_with_its_sites_sensors_only(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    for device in (LAN_MOTION, MEI_MOTION):
        await ok(await admin.post(f"{API}/devices", json=device), 201)
    mei = await new_household(admin, "Chen of Meiyuan", "Building 9/Unit 101", "mei-sos")
    url = f"{API}/households/{mei['id']}/care"
    missing = await operator.put(url, json=care("no-such-device"))
    assert missing.status_code == 422, missing.text
    for theirs in ("lan-motion", "lan-smoke"):
        refused = await operator.put(url, json=care("mei-motion", theirs))
        assert refused.status_code == missing.status_code, refused.text
        assert refused.json() == missing.json() | {
            "detail": missing.json()["detail"].replace("no-such-device", theirs)
        }
    assert (await operator.get(url)).status_code == 404  # nothing was flagged
    flagged = await ok(await operator.put(url, json=care("mei-motion")))
    assert flagged["device_ids"] == ["mei-motion"]


async def test_an_unscoped_admin_still_names_any_sensor(
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    await ok(await admin.post(f"{API}/devices", json=LAN_MOTION), 201)
    mei = await new_household(admin, "Chen of Meiyuan", "Building 9/Unit 101", "mei-sos")
    await ok(await admin.put(f"{API}/households/{mei['id']}/care", json=care("lan-motion")))


async def test_another_sites_household_reads_as_one_that_does_not_exist(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    """Review low finding: a household of another site was "does not exist", one that does not
    exist "not flagged for care": a scoped operator could tell which ids are households."""
    await ok(await admin.post(f"{API}/devices", json=LAN_MOTION), 201)
    flagged = await new_household(admin, "Li of Lanyuan", "Building 3/Unit 201", "lan-sos")
    await ok(await admin.put(f"{API}/households/{flagged['id']}/care", json=care("lan-motion")))
    # No button: Lanyuan's by the grid covering its place.
    body = {"name": "Wu of Lanyuan", "location": "Building 3/Unit 202", "device_ids": []}
    unflagged = await ok(await admin.post(f"{API}/households", json=body), 201)
    nowhere = 1 + max(flagged["id"], unflagged["id"])

    async def answers(household_id: int) -> list[tuple[int, object]]:
        url = f"{API}/households/{household_id}/care"
        responses = [
            await operator.get(url),
            await operator.put(url, json=care()),
            await operator.post(f"{url}/away", json={"until": None}),
        ]
        # The same answer but for the id it names.
        return [(r.status_code, r.text.replace(str(household_id), "N")) for r in responses]

    missing = await answers(nowhere)
    assert [status for status, _ in missing] == [404, 404, 404]
    assert await answers(flagged["id"]) == missing
    assert await answers(unflagged["id"]) == missing
