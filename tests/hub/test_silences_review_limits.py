"""Outside review of silences: a silence never reaches back before it was set."""

from datetime import timedelta

import pytest

from hub.silences.rules import SilenceScope
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

pytestmark = pytest.mark.fake_clock


def test_a_backdated_silence_does_not_hide_an_alarm_raised_before_it_was_set(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id="e1"))
    clock.advance(3 * 3600)
    drill = store.silences.create_silence(
        SilenceScope.PLACE,
        "Building 3",
        starts_at=clock.now - timedelta(hours=2),
        ends_at=clock.now + timedelta(hours=1),
        reason="fire drill",
    )
    # The edge was cut off for an hour; a fire it saw half an hour before the silence was set
    # arrives now, by its store and forward.
    fire = make_alert(device_id="b3-1201-smoke", ts=clock.now - timedelta(minutes=30))
    result = store.intake.ingest_alerts([fire], clock.advance(5))
    assert result.silenced == []
    assert len(result.cases_opened) == 1
    assert drill.starts_at == drill.created_at  # not before it was set


def test_ending_a_silence_early_says_in_the_trail_when_it_stopped_covering_alarms(
    store: HubStore, clock: FakeClock
) -> None:
    """The trail alone must say which alarms a silence hid: ended early, its entry names the
    new end and the planned one (before, only the silence's id: the row, which can be edited,
    was the only record of when it stopped)."""
    drill = store.silences.create_silence(
        SilenceScope.PLACE, "Building 3", ends_at=clock.now + timedelta(hours=2), reason="drill"
    )
    ended_at = clock.advance(1800)
    store.silences.end_silence(drill.id, actor="op.wang")
    entry = [e for e in store.audit.list_audit(limit=500) if e.action == "silence_ended"]
    assert [e.detail for e in entry] == [
        {
            "silence_id": drill.id,
            "ends_at": ended_at.isoformat(),
            "planned_ends_at": drill.ends_at.isoformat(),
        }
    ]
    assert entry[0].actor == "op.wang"
