"""The hub's own check behind the broker (issue 14): an edge that holds valid credentials but
speaks for another edge's devices changes nothing. The broker here is open, as if its ACL had
let the attacker through; tests/security shows the ACL that stops most of this first."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.kinds import AlertKind
from devices.messages import AlertBatch, TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from devices.topics import EdgeChannel, edge_topic
from edge.access.control import derived_id
from linli.brokers import MosquittoProcess
from tests.hub.factories import make_alert, make_device, make_status
from tests.hub.test_evidence_store import JPEG, image
from tests.hub.test_ingest_mqtt import (
    SMOKE,
    RunningHub,
    acked,
    counters,
    edge_client,
    get_json,
    hub_settings,
    start_hub,
)
from tests.polling import until

pytestmark = pytest.mark.mosquitto


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub on a private broker, SQLite in a temp folder."""
    running = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    yield running
    await running.close()


async def _counted(hub: RunningHub, counter: str, at_least: int) -> None:
    async def counted() -> bool:
        return (await counters(hub)).get(counter, 0) >= at_least

    await until(counted, f"{at_least} {counter}")


async def _rejected(hub: RunningHub, reason: str, at_least: int) -> None:
    await _counted(hub, f"rejected.{reason}", at_least)


async def _cases(hub: RunningHub, kind: str) -> list[dict[str, object]]:
    return [c for c in (await get_json(hub, "/api/v1/cases"))["items"] if c["kind"] == kind]


async def _claim_lines(hub: RunningHub, case_id: object) -> list[str]:
    """The claims an operator reads on a conflict case: its ``claimed`` lines' notes."""
    detail = await get_json(hub, f"/api/v1/cases/{case_id}")
    return [e["note"] for e in detail["events"] if e["action"] == "claimed"]


CONFLICT = "device_claim_conflict"


async def test_a_wrong_edge_cannot_raise_register_or_keep_alive_anothers_device(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    before = await get_json(hub, f"/api/v1/devices/{SMOKE['id']}")
    async with edge_client(mosquitto, "e2") as attacker:
        # Forged alert: the attacker's own topic and edge id, the victim's smoke detector.
        forged = make_alert(device_id=SMOKE["id"], edge_id="e2")
        await attacker.publish(edge_topic("e2", EdgeChannel.ALERT), forged.model_dump_json(), qos=1)
        await acked(attacker, forged.id, edge_id="e2")  # judged and refused: not re-sent
        await _rejected(hub, "foreign_device", 1)
        # ...and as the victim edge, on the attacker's topic.
        posing = make_alert(device_id=SMOKE["id"], edge_id="e1")
        await attacker.publish(edge_topic("e2", EdgeChannel.ALERT), posing.model_dump_json(), qos=1)
        await acked(attacker, posing.id, edge_id="e2")
        await _rejected(hub, "edge_mismatch", 1)

        # Forged registry: the attacker's status claims the victim's device three ways.
        status = make_status(
            "e2",
            devices=[
                make_device(SMOKE["id"], edge_id=None),
                make_device(SMOKE["id"], edge_id="e2"),
                make_device("e2-own-sensor", edge_id="e1"),
                make_device("e2-own-door", edge_id="e2"),
            ],
        )
        await attacker.publish(
            edge_topic("e2", EdgeChannel.STATUS), status.model_dump_json(), qos=1
        )
        await _rejected(hub, "foreign_device", 3)
        await _rejected(hub, "edge_mismatch", 2)

        # Forged telemetry: a reading that would keep the victim's detector looking alive.
        point = TelemetryPoint(
            device_id=SMOKE["id"], ts=datetime.now(UTC), readings=Readings(temperature_c=20.0)
        )
        batch = TelemetryBatch(edge_id="e2", points=[point])
        await attacker.publish(edge_topic("e2", EdgeChannel.TELEMETRY), batch.model_dump_json())
        await _rejected(hub, "foreign_device", 4)

    after = await get_json(hub, f"/api/v1/devices/{SMOKE['id']}")
    assert after == before  # same edge, never seen, no readings
    assert (after["edge_id"], after["registered_by"]) == ("e1", "operator")
    # Nothing of it stored as an alarm, but not silent: one conflict case, critical (a fire
    # alert was refused), and one line per thing an operator must hear of: the refused fire.
    # The inventory's claims after it (same edge) only count.
    [conflict] = (await get_json(hub, "/api/v1/cases"))["items"]
    assert (conflict["kind"], conflict["priority"], conflict["device_ids"]) == (
        CONFLICT,
        "critical",
        [SMOKE["id"]],
    )
    [line] = await _claim_lines(hub, conflict["id"])
    assert "edge e2" in line
    assert "refused: an operator registered it" in line
    assert forged.id in line
    # The attacker's own new device was registered: the edge is not refused wholesale.
    assert (await get_json(hub, "/api/v1/devices/e2-own-door"))["edge_id"] == "e2"
    assert (await hub.http.get("/api/v1/devices/e2-own-sensor")).status_code == 404

    # The victim edge still raises its own fire.
    async with edge_client(mosquitto, "e1") as victim:
        real = make_alert(device_id=SMOKE["id"], edge_id="e1", id=f"real-{uuid.uuid4().hex}")
        await victim.publish(edge_topic("e1", EdgeChannel.ALERT), real.model_dump_json(), qos=1)
        await acked(victim, real.id)
    [case] = await _cases(hub, "smoke")
    assert case["device_ids"] == [SMOKE["id"]]


async def test_a_batch_cannot_smuggle_another_edges_alerts_past_the_hub(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    async with edge_client(mosquitto, "e2") as attacker:
        # One batch on the attacker's own topic: the victim's detector under the attacker's
        # edge id, then posing as the victim edge; each is judged alone, refused, acknowledged.
        forged = make_alert(device_id=SMOKE["id"], edge_id="e2")
        posing = make_alert(device_id=SMOKE["id"], edge_id="e1")
        batch = AlertBatch(edge_id="e2", alerts=[forged, posing])
        await attacker.publish(edge_topic("e2", EdgeChannel.ALERTS), batch.model_dump_json(), qos=1)
        await acked(attacker, forged.id, posing.id, edge_id="e2")
        await _rejected(hub, "foreign_device", 1)
        await _rejected(hub, "edge_mismatch", 1)
    assert [c["kind"] for c in (await get_json(hub, "/api/v1/cases"))["items"]] == [CONFLICT]

    # The victim's own batch raises its fire.
    async with edge_client(mosquitto, "e1") as victim:
        real = make_alert(device_id=SMOKE["id"], edge_id="e1", id=f"real-{uuid.uuid4().hex}")
        own = AlertBatch(edge_id="e1", alerts=[real])
        await victim.publish(edge_topic("e1", EdgeChannel.ALERTS), own.model_dump_json(), qos=1)
        await acked(victim, real.id)
    [case] = await _cases(hub, "smoke")
    assert case["device_ids"] == [SMOKE["id"]]


async def test_an_edge_cannot_attach_a_picture_to_another_edges_alert(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    camera = {"id": "b3-corridor-cam", "kind": "camera", "location": "Building 3", "edge_id": "e1"}
    assert (await hub.http.post("/api/v1/devices", json=camera)).status_code == 201
    fire = make_alert(device_id=camera["id"], edge_id="e1", kind=AlertKind.CAMERA_FIRE)
    own = image(alert=fire.id)
    async with edge_client(mosquitto, "e1") as victim:
        await victim.publish(edge_topic("e1", EdgeChannel.ALERT), fire.model_dump_json(), qos=1)
        await acked(victim, fire.id)
        await victim.publish(edge_topic("e1", EdgeChannel.EVIDENCE), own.model_dump_json(), qos=1)
    # The attacker's picture for the victim's fire, on the attacker's own topic.
    forged = image(alert=fire.id, jpeg=JPEG + b"forged").model_copy(update={"edge_id": "e2"})
    async with edge_client(mosquitto, "e2") as attacker:
        await attacker.publish(
            edge_topic("e2", EdgeChannel.EVIDENCE), forged.model_dump_json(), qos=1
        )

    async def judged() -> bool:
        status = await get_json(hub, "/api/v1/evidence/status")
        found: dict[str, int] = status["counters"]
        return found.get("evidence_rejected.alert_of_other_edge") == 1 and (
            found.get("evidence_new") == 1
        )

    await until(judged, "the forged picture refused and the real one stored")
    listed = (await get_json(hub, f"/api/v1/alerts/{fire.id}/evidence"))["items"]
    assert [item["id"] for item in listed] == [own.id]
    assert (await hub.http.get(f"/api/v1/evidence/{forged.id}")).status_code == 404


# --- Squatting: an edge claims another site's device before its own edge reports it ----

SQUAT_VICTIM, SQUATTER = "e1", "e2"
NEW_SMOKE = "b3-1201-smoke"


async def test_an_edge_cannot_squat_another_edges_new_device_and_silence_its_fire(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """One edge's stolen credentials claim another site's detector before its own edge reports
    it (a site being set up, a replaced detector; ids follow guessable schemes).

    Found by an outside tester (stop 37): the hub registered the new device ids an edge lists,
    first claim wins; the victim's claim was then refused, and its fire refused as
    ``foreign_device`` and acknowledged: lost. Now a registration by inventory does not exclude
    another edge's alerts (``hub.fleet.claims``): the victim's fire is a fire case, and the
    claims are a conflict case an operator settles by registering the device."""
    async with edge_client(mosquitto, SQUATTER) as attacker:
        squat = make_status(SQUATTER, devices=[make_device(NEW_SMOKE, edge_id=SQUATTER)])
        await attacker.publish(
            edge_topic(SQUATTER, EdgeChannel.STATUS), squat.model_dump_json(), qos=1
        )
        await _counted(hub, "status", 1)
    async with edge_client(mosquitto, SQUAT_VICTIM) as victim:
        own = make_status(
            SQUAT_VICTIM,
            devices=[make_device(NEW_SMOKE, edge_id=SQUAT_VICTIM, location="Lanyuan/3/1201")],
        )
        await victim.publish(
            edge_topic(SQUAT_VICTIM, EdgeChannel.STATUS), own.model_dump_json(), qos=1
        )
        await _counted(hub, "status", 2)
        fire = make_alert(device_id=NEW_SMOKE, edge_id=SQUAT_VICTIM, id=f"fire{uuid.uuid4().hex}")
        await victim.publish(
            edge_topic(SQUAT_VICTIM, EdgeChannel.ALERT), fire.model_dump_json(), qos=1
        )
        await acked(victim, fire.id, edge_id=SQUAT_VICTIM)

    # The fire is a fire case, with the victim's alert in it.
    [case] = await _cases(hub, "smoke")
    detail = await get_json(hub, f"/api/v1/cases/{case['id']}")
    assert [(a["id"], a["edge_id"]) for a in detail["alerts"]] == [(fire.id, SQUAT_VICTIM)]
    # The device was not moved by either inventory, and the operator hears of both claims:
    # the victim's inventory (with where it says the detector is) and its fire, taken.
    device = await get_json(hub, f"/api/v1/devices/{NEW_SMOKE}")
    assert (device["edge_id"], device["registered_by"]) == (SQUATTER, "inventory")
    [conflict] = await _cases(hub, CONFLICT)
    assert (conflict["priority"], conflict["device_ids"]) == ("high", [NEW_SMOKE])
    first, second = await _claim_lines(hub, conflict["id"])
    assert f"edge {SQUAT_VICTIM}" in first
    assert "'Lanyuan/3/1201'" in first
    assert "taken: contested" in second
    assert fire.id in second

    # Its readings from the victim are taken too: they may be the real ones, and the claim is
    # on the conflict case. An edge that never claimed it is refused, as before.
    await _readings(mosquitto, SQUAT_VICTIM, 21.5)
    await _readings_are(hub, 21.5)
    await _readings(mosquitto, "e-stranger", 99.0)
    await _rejected(hub, "foreign_device", 1)
    await _readings_are(hub, 21.5)

    # The operator settles it: registered to the victim's edge, vouched. The squatter's next
    # fire about it is refused, and lands on the conflict case (critical now), not nowhere.
    registration = {"id": NEW_SMOKE, "kind": "smoke", "location": "Lanyuan/3/1201"}
    answer = await hub.http.post("/api/v1/devices", json={**registration, "edge_id": SQUAT_VICTIM})
    assert answer.status_code == 200, answer.text
    async with edge_client(mosquitto, SQUATTER) as attacker:
        forged = make_alert(device_id=NEW_SMOKE, edge_id=SQUATTER, id=f"fake{uuid.uuid4().hex}")
        await attacker.publish(
            edge_topic(SQUATTER, EdgeChannel.ALERT), forged.model_dump_json(), qos=1
        )
        await acked(attacker, forged.id, edge_id=SQUATTER)
    device = await get_json(hub, f"/api/v1/devices/{NEW_SMOKE}")
    assert (device["edge_id"], device["registered_by"]) == (SQUAT_VICTIM, "operator")
    [case] = await _cases(hub, "smoke")
    assert case["alert_count"] == 1  # the forged fire joined nothing
    [conflict] = await _cases(hub, CONFLICT)
    assert conflict["priority"] == "critical"
    lines = await _claim_lines(hub, conflict["id"])
    assert len(lines) == 3
    assert "refused: an operator registered it" in lines[-1]
    assert forged.id in lines[-1]
    # ...and so are its readings, now that an operator vouched for the victim's edge.
    await _readings(mosquitto, SQUATTER, 35.0)
    await _rejected(hub, "foreign_device", 3)
    await _readings(mosquitto, SQUAT_VICTIM, 22.0)
    await _readings_are(hub, 22.0)


async def _readings(mosquitto: MosquittoProcess, edge_id: str, celsius: float) -> None:
    """Send one reading of the new smoke detector's temperature from ``edge_id``."""
    point = TelemetryPoint(
        device_id=NEW_SMOKE, ts=datetime.now(UTC), readings=Readings(temperature_c=celsius)
    )
    batch = TelemetryBatch(edge_id=edge_id, points=[point])
    async with edge_client(mosquitto, edge_id) as edge:
        await edge.publish(edge_topic(edge_id, EdgeChannel.TELEMETRY), batch.model_dump_json())


async def _readings_are(hub: RunningHub, celsius: float) -> None:
    async def recorded() -> bool:
        device = await get_json(hub, f"/api/v1/devices/{NEW_SMOKE}")
        return (device["last_readings"] or {}).get("temperature_c") == celsius

    await until(recorded, f"the detector's reading at {celsius}")


# --- Pre-emption: an edge stores alerts under ids another edge will use -------------------


async def test_an_id_taken_ahead_by_another_edge_does_not_swallow_a_door_alarm(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """Found by an outside review: a door's alarm ids are derived from its edge, the door and
    a count (``edge.access.control.derived_id``), so a stolen edge can compute another edge's
    next ones and use them first; the hub took the real alarm for a copy, acknowledged it and
    dropped it. Now it is stored (under an id of its own) and opens its case; its edge is
    acknowledged under the id it sent."""
    for body in (
        {"id": "gate-reader", "kind": "door_reader", "location": "North gate", "edge_id": "e1"},
        {"id": "e2-smoke", "kind": "smoke", "location": "Elsewhere/Unit 1", "edge_id": "e2"},
    ):
        assert (await hub.http.post("/api/v1/devices", json=body)).status_code == 201
    ahead = [derived_id("e1", "north-gate", "alert", n) for n in range(1, 4)]
    async with edge_client(mosquitto, "e2") as attacker:
        for taken in ahead:
            decoy = make_alert(
                id=taken, device_id="e2-smoke", edge_id="e2", kind=AlertKind.BATTERY_LOW
            )
            await attacker.publish(edge_topic("e2", EdgeChannel.ALERT), decoy.model_dump_json())
        await acked(attacker, *ahead, edge_id="e2")
    async with edge_client(mosquitto, "e1") as victim:
        real = make_alert(
            id=ahead[0], device_id="gate-reader", edge_id="e1", kind=AlertKind.DOOR_FORCED
        )
        await victim.publish(edge_topic("e1", EdgeChannel.ALERT), real.model_dump_json(), qos=1)
        await acked(victim, real.id, edge_id="e1")
    [case] = await _cases(hub, "door_forced")
    assert case["status"] in ("open", "dispatched")
    alerts = (await get_json(hub, "/api/v1/alerts"))["items"]
    [stored] = [a for a in alerts if a["kind"] == "door_forced"]
    assert (stored["edge_id"], stored["device_id"]) == ("e1", "gate-reader")
    assert stored["case_id"] == case["id"]
    counted = await counters(hub)
    assert counted["alerts_id_taken"] == 1
    assert counted.get("alerts_duplicate", 0) == 0


# --- A household page's button is the hub's own ------------------------------------------


async def test_no_edge_raises_or_lists_a_household_pages_button(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """Found by an outside review: a page's virtual button (``household-<n>-web``, n counting
    from 1) has no edge, so any edge's alert about it was taken: a stolen edge raised a
    critical SOS at any household's address, and its inventory moved the button onto itself.
    The hub raises a page's presses itself; an edge's word about the button is refused."""
    made = await hub.http.post(
        "/api/v1/households", json={"name": "Wang", "location": "Building 2/Unit 301"}
    )
    assert made.status_code == 201, made.text
    household = made.json()
    token = household["link"].rsplit("/", 1)[1]
    button = f"household-{household['id']}-web"
    assert (await hub.http.post(f"/r/{token}/sos")).status_code == 200  # registers it
    [case] = (await get_json(hub, "/api/v1/cases"))["items"]
    resolve = {"resolution": "false_alarm", "note": "a test press"}
    assert (await hub.http.post(f"/api/v1/cases/{case['id']}/resolve", json=resolve)).is_success
    async with edge_client(mosquitto, "e2") as attacker:
        forged = make_alert(device_id=button, edge_id="e2", kind=AlertKind.SOS)
        await attacker.publish(edge_topic("e2", EdgeChannel.ALERT), forged.model_dump_json())
        await acked(attacker, forged.id, edge_id="e2")  # judged, refused, acknowledged
        takeover = make_status(
            "e2", devices=[make_device(button, location="Elsewhere/Unit 1", edge_id="e2")]
        )
        await attacker.publish(edge_topic("e2", EdgeChannel.STATUS), takeover.model_dump_json())
        await _rejected(hub, "hub_device", at_least=2)
    [still] = (await get_json(hub, "/api/v1/cases"))["items"]
    assert (still["id"], still["status"]) == (case["id"], "resolved"), "no forged SOS case"
    device = await get_json(hub, f"/api/v1/devices/{button}")
    assert (device["edge_id"], device["location"]) == (None, "Building 2/Unit 301")
