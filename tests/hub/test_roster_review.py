"""Found by an outside review: a scoped operator's new grid, of its own site, covering the
place of another site's household (one with no device at its place) took that household into
its scope: its care contacts, its page's token. A roster change may not move a household of
another site now, as it may not move a device."""

import httpx
import pytest

from tests.hub.http import ok
from tests.hub.test_scoping_more import admin  # noqa: F401 - the two-site fixture

pytestmark = pytest.mark.fake_clock

API = "/api/v1"


async def names(client: httpx.AsyncClient) -> list[str]:
    return [h["name"] for h in (await ok(await client.get(f"{API}/households")))["items"]]


async def test_a_grid_of_ones_own_site_does_not_take_another_sites_household(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    wu = await ok(
        await admin.post(
            f"{API}/households", json={"name": "Wu of Lanyuan", "location": "Building 3/Unit 502"}
        ),
        201,
    )
    before = await names(operator)
    assert "Wu of Lanyuan" not in before
    flat = ["Building 3/Unit 502"]
    steal = {"id": "g-steal", "site_id": "meiyuan", "name": "steal", "places": flat}
    refused = await operator.put(f"{API}/grids/g-steal", json=steal)
    assert refused.status_code == 403, refused.text
    assert "households of other sites" in refused.json()["detail"]
    assert await names(operator) == before
    assert (await operator.post(f"{API}/households/{wu['id']}/token")).status_code == 404
    assert (await admin.get(f"/r/{wu['token']}/status")).status_code == 200, "its link still works"
    own = {"id": "g-own", "site_id": "meiyuan", "name": "own", "places": ["Building 9/Unit 7"]}
    assert (await operator.put(f"{API}/grids/g-own", json=own)).status_code == 200
