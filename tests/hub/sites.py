"""Sites for scoping tests, put through the API as an admin would."""

import httpx

from tests.hub.http import ok


async def put_site(admin: httpx.AsyncClient, site: str, edge: str, building: str) -> None:
    """Put ``site`` (named after its id), served by ``edge``, and its grid ``g-<site>``.

    The grid covers ``building`` and is named after it.
    """
    body = {"id": site, "name": site.title(), "edge_ids": [edge]}
    await ok(await admin.put(f"/api/v1/sites/{site}", json=body))
    grid = {"id": f"g-{site}", "site_id": site, "name": building, "places": [building]}
    await ok(await admin.put(f"/api/v1/grids/g-{site}", json=grid))
