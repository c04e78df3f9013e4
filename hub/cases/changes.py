"""The one path a committed case change takes out of the hub process.

Whoever changed a case — the MQTT ingest storing alerts, an operator's or responder's action
over HTTP, a resident's press on the page, the supervisor firing a deadline — hands the
committed result here, and only after the commit. ``CaseChanges`` then

* publishes it on the live event bus (``hub.live.events``: the console's stream), and
* queues feedback for the residents' buttons that joined the case (``hub.cases.feedback``:
  the LED and buzzer), when the hub runs its MQTT link.

Notices to paging gateways are not sent from here: they are rows written in the same
transaction as the change (``hub.cases.notices``), so that a crash between the commit and
the send loses none of them.
"""

from collections.abc import Iterable

from hub.cases.feedback import FeedbackPublisher
from hub.cases.results import IngestResult
from hub.cases.views import CaseView
from hub.live.events import CaseChanged, EventBus, events_of


class CaseChanges:
    """Reports committed case changes on the live stream and to the residents' buttons."""

    def __init__(self, events: EventBus, feedback: FeedbackPublisher | None = None) -> None:
        self._events = events
        self._feedback = feedback

    def alerts_stored(self, result: IngestResult) -> None:
        """Report a committed batch of alerts: each new alert, each case opened or updated.

        A button hears of every case a press of it joined, opened or not: an SOS that joins a
        fire case is news for that button even though the case is not new.
        """
        # Events first: they describe what is committed, whatever becomes of the acks.
        self._events.publish_all(events_of(result))
        if self._feedback is not None:
            self._feedback.notify_all(result.cases_joined_by(self._feedback.kinds))

    def case_changed(self, case: CaseView, *, resident_sees: bool = True) -> None:
        """Report a committed change of one case.

        ``resident_sees=False`` for changes that leave what a resident's button shows as it
        was (a note on the record, an escalation inside the back office): the button is not
        buzzed again for them.
        """
        self._events.publish(CaseChanged(type="case_updated", case=case))
        if resident_sees and self._feedback is not None:
            self._feedback.notify(case)

    def cases_changed(self, cases: Iterable[CaseView], *, resident_sees: bool = True) -> None:
        """Report committed changes of several cases, in order."""
        for case in cases:
            self.case_changed(case, resident_sees=resident_sees)
