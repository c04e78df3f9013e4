"""An edge hearing the hub's feedback on a real Mosquitto, for the feedback tests: what it
hears goes to a queue, and the hub's publishing clients connect beside it."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiomqtt

from devices.kinds import AlertKind
from devices.messages import CaseFeedback, FeedbackStage
from devices.topics import EdgeChannel, edge_topic
from hub.cases.feedback import FeedbackPublisher
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running

SOS_ONLY = frozenset({AlertKind.SOS})
DEADLINE = 15.0


@asynccontextmanager
async def edge_hearing(
    mosquitto: MosquittoProcess, *hubs: str
) -> AsyncIterator[tuple["asyncio.Queue[CaseFeedback]", list[aiomqtt.Client]]]:
    """Connect the edge ``e1``, listening to its feedback, and one hub client per name in
    ``hubs``; yield the queue of what the edge hears and the hub clients."""
    heard: asyncio.Queue[CaseFeedback] = asyncio.Queue()
    async with AsyncExitStack() as stack:
        edge = await stack.enter_async_context(
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="edge-e1")
        )
        clients = [
            await stack.enter_async_context(
                aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=name)
            )
            for name in hubs
        ]
        await edge.subscribe(edge_topic("e1", EdgeChannel.FEEDBACK), qos=1)

        async def read() -> None:
            async for message in edge.messages:
                assert isinstance(message.payload, bytes)
                await heard.put(CaseFeedback.model_validate_json(message.payload))

        async with running(read()):
            yield heard, clients


def publisher(store: HubStore, client: aiomqtt.Client) -> FeedbackPublisher:
    """A hub's feedback publisher on ``client``, for SOS cases."""
    return FeedbackPublisher(store, lambda: client, Counter(), kinds=SOS_ONLY)


async def received_until(
    messages: "asyncio.Queue[CaseFeedback]", case_id: int, stage: FeedbackStage
) -> list[tuple[int, FeedbackStage]]:
    """Return the (case, stage) the edge received, up to and including ``(case_id, stage)``."""
    seen: list[tuple[int, FeedbackStage]] = []
    async with asyncio.timeout(DEADLINE):
        while not seen or seen[-1] != (case_id, stage):
            feedback = await messages.get()
            seen.append((feedback.case_id, feedback.stage))
    return seen
