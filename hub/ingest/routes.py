"""``GET /api/v1/health``: the hub is up, whether its MQTT link is connected, its counters, and
whether its case tasks run (``degraded`` while one is down: ``hub.cases.tasks``), and how many
residents' photos are being re-encoded (``hub.requests.photos``).

``status`` is ``degraded`` too while the hub's MQTT ingest is not connected: the hub then hears
no edge at all (no alarm, no heartbeat, no last will), and a monitor that reads ``status`` alone
must see it. A hub started without ingest (``start_ingest=False``) has nothing to connect."""

from fastapi import APIRouter, Request

from hub.cases.tasks import CaseTasks
from hub.http.deps import API_PREFIX, IngestDep
from hub.http.views import Health
from hub.requests.photos import reencoding

router = APIRouter(prefix=API_PREFIX)


@router.get("/health")
async def health(ingest: IngestDep, request: Request) -> Health:
    """Say the hub is up, whether MQTT is connected, the ingest counters, whether the case
    tasks (deadlines and escalation, notices out) are running, and the photos re-encoding;
    ``degraded`` while a case task is down or the ingest is not connected."""
    case_tasks: CaseTasks | None = getattr(request.app.state, "case_tasks", None)
    tasks = {} if case_tasks is None else case_tasks.health()
    deaf = ingest is not None and not ingest.connected
    return Health(
        status="ok" if all(tasks.values()) and not deaf else "degraded",
        mqtt_connected=False if ingest is None else ingest.connected,
        counters={} if ingest is None else dict(ingest.counters),
        tasks=tasks,
        photos=reencoding(),
    )
