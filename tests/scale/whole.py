"""What every load test asks of the hub after a run: each alert and door passage the simulated
edges sent is stored once, none lost, none doubled, and every raised life-safety alert is in a
case."""

from simulators.load import HubCheck
from simulators.load_mix import EventKind
from simulators.load_tally import LoadTally


def alerts_sent(tally: LoadTally) -> int:
    """Return how many alerts (raised, cleared, SOS) a run sent."""
    return sum(
        tally.sent[k] for k in (EventKind.ALERT_RAISED, EventKind.ALERT_CLEARED, EventKind.SOS)
    )


def assert_stored_whole_and_once(checked: HubCheck, tally: LoadTally) -> None:
    """Assert the hub stored every alert and door passage of the run exactly once."""
    assert checked.alerts.lost == []
    assert checked.alerts.unfinished == []
    assert checked.alerts.duplicated == []
    assert checked.alerts.stored == alerts_sent(tally)
    assert checked.access.lost == []
    assert checked.access.duplicated == []
    assert checked.access.stored == tally.sent[EventKind.DOOR]
    assert checked.alerts_without_case == 0
