"""A door deleted at the hub while it stands forced: the hub hears the alarm cleared.

Through the hub's API and access link, both real Mosquitto brokers and the edge agent (see
``tests/edge/test_access_door_removed.py`` for the gap). Before the fix the ``door_forced``
alert stayed raised at the hub for ever, and the edge kept the gate's state "forced".
"""

from typing import Any

import pytest

from edge.access.door import DoorPhase
from edge.settings import EdgeSettings
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from tests.edge.test_access_agent import (  # noqa: F401 - fixtures
    edge_settings,
    enrolled_site,
    hub_settings,
    ok,
)
from tests.polling import until

pytestmark = pytest.mark.mosquitto


async def test_a_forced_gate_deleted_at_the_hub_is_cleared_there(
    edge_settings: EdgeSettings,  # noqa: F811
    hub_settings: HubSettings,  # noqa: F811
    mosquitto: MosquittoProcess,
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, _):
        await reader.door(open=True)

        async def forced(state: str) -> list[dict[str, Any]]:
            alerts = (await ok(await http.get("/api/v1/alerts")))["items"]
            return [a for a in alerts if a["kind"] == "door_forced" and a["state"] == state]

        async def raised() -> bool:
            return len(await forced("raised")) == 1

        await until(raised, "the forced alert at the hub", timeout_s=20)
        assert (await http.delete("/api/v1/access/doors/gate")).status_code == 204

        async def cleared() -> bool:
            return len(await forced("cleared")) == 1

        await until(cleared, "the forced alert cleared at the hub", timeout_s=20)
        assert agent.access.doors["gate"].phase is DoorPhase.CLOSED
        assert agent.counters.get("access.alarms_cleared_door_removed") == 1
