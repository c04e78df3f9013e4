"""Each feedback the hub publishes carries its case's version as committed, rising with every
change (through a real Mosquitto and a real hub store): the edge drops a stage older than one
it heard (``tests/edge/test_feedback_versions.py``)."""

import asyncio

import pytest

from devices.messages import CaseFeedback, FeedbackStage
from hub.cases.rules import Resolution
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.feedback_link import DEADLINE, edge_hearing, publisher
from tests.hub.test_feedback import sos_case

pytestmark = pytest.mark.mosquitto

BUTTON = "b3-1201-sos"


async def test_each_stage_carries_the_case_version_it_was_read_at(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    opened = sos_case(store, BUTTON, clock())
    async with edge_hearing(mosquitto, "hub") as (heard, [client]):
        hub = publisher(store, client)
        async with running(hub.run()):
            hub.notify(opened)
            acknowledged = store.cases.acknowledge(opened.id, "patrol going")
            hub.notify(acknowledged)
            resolved = store.cases.resolve(opened.id, "helped up", resolution=Resolution.REAL)
            hub.notify(resolved)
            told: list[CaseFeedback] = []
            async with asyncio.timeout(DEADLINE):
                while len(told) < 3:
                    told.append(await heard.get())
    # Each is read as committed when it is sent: all three may already say "resolved".
    assert told[-1].stage is FeedbackStage.RESOLVED
    assert [each.version for each in told][-1] == resolved.version
    assert opened.version < acknowledged.version < resolved.version
    versions = [each.version or 0 for each in told]
    assert all(each.version is not None for each in told)
    assert versions == sorted(versions)
