"""An older stage of a case, arriving after a newer one, is not shown on the button (a real
agent and real Mosquitto brokers).

Several hub workers each publish feedback from their own queue. A worker reads the case as
committed ("someone is coming"), another worker resolves it and tells the button at once, and
only then does the first publish what it read: the button must stay on "resolved". The hub
sends each stage with the case's ``version``; the edge keeps the highest version it heard of
each device's case and drops an older one (``feedback_stale``). Feedback without a version (a
hub before 2026-12-07) is shown as before.
"""

from collections.abc import Awaitable, Callable

import pytest

from devices.messages import CaseFeedback, FeedbackStage
from devices.topics import EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import EDGE_ID, SettingsFactory, eventually, no_jitter, running_edge
from tests.edge.test_feedback_review_local_outage import squawks_heard

pytestmark = pytest.mark.mosquitto

DEVICE = "b3-sos"
RESOLVED_SQUAWK = {"squawk": {"state": "system_is_disarmed", "level": "low", "strobe": False}}
COMING_SQUAWK = {"squawk": {"state": "system_is_armed", "level": "high", "strobe": True}}
OPENED_SQUAWK = {"squawk": {"state": "system_is_armed", "level": "medium", "strobe": True}}
Told = Callable[[list[str]], Awaitable[tuple[list[object], EdgeAgent]]]


def stage(case_id: int, value: FeedbackStage, version: int | None) -> str:
    """A hub's feedback message for the test button."""
    return CaseFeedback(
        device_id=DEVICE, case_id=case_id, stage=value, version=version
    ).model_dump_json()


@pytest.fixture
def told(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> Told:
    """Send messages to a real agent's feedback topic in order, then a marker stage of another
    case; return what the button was told before the marker, and the agent."""

    async def send(messages: list[str]) -> tuple[list[object], EdgeAgent]:
        agent = EdgeAgent(make_settings(hub_mqtt_port=hub_broker.port), rng=no_jitter)
        async with (
            running_edge(mosquitto, agent, hub_broker=hub_broker) as (hub, _devices),
            squawks_heard(mosquitto) as squawks,
        ):
            topic = edge_topic(EDGE_ID, EdgeChannel.FEEDBACK)
            for message in messages:
                await hub.publish(topic, message)
            # Another case's stage: the agent handles its feedback in order, so once the
            # button shows this, everything sent before it has been decided.
            await hub.publish(topic, stage(999, FeedbackStage.CASE_OPENED, 1))
            await eventually(lambda: OPENED_SQUAWK in squawks, "the marker on the button")
        return squawks[: squawks.index(OPENED_SQUAWK)], agent

    return send


async def test_an_older_stage_sent_after_a_newer_one_is_not_shown(told: Told) -> None:
    shown, agent = await told(
        [stage(7, FeedbackStage.RESOLVED, 4), stage(7, FeedbackStage.ACKNOWLEDGED, 3)]
    )
    assert shown == [RESOLVED_SQUAWK], f"after 'resolved' the button was told {shown}"
    assert agent.counters["feedback_stale"] == 1


async def test_a_newer_stage_of_the_case_is_shown_and_so_is_feedback_without_a_version(
    told: Told,
) -> None:
    # A reopened case: "resolved", then "someone is coming" again at a higher version; then a
    # hub from before versions, whose stages carry none.
    shown, agent = await told(
        [
            stage(7, FeedbackStage.RESOLVED, 4),
            stage(7, FeedbackStage.ACKNOWLEDGED, 6),
            stage(8, FeedbackStage.RESOLVED, None),
        ]
    )
    assert shown == [RESOLVED_SQUAWK, COMING_SQUAWK, RESOLVED_SQUAWK]
    assert agent.counters["feedback_stale"] == 0
