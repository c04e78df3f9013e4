"""The feedback publisher without a broker: nothing connected is counted, a full queue drops."""

import asyncio
from collections import Counter

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.feedback import FeedbackPublisher
from hub.store import HubStore
from tests.background import running
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.test_events import case_view

SOS_ONLY = frozenset({AlertKind.SOS})


async def test_feedback_while_disconnected_is_counted_not_sent(store: HubStore) -> None:
    store.fleet.register_device(make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON))
    alert = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], T0).cases_opened
    counters: Counter[str] = Counter()
    publisher = FeedbackPublisher(store, lambda: None, counters, kinds=SOS_ONLY)
    async with running(publisher.run()):
        publisher.notify(case)
        publisher.notify(case_view())  # smoke: not reported at all
        async with asyncio.timeout(5):
            while True:
                if counters["feedback_unsent"] >= 1:
                    break
                await asyncio.sleep(0.01)
    assert counters == Counter({"feedback_unsent": 1})


async def test_a_full_queue_drops_and_counts(store: HubStore) -> None:
    counters: Counter[str] = Counter()
    publisher = FeedbackPublisher(store, lambda: None, counters, kinds=SOS_ONLY, max_queued=1)
    sos = case_view(kind=AlertKind.SOS)
    publisher.notify(sos)
    publisher.notify(sos)
    assert counters["feedback_dropped"] == 1
