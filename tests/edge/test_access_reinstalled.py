"""A door's break-in after its edge was installed afresh under the same identity.

A door's alarms have ids derived from the edge, the door and the door's episode count, which
lives in the edge's data. An edge whose data is gone (a new SD card, same edge id and
credentials) counts from 1 again: its next break-in carries the id of the first one, which
the hub acknowledged as a copy and dropped (found by an outside review). The hub now takes
an id for a copy only if the stored alert is the same alert (``hub.cases.copies``).
"""

from typing import Any

import httpx
import pytest

from edge.access.commits import STATE_PREFIX
from edge.access.door import DoorPhase, DoorState
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import eventually, running_agent
from tests.edge.test_access_agent import (  # noqa: F401 - fixtures
    Reader,
    edge_settings,
    enrol,
    hub_and_reader,
    hub_settings,
    in_sync,
    ok,
)
from tests.polling import until

pytestmark = pytest.mark.mosquitto


async def door_forced(http: httpx.AsyncClient, what: str) -> list[dict[str, Any]]:
    items = (await ok(await http.get(f"/api/v1/{what}")))["items"]
    return [item for item in items if item["kind"] == "door_forced"]


def _phase(agent: EdgeAgent) -> DoorPhase | None:
    door = agent.access.doors.get("gate")
    return None if door is None else door.phase


async def forced_once(reader: Reader, agent: EdgeAgent) -> None:
    """Force the gate open, let the edge raise it and the hub acknowledge it, close it."""
    await reader.door(open=True)
    await eventually(lambda: _phase(agent) is DoorPhase.FORCED, "the gate forced")
    await eventually(lambda: agent.outbox.depth() == 0, "the alarm acknowledged")
    await reader.door(open=False)
    # Closed as the edge sees it, not only sent: a close still queued in the broker's kept
    # session when the agent stops would reach the next agent under that identity.
    await eventually(lambda: _phase(agent) is DoorPhase.CLOSED, "the gate closed")
    # The phase moves before the step's commit: the clearance may not be in the outbox yet.
    await eventually(lambda: _stored_phase(agent) is DoorPhase.CLOSED, "the clearance stored")
    await eventually(lambda: agent.outbox.depth() == 0, "the clearance acknowledged")


def _stored_phase(agent: EdgeAgent) -> DoorPhase | None:
    """The gate's phase as last committed with an alert (in the outbox, with the alert)."""
    text = agent.outbox.load_states().get(STATE_PREFIX + "gate")
    return None if text is None else DoorState.model_validate_json(text).phase


async def test_a_break_in_after_the_edge_was_installed_afresh_is_not_taken_for_the_first(
    edge_settings: EdgeSettings,  # noqa: F811
    hub_settings: HubSettings,  # noqa: F811
    mosquitto: MosquittoProcess,
    tmp_path: Any,
) -> None:
    async with hub_and_reader(hub_settings, mosquitto) as (http, reader):
        first = EdgeAgent(edge_settings)
        async with running_agent(first):
            await eventually(lambda: reader.ready, "the reader")
            await enrol(http)
            await in_sync(http, first)
            await forced_once(reader, first)
            episode = first.access.doors["gate"].episode
        [case] = await door_forced(http, "cases")
        drill = {"resolution": "false_alarm", "note": "a drill"}
        resolved = await http.post(f"/api/v1/cases/{case['id']}/resolve", json=drill)
        assert resolved.status_code == 200, resolved.text
        before = {a["id"] for a in await door_forced(http, "alerts")}

        # The SD card replaced: same edge id and credentials, nothing of the old data.
        afresh = EdgeAgent(edge_settings.model_copy(update={"data_dir": tmp_path / "new-card"}))
        async with running_agent(afresh):
            await in_sync(http, afresh)
            await forced_once(reader, afresh)
            assert afresh.access.doors["gate"].episode == episode, "the same ids again"

        after = await door_forced(http, "alerts")
        assert len(after) == 2 * len(before), "the new break-in and its end are stored"
        assert before < {a["id"] for a in after}

        async def case_open_again() -> bool:
            [again] = await door_forced(http, "cases")
            return bool(again["status"] != "resolved")

        await until(case_open_again, "the break-in's case open again")
        [again] = await door_forced(http, "cases")
        assert again["alert_count"] > case["alert_count"]
        health = await ok(await http.get("/api/v1/health"))
        assert health["counters"]["alerts_id_taken"] == len(before)
        assert health["counters"]["alerts_duplicate"] == 0
