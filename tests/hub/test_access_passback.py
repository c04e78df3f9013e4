"""The hub refuses anti-passback on a door without an exit reader (review defect).

Such a door can never record a person leaving: each resident would be let in once, then
refused at that door for ever (``tests/edge/test_access_passback.py``). The hub accepted it
silently; now it answers 422 and says why, and nothing changes (no new allow-list version).
"""

from typing import Any

import httpx

API = "/api/v1/access"


async def test_anti_passback_without_an_exit_reader_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    site = await client.post(f"{API}/sites", json={"edge_id": "e1", "name": "Yard"})
    assert site.status_code == 201, site.text
    door: dict[str, Any] = {"id": "lobby", "reader_id": "lobby-in", "anti_passback": True}
    refused = await client.put(f"{API}/sites/e1/doors/lobby", json=door)
    assert refused.status_code == 422, refused.text  # 201 before
    assert "exit_reader_id" in refused.json()["detail"]
    assert (await client.get(f"{API}/doors", params={"edge_id": "e1"})).json()["items"] == []
    (listed,) = (await client.get(f"{API}/sites")).json()["items"]
    assert listed["version"] == 1  # the site only
    # With an exit reader it is accepted, and anti-passback can then be switched off alone.
    both = {**door, "exit_reader_id": "lobby-out"}
    assert (await client.put(f"{API}/sites/e1/doors/lobby", json=both)).status_code == 201
    off = {"id": "lobby", "reader_id": "lobby-in"}
    assert (await client.put(f"{API}/sites/e1/doors/lobby", json=off)).status_code == 200
