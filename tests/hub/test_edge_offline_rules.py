"""When an edge's outage begins and ends (``hub.fleet.supervision``), on plain values."""

from datetime import timedelta

from devices.kinds import AlertKind, AlertState, Severity
from devices.registry import check_identifier
from hub.fleet.supervision import (
    ClearOutage,
    EdgeWatch,
    OpenOutage,
    OutageCause,
    RaiseOutage,
    Unwatched,
    edge_device_id,
    on_status,
    on_tick,
    outage_alert,
    outage_note,
)
from tests.hub.factories import T0

SILENT_AFTER = timedelta(seconds=120)
OPEN = OpenOutage("edge-offline-abc", T0)
LANYUAN = Unwatched(site_id="lanyuan", site_name="Lanyuan", devices=12)


def watch(state: str = "online", **changes: object) -> EdgeWatch:
    return EdgeWatch(**{"edge_id": "edge-b3", "state": state, "last_seen": T0, **changes})  # type: ignore[arg-type]


def test_an_offline_status_opens_an_outage_once_and_online_clears_it() -> None:
    later = T0 + timedelta(minutes=3)
    assert on_status(watch(), "offline", later) == RaiseOutage(
        "edge-b3", OutageCause.OFFLINE, later
    )
    # A second offline (a retained will again, another worker's copy): nothing more.
    assert on_status(watch("offline", outage=OPEN), "offline", later) is None
    assert on_status(watch("offline", outage=OPEN), "online", later) == ClearOutage(
        "edge-b3", OPEN, later
    )
    # An online with nothing open, a revoked edge: nothing.
    assert on_status(watch(), "online", later) is None
    assert on_status(watch(revoked=True), "offline", later) is None


def test_a_silent_edge_is_lost_only_past_the_setting_and_only_once() -> None:
    at_limit = T0 + SILENT_AFTER
    assert on_tick([watch()], at_limit, SILENT_AFTER) == []
    past = at_limit + timedelta(seconds=1)
    assert on_tick([watch()], past, SILENT_AFTER) == [
        RaiseOutage("edge-b3", OutageCause.SILENT, T0)
    ]
    assert on_tick([watch(outage=OPEN)], past, SILENT_AFTER) == []
    assert on_tick([watch(revoked=True)], past, SILENT_AFTER) == []


def test_an_offline_edge_whose_outage_was_never_raised_is_raised_by_the_tick() -> None:
    """Its alert could not be written when the will came: the next round raises it, at the
    time the status path would have given it (one alert id for both)."""
    [raised] = on_tick([watch("offline")], T0 + timedelta(seconds=1), SILENT_AFTER)
    assert raised == on_status(watch(), "offline", T0)
    assert (
        outage_alert(raised, LANYUAN).id
        == outage_alert(RaiseOutage("edge-b3", OutageCause.OFFLINE, T0), LANYUAN).id
    )


def test_the_alert_is_the_hubs_about_the_edges_row_and_says_what_is_unwatched() -> None:
    raised = outage_alert(RaiseOutage("edge-b3", OutageCause.OFFLINE, T0), LANYUAN)
    assert (raised.kind, raised.state, raised.severity) == (
        AlertKind.EDGE_OFFLINE,
        AlertState.RAISED,
        Severity.HIGH,
    )
    assert (raised.edge_id, raised.device_id, raised.ts) == ("edge-b3", "edge.edge-b3", T0)
    assert raised.reason.values == {
        "devices_unwatched": 12,
        "site_id": "lanyuan",
        "site": "Lanyuan",
        "cause": "offline",
    }
    back = T0 + timedelta(minutes=7, seconds=5)
    cleared = outage_alert(ClearOutage("edge-b3", OPEN, back), LANYUAN)
    assert (cleared.state, cleared.ts, cleared.reason.values["blind_s"]) == (
        AlertState.CLEARED,
        back,
        425.0,
    )
    # Decided again (another worker, a retry): the same alert.
    assert outage_alert(ClearOutage("edge-b3", OPEN, back), LANYUAN) == cleared
    assert cleared.id != raised.id


def test_the_lines_name_the_site_the_devices_and_how_long_it_was_blind() -> None:
    went = outage_note(RaiseOutage("edge-b3", OutageCause.OFFLINE, T0), LANYUAN)
    assert went == "edge edge-b3 went offline: site Lanyuan, 12 devices unwatched"
    silent = outage_note(RaiseOutage("edge-b3", OutageCause.SILENT, T0), Unwatched(None, None, 1))
    assert (
        silent == "edge edge-b3 fell silent (no status): no site in the roster, 1 device unwatched"
    )
    back = outage_note(ClearOutage("edge-b3", OPEN, T0 + timedelta(minutes=7, seconds=5)), LANYUAN)
    assert back.startswith("edge edge-b3 back online: site Lanyuan was blind for 7 min 5 s (")


def test_an_edges_row_id_is_a_valid_id_kept_apart_from_its_devices() -> None:
    assert edge_device_id("edge-b3") == "edge.edge-b3"
    long_a, long_b = "a" * 63 + "1", "a" * 63 + "2"
    assert check_identifier(edge_device_id(long_a)) != edge_device_id(long_b)
    assert len(edge_device_id(long_a)) <= 64


def test_a_hub_that_was_not_listening_blames_no_edge_for_its_own_silence() -> None:
    """Back after ten minutes down (or cut from its broker): the edges' last statuses are old,
    but only a silence while it listened counts."""
    back = T0 + timedelta(minutes=10)
    assert on_tick([watch()], back + timedelta(seconds=1), SILENT_AFTER, back) == []
    assert on_tick([watch()], back + SILENT_AFTER, SILENT_AFTER, back) == []
    assert on_tick([watch()], back + SILENT_AFTER + timedelta(seconds=1), SILENT_AFTER, back) == [
        RaiseOutage("edge-b3", OutageCause.SILENT, T0)
    ]
    # An offline edge is offline whoever listened.
    assert len(on_tick([watch("offline")], back, SILENT_AFTER, back)) == 1


def test_an_edge_back_within_the_grace_opens_nothing_and_one_that_is_not_is_raised() -> None:
    """A restart or an upgrade says goodbye and is back in seconds: no case. A box that
    died stays offline past the grace: raised then, from when it went (its will's time)."""
    grace = timedelta(seconds=60)
    went = watch("offline")  # its will taken at T0
    assert on_status(watch(), "offline", T0, grace) is None
    assert on_tick([went], T0 + timedelta(seconds=59), SILENT_AFTER, None, grace) == []
    # Back within it: online with no outage open is nothing.
    assert on_status(went, "online", T0 + timedelta(seconds=20), grace) is None
    assert on_tick([went], T0 + grace, SILENT_AFTER, None, grace) == [
        RaiseOutage("edge-b3", OutageCause.OFFLINE, T0)
    ]
