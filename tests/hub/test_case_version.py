"""A case's version (``CaseRow.version``): raised by every change of the case, whichever path
writes it, and shown in every view of it, on SQLite and PostgreSQL."""

from datetime import timedelta

from devices.kinds import AlertKind, AlertState, DeviceKind
from hub.cases.rules import CaseAction, Resolution
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device


def test_every_change_of_a_case_raises_its_version_and_every_view_shows_it(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.register_device(
        make_device("b3-smoke", kind=DeviceKind.SMOKE, location="Building 3/Unit 1")
    )
    first = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], clock())
    case = first.cases_opened[0]
    assert case.version == 1

    # An alert joining it: its counts are written by the take's last statement, not the ORM.
    again = make_alert(device_id="b3-smoke", ts=T0 + timedelta(seconds=5))
    joined = store.intake.ingest_alerts([again], clock.advance(5))
    assert [c.version for c in joined.cases_updated] == [2]
    assert store.cases.get_case(case.id).version == 2

    # A person's action: written by the ORM.
    acknowledged = store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="wang")
    assert acknowledged.version == 3
    assert store.cases.get_case(case.id).version == 3

    clear = make_alert(
        device_id="b3-smoke", state=AlertState.CLEARED, ts=T0 + timedelta(seconds=30)
    )
    store.intake.ingest_alerts([clear], clock.advance(25))
    cleared = store.cases.get_case(case.id).version
    assert cleared > 3
    resolved = store.cases.act(
        case.id, CaseAction.RESOLVE, actor="wang", note="toast", resolution=Resolution.NUISANCE
    )
    # Higher, and what is stored: a change written in two flushes may raise it twice.
    assert resolved.version > cleared
    listed = {c.id: c.version for c in store.cases.list_cases()}
    assert listed[case.id] == resolved.version == store.cases.get_case(case.id).version


def test_a_new_case_of_a_second_kind_has_its_own_version(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(
        make_device("b3-co", kind=DeviceKind.CO, location="Building 3/Unit 2")
    )
    taken = store.intake.ingest_alerts([make_alert(device_id="b3-co", kind=AlertKind.CO)], clock())
    assert [c.version for c in taken.cases_opened] == [1]
    assert store.cases.get_case(taken.cases_opened[0].id).version == 1
