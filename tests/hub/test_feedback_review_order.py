"""Reviewer's tests: several hub workers, one button — the button is never told an older
stage after a newer one (through a real Mosquitto and a real hub store).

Each hub worker has its own MQTT link and its own feedback queue. An operator's
acknowledgement handled by one worker can sit in that worker's queue (behind a burst of other
cases, or a publish waiting for its PUBACK) while another worker resolves the case and tells the
button so at once. What the first worker publishes afterwards must not be the stage it
queued: "someone is coming" after "resolved" would leave the resident's button lit, saying
help is on the way for a case that is over.
"""

import asyncio

import pytest

from devices.messages import FeedbackStage
from hub.cases.rules import Resolution
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.feedback_link import DEADLINE, edge_hearing, publisher
from tests.hub.test_feedback import sos_case

pytestmark = pytest.mark.mosquitto

BUTTON = "b3-1201-sos"
MARKER = "b3-1202-sos"


async def test_a_worker_that_publishes_late_does_not_undo_a_newer_stage_on_the_button(
    store: HubStore, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    case = sos_case(store, BUTTON, clock())
    marker = sos_case(store, MARKER, clock())
    async with edge_hearing(mosquitto, "hub-worker-a", "hub-worker-b") as (heard, workers):
        late, prompt = (publisher(store, worker) for worker in workers)
        async with running(prompt.run()):
            # Worker A commits the acknowledgement; its feedback waits in A's queue.
            late.notify(store.cases.acknowledge(case.id, "patrol going"))
            # Worker B resolves the case a moment later and tells the button at once.
            prompt.notify(store.cases.resolve(case.id, "helped up", resolution=Resolution.REAL))
            async with asyncio.timeout(DEADLINE):
                first = await heard.get()
            assert (first.case_id, first.stage) == (case.id, FeedbackStage.RESOLVED)
            # Now worker A gets round to its queue; the marker after it shows it is all out.
            late.notify(marker)
            async with running(late.run()):
                stages: list[tuple[str, FeedbackStage]] = []
                async with asyncio.timeout(DEADLINE):
                    while not stages or stages[-1][0] != MARKER:
                        feedback = await heard.get()
                        stages.append((feedback.device_id, feedback.stage))
    told_the_button = [stage for device, stage in stages if device == BUTTON]
    assert FeedbackStage.ACKNOWLEDGED not in told_the_button, (
        f"after 'resolved' the button was told {told_the_button}"
    )
