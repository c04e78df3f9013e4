"""``GET /api/v1/health``: the hub is up, whether its MQTT link is connected, its counters."""

from fastapi import APIRouter

from hub.http.deps import API_PREFIX, IngestDep
from hub.http.views import Health

router = APIRouter(prefix=API_PREFIX)


@router.get("/health")
async def health(ingest: IngestDep) -> Health:
    """Say the hub is up, whether MQTT is connected, and the ingest counters."""
    if ingest is None:
        return Health(mqtt_connected=False, counters={})
    return Health(mqtt_connected=ingest.connected, counters=dict(ingest.counters))
