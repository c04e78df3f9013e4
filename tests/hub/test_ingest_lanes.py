"""What the ingest handles first in one take (hub.ingest.lanes), on plain values."""

from datetime import UTC, datetime

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, TelemetryBatch
from hub.ingest.lanes import (
    PendingStatuses,
    alert_order,
    latest_statuses,
    plan_take,
    statuses_needed_first,
    write_another,
)
from hub.ingest.messages import (
    AlertMessage,
    RejectedMessage,
    StatusCleared,
    StatusMessage,
    StatusNews,
    TelemetryMessage,
    UplinkMessage,
)
from tests.hub.factories import make_alert, make_device, make_status


def alert(device: str, kind: AlertKind, *, state: AlertState = AlertState.RAISED) -> Alert:
    """Return an alert of ``kind`` from ``device`` on edge e1."""
    return make_alert(device_id=device, kind=kind, state=state, severity=Severity.HIGH)


def status(edge: str, *devices: str, depth: int = 0) -> StatusMessage:
    """Return an edge's status naming ``devices`` in its inventory."""
    return StatusMessage(
        edge,
        make_status(
            edge, devices=[make_device(d, edge_id=edge) for d in devices], outbox_depth=depth
        ),
    )


def depth(news: StatusNews) -> int | None:
    """Return a status's outbox depth (None: a status cleared)."""
    return news.status.outbox_depth if isinstance(news, StatusMessage) else None


def telemetry(edge: str) -> TelemetryMessage:
    """Return an empty telemetry batch of ``edge``."""
    return TelemetryMessage(edge, TelemetryBatch(edge_id=edge, points=[]))


def test_an_sos_goes_ahead_of_earlier_alarms_and_faults() -> None:
    battery = alert("d-battery", AlertKind.BATTERY_LOW)
    leak = alert("d-leak", AlertKind.WATER_LEAK)
    smoke = alert("d-smoke", AlertKind.SMOKE)
    sos = alert("d-sos", AlertKind.SOS)
    assert alert_order([battery, leak, smoke, sos]) == [sos, smoke, leak, battery]


def test_a_device_keeps_its_own_order_and_ranks_by_its_most_urgent_alert() -> None:
    # A device's fault, then its SOS, then the SOS's clearance: all three go ahead of another
    # device's smoke alarm, in the order the device raised them.
    fault = alert("d-button", AlertKind.BATTERY_LOW)
    smoke = alert("d-smoke", AlertKind.SMOKE)
    sos = alert("d-button", AlertKind.SOS)
    cleared = alert("d-button", AlertKind.SOS, state=AlertState.CLEARED)
    assert alert_order([fault, smoke, sos, cleared]) == [fault, sos, cleared, smoke]


def test_equal_ranks_keep_their_arrival_order() -> None:
    alerts = [alert(f"d-{i}", AlertKind.SMOKE) for i in range(5)]
    assert alert_order(alerts) == alerts
    assert alert_order(list(reversed(alerts))) == list(reversed(alerts))


def test_the_latest_status_of_each_edge_wins() -> None:
    e1_old, e2, e1_new = status("e1", depth=1), status("e2"), status("e1", depth=2)
    assert latest_statuses([e1_old, e2, e1_new]) == [e2, e1_new]


def test_a_take_puts_alerts_first_and_coalesces_statuses() -> None:
    sos = make_alert(device_id="d-sos", kind=AlertKind.SOS)
    smoke = make_alert(device_id="d-smoke", kind=AlertKind.SMOKE)
    bad = RejectedMessage("linli/edge/e1/alert", "malformed", "not json", "e1")
    messages: list[UplinkMessage] = [
        telemetry("e1"),
        status("e1", depth=1),
        AlertMessage("e1", smoke),
        telemetry("e2"),
        bad,
        status("e2"),
        status("e1", depth=2),
        AlertMessage("e1", sos),
    ]
    take = plan_take(messages)
    assert take.alerts == [sos, smoke]
    assert [(s.edge_id, depth(s)) for s in take.statuses] == [("e2", 0), ("e1", 2)]
    assert take.superseded_statuses == 1
    assert [t.edge_id for t in take.telemetry] == ["e1", "e2"]
    assert take.rejected == [bad]


def test_an_empty_take_plans_nothing() -> None:
    take = plan_take([])
    assert (take.alerts, take.statuses, take.telemetry, take.rejected) == ([], [], [], [])
    assert take.superseded_statuses == 0


def test_a_status_goes_first_only_when_it_registers_an_alerts_unknown_device() -> None:
    new_device = make_alert(device_id="d-new", kind=AlertKind.SOS, edge_id="e1")
    known_device = make_alert(device_id="d-known", kind=AlertKind.SMOKE, edge_id="e2")
    e1 = status("e1", "d-new", "d-other")
    e2 = status("e2", "d-known")
    e3 = status("e3", "d-new")  # another edge naming it does not register it for e1
    assert statuses_needed_first([new_device, known_device], [e1, e2, e3], {"d-known"}) == [e1]
    assert statuses_needed_first([known_device], [e1, e2, e3], {"d-known"}) == []
    assert statuses_needed_first([new_device], [e1], {"d-new"}) == []


def test_plan_keeps_every_message() -> None:
    ts = datetime(2025, 3, 1, tzinfo=UTC)
    alerts = [
        make_alert(device_id=f"d-{i % 3}", kind=kind, ts=ts)
        for i, kind in enumerate([AlertKind.SMOKE, AlertKind.SOS, AlertKind.BATTERY_LOW] * 4)
    ]
    take = plan_take([AlertMessage("e1", a) for a in alerts])
    assert sorted(a.id for a in take.alerts) == sorted(a.id for a in alerts)
    for device in ("d-0", "d-1", "d-2"):
        assert [a.id for a in take.alerts if a.device_id == device] == [
            a.id for a in alerts if a.device_id == device
        ]


def test_pending_statuses_keep_the_latest_per_edge_oldest_edge_first() -> None:
    pending = PendingStatuses()
    assert pending.add([status("e1", depth=1), status("e2")]) == 0
    assert pending.add([status("e3"), status("e1", depth=2)]) == 1
    assert len(pending) == 3
    popped = [pending.pop_oldest(), pending.pop_oldest(), pending.pop_oldest()]
    assert [(s.edge_id, depth(s)) for s in popped if s is not None] == [
        ("e2", 0),
        ("e3", 0),
        ("e1", 2),
    ]
    assert pending.pop_oldest() is None


def test_pending_statuses_give_up_the_ones_an_alert_needs() -> None:
    pending = PendingStatuses()
    e1, e2 = status("e1", "d-new"), status("e2", "d-other")
    pending.add([e1, e2])
    sos = make_alert(device_id="d-new", kind=AlertKind.SOS, edge_id="e1")
    assert pending.take_needed_first([sos], known_devices=set()) == [e1]
    assert len(pending) == 1
    assert pending.take_needed_first([sos], known_devices=set()) == []


def test_one_status_per_take_at_least_more_only_while_nothing_waits() -> None:
    assert write_another(written=0, pending=3, messages_waiting=True)
    assert not write_another(written=1, pending=2, messages_waiting=True)
    assert write_another(written=1, pending=2, messages_waiting=False)
    assert not write_another(written=0, pending=0, messages_waiting=False)


def test_a_cleared_status_supersedes_the_edges_status_and_registers_nothing() -> None:
    """``linli broker revoke`` clears an edge's retained status: the clearing is the edge's
    latest news, and no alert waits for it (it lists no device)."""
    take = plan_take([status("e1", "b3-smoke"), status("e2"), StatusCleared("e1")])
    assert take.statuses == [status("e2"), StatusCleared("e1")]
    assert take.superseded_statuses == 1
    alert = make_alert(device_id="b3-smoke", edge_id="e1")
    assert statuses_needed_first([alert], take.statuses, known_devices=set()) == []
