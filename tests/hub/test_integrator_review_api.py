"""An outside integrator's script against ``/api/v1`` as docs/contract.md section 6 describes it,
on a hub app over a real database: what the documentation promises a caller that has only it.

docs/contract.md: "A refused request (422) names the field that is wrong but never echoes the
value sent." Several validators quoted the value in their message (an invalid id, an unknown
time zone, a month not ``YYYY-MM``), so a 422 carried it back after all.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind, Severity
from hub.store import HubStore
from tests.hub.factories import T0, make_alert

SENT = "Sent<Value>42"
"""A value no message of the hub's own holds: found in an answer, it was echoed."""


def _refused_without_echo(response: httpx.Response, field: str) -> Any:
    """Assert ``response`` is a 422 naming ``field`` and not holding the value sent."""
    assert response.status_code == 422, response.text
    assert SENT not in response.text
    assert field in response.text
    return response.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", SENT),
        ("edge_id", SENT),
        ("shelly_id", SENT),
        ("tasmota_topic", f"{SENT}/#"),
    ],
)
async def test_a_refused_device_registration_names_the_field_not_the_value(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    body = {"id": "b3-1201-smoke", "kind": "smoke", "location": "Building 3/Floor 12/Unit 1201"}
    body[field] = value
    response = await client.post("/api/v1/devices", json=body)

    [error] = _refused_without_echo(response, field)["detail"]
    assert error["loc"] == ["body", field]
    assert "the value sent" in error["msg"]


async def test_a_household_naming_an_invalid_button_id_is_refused_without_echo(
    client: httpx.AsyncClient,
) -> None:
    body = {"name": "Wang", "location": "Building 3/Floor 12/Unit 1201", "device_ids": [SENT]}
    response = await client.post("/api/v1/households", json=body)

    [error] = _refused_without_echo(response, "device_ids")["detail"]
    assert error["loc"] == ["body", "device_ids", 0]


async def test_a_site_with_an_unknown_time_zone_is_refused_without_echo(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(
        "/api/v1/sites/lanyuan", json={"id": "lanyuan", "name": "Lanyuan", "timezone": SENT}
    )

    [error] = _refused_without_echo(response, "timezone")["detail"]
    assert "unknown time zone" in error["msg"]


async def test_statistics_refuse_a_bad_time_zone_or_month_without_echo(
    client: httpx.AsyncClient,
) -> None:
    zone = await client.get("/api/v1/statistics", params={"timezone": SENT})
    _refused_without_echo(zone, "timezone")

    month = await client.get("/api/v1/statistics", params={"month": SENT[:7]})
    assert month.status_code == 422, month.text
    assert SENT[:7] not in month.text
    assert "YYYY-MM" in month.json()["detail"]
    # A well-formed month is still taken: the refusal is about the value, not the parameter.
    assert (await client.get("/api/v1/statistics", params={"month": "2026-11"})).status_code == 200


async def test_a_dispatch_without_a_body_is_a_dispatch_as_with_an_empty_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # docs/cases.md: `POST /cases/{id}/dispatch` `{"assignee"?, "note"?}`, "without one the
    # dispatch rules fill the empty duties"; acknowledge, accept, close... take no body at all.
    device = {"id": "b3-1201-smoke", "kind": "smoke", "location": "Building 3/Floor 12/Unit 1201"}
    assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    store: HubStore = app.state.store
    [case] = store.intake.ingest_alerts([make_alert(device_id=device["id"])], T0).cases_opened
    url = f"/api/v1/cases/{case.id}/dispatch"

    with_empty_body = await client.post(url, json={})
    without_body = await client.post(url)

    assert with_empty_body.status_code == 409  # nobody on call: no roster
    assert without_body.status_code == with_empty_body.status_code, without_body.text


@pytest.mark.parametrize("note", ["", "   "], ids=["empty", "spaces"])
async def test_an_sos_acknowledged_with_an_empty_optional_note_is_acknowledged(
    app: FastAPI, client: httpx.AsyncClient, note: str
) -> None:
    # docs/residents.md (2026-12-07): "An optional note or comment left empty or only spaces is
    # no note at all"; docs/cases.md: `POST /cases/{id}/acknowledge` `{"note"?}`. A script
    # with a note field it did not fill must not leave an SOS unacknowledged.
    device = {"id": "b3-1201-sos", "kind": "sos_button", "location": "Building 3/Unit 1201"}
    assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    store: HubStore = app.state.store
    sos = make_alert(device_id=device["id"], kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([sos], T0).cases_opened

    response = await client.post(f"/api/v1/cases/{case.id}/acknowledge", json={"note": note})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "acknowledged"


async def test_the_served_openapi_tells_the_answers_the_contract_promises(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # docs/contract.md section 6: 401 without a valid credential, 403 when the role does not
    # allow it, 404 for a case or device that is not there (or of another site), 409 for an
    # illegal case move. /openapi.json listed only 200 and 422, and /docs could send no token.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as anonymous:
        spec = (await client.get("/openapi.json")).json()
        # What the document says of 401 and 404 is what the API answers.
        assert (await anonymous.get("/api/v1/cases")).status_code == 401
    assert (await client.post("/api/v1/cases/999/acknowledge")).status_code == 404
    paths = spec["paths"]

    cases = paths["/api/v1/cases"]["get"]
    assert {"200", "401", "403"} <= cases["responses"].keys()
    assert "404" not in cases["responses"]
    assert cases["security"]
    acknowledge = paths["/api/v1/cases/{case_id}/acknowledge"]["post"]
    assert {"200", "401", "403", "404", "409", "422"} <= acknowledge["responses"].keys()
    assert "409" in paths["/api/v1/devices/{device_id}"]["delete"]["responses"]
    assert "409" in paths["/api/v1/silences/{silence_id}/end"]["post"]["responses"]
    assert "409" not in paths["/api/v1/devices/{device_id}"]["get"]["responses"]
    assert {"bearer", "basic", "session"} <= spec["components"]["securitySchemes"].keys()

    # The public routes need no credential: the document says so.
    for path, method in [
        ("/api/v1/health", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/gateway/messages", "post"),
    ]:
        assert "security" not in paths[path][method]
        assert "403" not in paths[path][method]["responses"]
