"""Who watches the watcher: a hub that lost its broker must say so where a monitor looks.

An external check of ``GET /api/v1/health`` reads ``status``. While the hub's MQTT ingest is
down it hears no edge at all: no alarm, no heartbeat, no last will. Before, ``status`` stayed
``"ok"`` then (only ``mqtt_connected`` said otherwise), so a monitor keyed on ``status`` saw a
healthy hub through the whole outage.
"""

from pathlib import Path

from linli.brokers import MosquittoProcess
from tests.hub.test_ingest_mqtt import hub_settings, start_hub
from tests.polling import until


async def test_health_is_degraded_while_the_hubs_broker_is_gone(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    hub = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    try:
        assert (await hub.http.get("/api/v1/health")).json()["status"] == "ok"
        mosquitto.stop()

        async def disconnected() -> bool:
            return not (await hub.http.get("/api/v1/health")).json()["mqtt_connected"]

        await until(disconnected, "the hub noticed its broker is gone")
        health = (await hub.http.get("/api/v1/health")).json()
        assert health["status"] == "degraded"

        mosquitto.start()

        async def connected() -> bool:
            return bool((await hub.http.get("/api/v1/health")).json()["mqtt_connected"])

        await until(connected, "the hub is connected again")
        assert (await hub.http.get("/api/v1/health")).json()["status"] == "ok"
    finally:
        await hub.close()
