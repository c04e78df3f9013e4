"""Care households over HTTP: flag one with consent and a family contact, mark it away."""

import httpx
import pytest

from tests.hub.conftest import FakeClock

pytestmark = pytest.mark.fake_clock

HOME = "Building 2/Floor 3/Unit 301"


async def test_a_household_is_flagged_for_care_and_goes_away(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    motion = {"id": "b2-301-motion", "kind": "motion", "location": HOME}
    assert (await client.post("/api/v1/devices", json=motion)).status_code == 201
    household = (
        await client.post("/api/v1/households", json={"name": "Grandma Zhao", "location": HOME})
    ).json()
    url = f"/api/v1/households/{household['id']}/care"
    assert (await client.get(url)).status_code == 404
    without_consent = await client.put(url, json={"device_ids": ["b2-301-motion"]})
    assert without_consent.status_code == 422
    body = {
        "consent": {"by": "Zhao Min (daughter)", "note": "signed form"},
        "contacts": [
            {"name": "Zhao Min", "relation": "daughter", "target": "https://gw.example/d"}
        ],
        "device_ids": ["b2-301-motion"],
        "quiet_hours": 8,
        "waking_from": "06:30",
    }
    put = await client.put(url, json=body)
    assert put.status_code == 200, put.text
    care = put.json()
    assert care["consent_by"] == "Zhao Min (daughter)"
    assert care["quiet_hours"] == 8
    assert care["status"] == "sensors_silent"  # the sensor never reported yet
    until = (clock.now.replace(microsecond=0)).isoformat()
    away = await client.post(f"{url}/away", json={"until": until})
    assert away.status_code == 200
    listed = (await client.get("/api/v1/care")).json()["items"]
    assert [c["household_id"] for c in listed] == [household["id"]]
    trail = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    changes = [e for e in trail if e["action"] == "care_changed"]
    assert [e["detail"].get("consent_by") for e in changes] == ["Zhao Min (daughter)", None]


@pytest.mark.parametrize(
    "target", ["http://[fd00::5/sms", "gw.example/sms", "ftp://gw.example/d", "http:///d"]
)
async def test_a_family_contact_whose_webhook_cannot_work_is_refused(
    client: httpx.AsyncClient, target: str
) -> None:
    # One stored contact of this kind once stopped every page the hub sent (docs/cases.md).
    household = (
        await client.post("/api/v1/households", json={"name": "Grandma Zhao", "location": HOME})
    ).json()
    url = f"/api/v1/households/{household['id']}/care"
    contact = {"name": "Zhao Min", "relation": "daughter", "target": target}
    body = {"consent": {"by": "Zhao Min (daughter)"}, "contacts": [contact]}
    refused = await client.put(url, json=body)
    assert refused.status_code == 422, refused.text
    assert "webhook URL" in refused.text or "not a valid URL" in refused.text
    assert (await client.get(url)).status_code == 404  # nothing stored
    # For the MQTT channel the target is a topic's tail, any text.
    mqtt = {**body, "contacts": [{**contact, "channel": "mqtt"}]}
    assert (await client.put(url, json=mqtt)).status_code == 200
