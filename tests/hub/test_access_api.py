"""The door access REST API, in-process (no MQTT): enrolment, revocation, the log, bad input."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from devices.access import AccessEventKind, AccessRecord
from hub.access.repository import AccessStore

API = "/api/v1/access"


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int = 201
) -> Any:
    response = await client.post(f"{API}{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_a_site_is_set_up_and_a_card_enrolled_and_revoked(client: httpx.AsyncClient) -> None:
    site = await post(
        client, "/sites", {"edge_id": "e1", "name": "Yard", "timezone": "Asia/Shanghai"}
    )
    assert site == {"edge_id": "e1", "name": "Yard", "timezone": "Asia/Shanghai", "version": 1}
    door = {"id": "gate", "reader_id": "gate-reader", "contact_id": "gate-door", "held_open_s": 45}
    created = await client.put(f"{API}/sites/e1/doors/gate", json=door)
    assert created.status_code == 201
    assert created.json()["door"]["held_open_s"] == 45
    replaced = await client.put(f"{API}/sites/e1/doors/gate", json={**door, "held_open_s": 60})
    assert replaced.status_code == 200
    schedule = await post(
        client,
        "/schedules",
        {
            "name": "cleaners",
            "windows": [{"days": [1, 2, 3, 4, 5], "start": "07:00", "end": "19:00"}],
        },
    )
    group = await post(
        client,
        "/groups",
        {"edge_id": "e1", "name": "cleaners", "door_ids": ["gate"], "schedule_id": schedule["id"]},
    )
    person = await post(
        client, "/people", {"edge_id": "e1", "name": "Wang", "group_ids": [group["id"]]}
    )
    credential = await post(
        client,
        f"/people/{person['id']}/credentials",
        {"kind": "card", "value": "04A1B2C3", "label": "blue"},
    )
    assert "value" not in credential
    assert "hash" not in credential
    assert "04A1B2C3" not in (await client.get(f"{API}/people/{person['id']}")).text
    revoked = await post(client, f"/credentials/{credential['id']}/revoke", {}, status=200)
    assert revoked["revoked_at"] is not None
    sites = (await client.get(f"{API}/sites")).json()["items"]
    assert sites[0]["version"] == 5  # site, door, door again, the card, its revocation
    assert [
        g["name"]
        for g in (await client.get(f"{API}/groups", params={"edge_id": "e1"})).json()["items"]
    ] == ["cleaners"]
    assert (await client.delete(f"{API}/people/{person['id']}")).status_code == 204
    assert (await client.get(f"{API}/people/{person['id']}")).status_code == 404


async def test_a_malformed_credential_is_refused_without_echoing_it(
    client: httpx.AsyncClient,
) -> None:
    await post(client, "/sites", {"edge_id": "e1", "name": "Yard"})
    person = await post(client, "/people", {"edge_id": "e1", "name": "Li"})
    for kind, value in [("card", "04 A1"), ("pin", "98"), ("pin", "98765432109876"), ("card", "")]:
        response = await client.post(
            f"{API}/people/{person['id']}/credentials", json={"kind": kind, "value": value}
        )
        assert response.status_code == 422
        if value:
            assert value not in response.text
    assert (await client.get(f"{API}/people/{person['id']}")).json()["credentials"] == []


async def test_bad_requests_are_refused_with_clear_errors(client: httpx.AsyncClient) -> None:
    assert (
        await client.post(
            f"{API}/sites", json={"edge_id": "e1", "name": "Y", "timezone": "Nowhere/X"}
        )
    ).status_code == 422
    await post(client, "/sites", {"edge_id": "e1", "name": "Yard"})
    assert (
        await client.post(f"{API}/sites", json={"edge_id": "e1", "name": "Yard"})
    ).status_code == 422
    mismatch = await client.put(f"{API}/sites/e1/doors/gate", json={"id": "side", "reader_id": "r"})
    assert mismatch.status_code == 422
    assert "path" in mismatch.json()["detail"]
    bad_timers = await client.put(
        f"{API}/sites/e1/doors/gate",
        json={"id": "gate", "reader_id": "r", "prewarn_s": 40, "held_open_s": 30},
    )
    assert bad_timers.status_code == 422
    assert (
        await client.put(f"{API}/sites/nope/doors/gate", json={"id": "gate", "reader_id": "r"})
    ).status_code == 404
    assert (
        await client.post(f"{API}/people/99/credentials", json={"kind": "pin", "value": "1234"})
    ).status_code == 404
    assert (await client.post(f"{API}/credentials/99/revoke")).status_code == 404
    assert (
        await client.post(f"{API}/people", json={"edge_id": "e1", "name": "X", "extra": 1})
    ).status_code == 422


async def test_the_log_is_queried_by_door_person_and_time(
    client: httpx.AsyncClient, tmp_path: Path, database_url: str
) -> None:
    from hub.persistence.engine import create_hub_engine

    engine = create_hub_engine(database_url)
    store = AccessStore(engine)
    ts = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    store.log.ingest_log(
        [
            AccessRecord(
                id="r-00000001",
                edge_id="e1",
                door_id="gate",
                kind=AccessEventKind.DOOR_FORCED,
                ts=ts,
            ),
            AccessRecord(
                id="r-00000002",
                edge_id="e1",
                door_id="lobby",
                kind=AccessEventKind.GRANTED,
                ts=ts,
                person_id=3,
            ),
        ],
        ts,
    )
    engine.dispose()
    by_door = (await client.get(f"{API}/log", params={"door_id": "gate"})).json()["items"]
    assert [r["kind"] for r in by_door] == ["door_forced"]
    by_person = (await client.get(f"{API}/log", params={"person_id": 3})).json()["items"]
    assert [r["door_id"] for r in by_person] == ["lobby"]
    later = await client.get(f"{API}/log", params={"since": "2026-11-20T02:00:01Z"})
    assert later.json()["items"] == []
    assert (await client.get(f"{API}/log", params={"since": "yesterday"})).status_code == 422
