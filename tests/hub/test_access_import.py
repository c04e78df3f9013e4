"""Bulk enrolment (``POST /api/v1/access/import``): all or nothing, one version, rows named."""

import time
from pathlib import Path
from typing import Any

import httpx

from hub.access.repository import AccessStore
from hub.persistence.engine import create_hub_engine
from tests.hub.http import ok

API = "/api/v1/access"


async def site_with_group(client: httpx.AsyncClient, edge_id: str = "e1") -> int:
    await ok(await client.post(f"{API}/sites", json={"edge_id": edge_id, "name": "Yard"}), 201)
    door = {"id": f"{edge_id}-gate", "reader_id": f"{edge_id}-reader"}
    await ok(await client.put(f"{API}/sites/{edge_id}/doors/{door['id']}", json=door), 201)
    group = await ok(
        await client.post(
            f"{API}/groups",
            json={"edge_id": edge_id, "name": "residents", "door_ids": [door["id"]]},
        ),
        201,
    )
    group_id: int = group["id"]
    return group_id


async def version(client: httpx.AsyncClient) -> int:
    sites = (await ok(await client.get(f"{API}/sites")))["items"]
    found: int = sites[0]["version"]
    return found


def row(n: int, group_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"Resident {n}",
        "group_ids": [group_id],
        "credentials": [{"kind": "card", "value": f"CA{n:08X}"}],
        **extra,
    }


async def test_an_import_with_bad_rows_names_every_row_and_enrols_nothing(
    client: httpx.AsyncClient,
) -> None:
    group = await site_with_group(client)
    await site_with_group(client, "e2")
    other_group = (await ok(await client.get(f"{API}/groups", params={"edge_id": "e2"})))["items"]
    single = await ok(await client.post(f"{API}/people", json={"edge_id": "e1", "name": "Li"}), 201)
    await ok(
        await client.post(
            f"{API}/people/{single['id']}/credentials", json={"kind": "pin", "value": "246810"}
        ),
        201,
    )
    before = await version(client)
    people_before = (await ok(await client.get(f"{API}/people")))["items"]
    rows = [
        row(0, group),
        row(1, 999),  # no such group
        row(2, other_group[0]["id"]),  # a group of another site
        {**row(3, group), "credentials": [{"kind": "card", "value": "04 A1"}]},
        {**row(4, group), "credentials": [{"kind": "card", "value": "ca00000000"}]},  # = row 0
        {**row(5, group), "credentials": [{"kind": "pin", "value": "246810"}]},  # Li's PIN
        row(6, group, household_id=4242),
        row(7, group, valid_from="2026-12-01T00:00:00Z", valid_until="2026-11-01T00:00:00Z"),
        row(8, group),
    ]
    response = await client.post(f"{API}/import", json={"edge_id": "e1", "people": rows})
    assert response.status_code == 422, response.text
    body = response.json()
    problems = {(e["row"], e["field"]) for e in body["errors"]}
    assert problems == {
        (1, "group_ids"),
        (2, "group_ids"),
        (3, "credentials[0]"),
        (4, "credentials[0]"),
        (5, "credentials[0]"),
        (6, "household_id"),
        (7, "valid_until"),
    }
    by_row = {e["row"]: e["error"] for e in body["errors"]}
    assert "row 0 credentials[0]" in by_row[4]
    assert "already enrolled" in by_row[5]
    assert "7 problems" in body["detail"]
    # Secrets are never repeated, not even the malformed one.
    for secret in ("04 A1", "CA00000000", "ca00000000", "246810"):
        assert secret not in response.text
    assert await version(client) == before
    assert (await ok(await client.get(f"{API}/people")))["items"] == people_before

    # Pydantic-level errors name the row too (its index in the body).
    missing_name = await client.post(
        f"{API}/import", json={"edge_id": "e1", "people": [row(0, group), {"group_ids": []}]}
    )
    assert missing_name.status_code == 422
    assert missing_name.json()["detail"][0]["loc"] == ["body", "people", 1, "name"]
    unknown_site = await client.post(f"{API}/import", json={"edge_id": "nope", "people": []})
    assert unknown_site.status_code == 404


async def test_a_valid_import_enrols_everyone_in_one_version(client: httpx.AsyncClient) -> None:
    group = await site_with_group(client)
    before = await version(client)
    rows = [
        row(0, group),
        {**row(1, group), "credentials": [{"kind": "pin", "value": "135790", "label": "door"}]},
        {"name": "Visitor", "valid_until": "2026-12-24T00:00:00Z"},  # no groups, no cards
    ]
    result = await ok(
        await client.post(f"{API}/import", json={"edge_id": "e1", "people": rows}), 201
    )
    assert result["version"] == before + 1 == await version(client)
    assert (result["people"], result["credentials"]) == (3, 2)
    people = [await ok(await client.get(f"{API}/people/{pid}")) for pid in result["person_ids"]]
    assert [p["name"] for p in people] == ["Resident 0", "Resident 1", "Visitor"]
    assert [p["group_ids"] for p in people] == [[group], [group], []]
    assert [[c["kind"] for c in p["credentials"]] for p in people] == [["card"], ["pin"], []]
    assert people[1]["credentials"][0]["label"] == "door"
    # The same rows again: every card is enrolled already, nothing changes.
    again = await client.post(f"{API}/import", json={"edge_id": "e1", "people": rows})
    assert again.status_code == 422
    assert {e["row"] for e in again.json()["errors"]} == {0, 1}
    assert await version(client) == before + 1


async def test_ten_thousand_rows_in_one_request(
    client: httpx.AsyncClient, tmp_path: Path, database_url: str
) -> None:
    group = await site_with_group(client)
    before = await version(client)
    rows = [row(n, group) for n in range(10_000)]
    started = time.perf_counter()
    response = await client.post(f"{API}/import", json={"edge_id": "e1", "people": rows})
    elapsed = time.perf_counter() - started
    result = await ok(response, 201)
    print(f"\nimport of 10,000 people + cards on {database_url.split(':')[0]}: {elapsed:.2f} s")
    assert (result["people"], result["credentials"]) == (10_000, 10_000)
    assert result["version"] == before + 1
    engine = create_hub_engine(database_url)
    try:
        snapshot = AccessStore(engine).allow_lists.updates_since("e1", 0)
    finally:
        engine.dispose()
    assert snapshot is not None
    credentials = [i for i in snapshot.items if i.key.startswith("cred:")]
    assert len(credentials) == 10_000
    assert snapshot.to_version == before + 1
