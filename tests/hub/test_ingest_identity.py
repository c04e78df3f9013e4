"""hub.ingest.identity on plain values: an edge speaks only for itself and its devices."""

from datetime import UTC, datetime

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from hub.fleet.claims import Claim, Registration
from hub.ingest.identity import (
    IdentityReason,
    device_claim,
    payload_claim,
    screen_alerts,
    screen_inventory,
    screen_telemetry,
)
from tests.hub.factories import make_alert, make_device

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REGISTERED = {"smoke-a": Registration("edge-a"), "smoke-b": Registration("edge-b")}
"""Registered by the edges' inventories (trusted on first use)."""
VOUCHED = {
    "smoke-a": Registration("edge-a", vouched=True),
    "smoke-b": Registration("edge-b", vouched=True),
}
"""Registered by an operator."""


def test_a_device_of_another_edge_is_foreign() -> None:
    assert device_claim("edge-a", "smoke-a", REGISTERED) is None
    assert device_claim("edge-a", "smoke-b", REGISTERED) is IdentityReason.FOREIGN_DEVICE
    # Unknown here: the intake refuses unknown devices itself.
    assert device_claim("edge-a", "new-one", REGISTERED) is None


def test_the_payload_must_name_the_topics_edge() -> None:
    assert payload_claim("edge-a", "edge-a") is None
    assert payload_claim("edge-a", "edge-b") is IdentityReason.EDGE_MISMATCH


def test_an_inventory_cannot_take_or_name_another_edges_devices() -> None:
    devices = [
        make_device("smoke-a", edge_id="edge-a"),
        make_device("new-one", edge_id=None),
        make_device("smoke-b", edge_id=None),  # registered to edge-b: taking it over
        make_device("smoke-b", edge_id="edge-a"),
        make_device("other", edge_id="edge-b"),  # naming another edge
    ]
    screened = screen_inventory("edge-a", devices, REGISTERED)
    assert [d.id for d in screened.kept] == ["smoke-a", "new-one"]
    assert [(d.id, r) for d, r in screened.refused] == [
        ("smoke-b", IdentityReason.FOREIGN_DEVICE),
        ("smoke-b", IdentityReason.FOREIGN_DEVICE),
        ("other", IdentityReason.EDGE_MISMATCH),
    ]
    # Each entry about edge-b's device is a claim, reported; naming another edge is not one.
    location = devices[2].location
    assert screened.claims == [
        Claim("smoke-b", "edge-a", "edge-b", location=location),
        Claim("smoke-b", "edge-a", "edge-b", location=location),
    ]
    # An operator's registration changes nothing here: an inventory never moves a device.
    vouched = screen_inventory("edge-a", devices, VOUCHED)
    assert (vouched.kept, vouched.refused, vouched.claims) == (
        screened.kept,
        screened.refused,
        screened.claims,
    )


def _point(device_id: str) -> TelemetryPoint:
    return TelemetryPoint(device_id=device_id, ts=T0, readings=Readings(temperature_c=21.0))


def test_telemetry_keeps_only_the_edges_own_devices() -> None:
    batch = TelemetryBatch(edge_id="edge-a", points=[_point("smoke-a"), _point("smoke-b")])
    screened = screen_telemetry("edge-a", batch, REGISTERED)
    assert [p.device_id for p in screened.kept] == ["smoke-a"]
    assert [(p.device_id, r) for p, r in screened.refused] == [
        ("smoke-b", IdentityReason.FOREIGN_DEVICE)
    ]
    # A batch that names another edge is refused whole.
    forged = screen_telemetry("edge-b", batch, REGISTERED)
    assert forged.kept == []
    assert {r for _, r in forged.refused} == {IdentityReason.EDGE_MISMATCH}


def test_telemetry_of_a_device_the_edge_contests_is_kept_while_no_operator_vouched() -> None:
    """edge-a claimed smoke-b (a conflict case is open): its readings may be the real ones."""
    batch = TelemetryBatch(edge_id="edge-a", points=[_point("smoke-b")])
    contested = {"smoke-b": Registration("edge-b", claimants=frozenset({"edge-a"}))}
    assert [p.device_id for p in screen_telemetry("edge-a", batch, contested).kept] == ["smoke-b"]
    # Another edge's claim does not speak for edge-a; an operator's registration settles it.
    for registered in (
        {"smoke-b": Registration("edge-b", claimants=frozenset({"edge-c"}))},
        {"smoke-b": Registration("edge-b", vouched=True, claimants=frozenset({"edge-a"}))},
    ):
        screened = screen_telemetry("edge-a", batch, registered)
        assert screened.kept == []
        assert [r for _, r in screened.refused] == [IdentityReason.FOREIGN_DEVICE]


def test_an_edge_raises_alerts_only_for_devices_an_operator_did_not_give_another_edge() -> None:
    own = make_alert(device_id="smoke-a", edge_id="edge-a")
    foreign = make_alert(device_id="smoke-b", edge_id="edge-a")
    unknown = make_alert(device_id="new-one", edge_id="edge-a")
    # Registered by an operator: refused, and reported as a refused claim.
    vouched = screen_alerts([own, foreign, unknown], VOUCHED)
    assert vouched.kept == [own, unknown]
    assert vouched.refused == [(foreign, IdentityReason.FOREIGN_DEVICE)]
    assert vouched.claims == [Claim("smoke-b", "edge-a", "edge-b", alert=foreign, refused=True)]
    # Registered by edge-b's inventory, which proves nothing: taken (contested), reported.
    contested = screen_alerts([own, foreign, unknown], REGISTERED)
    assert contested.kept == [own, foreign, unknown]
    assert contested.refused == []
    assert contested.claims == [Claim("smoke-b", "edge-a", "edge-b", alert=foreign)]
