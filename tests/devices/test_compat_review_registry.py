"""A registry or an inventory naming one device the reader cannot read: the rest still count.

An outside review of docs/contract.md's promise across versions. The payloads below were
serialised by this repository's models at commit 8532b74 (the hub's ``DeviceRegistry`` as
``hub.ingest.link`` publishes it, an edge's ``EdgeStatus``). Read by the models of older
commits (``git archive <commit> devices``, run outside the repository), each was refused
whole, because ``Device`` refuses a kind or a field it does not know:

- ``REGISTRY_WITH_MOTION`` by an edge of f6150d3 (2026-11-22, before the ``motion`` kind):
  ``devices.2.kind  Input should be 'smoke', 'co', ...``;
- ``REGISTRY_WITH_FAHRENHEIT`` by an edge of 5550427 (2026-12-04, before
  ``temperature_unit``): ``devices.2.temperature_unit  Extra inputs are not permitted``;
- ``STATUS_WITH_TASMOTA`` by a hub of f6150d3 (before ``tasmota_topic``), after a rollback.

Such an edge keeps its hub devices in memory only and, refusing the retained registry at its
next start, knows none of them but its site file's: a press on any SOS button registered at
the hub is refused there as ``unknown_device``. The same models, one release on, would do
the same with the next kind or field, so these tests read a registry and a status as the
next release would send them (one device of a kind or with a field this release does not
know) and ask that only that device be left out.
"""

import json

from devices.messages import DeviceRegistry, EdgeStatus
from devices.topics import EdgeChannel, edge_topic
from hub.ingest.messages import StatusMessage, parse_uplink

REGISTRY_WITH_MOTION = (
    b'{"v":1,"edge_id":"edge-old","devices":[{"id":"b3-1201-sos","kind":"sos_button",'
    b'"location":"Building 3/Floor 12/Unit 1201","edge_id":"edge-old","zigbee_name":"sos 1201"},'
    b'{"id":"b3-1201-smoke","kind":"smoke","location":"Building 3/Floor 12/Unit 1201",'
    b'"edge_id":"edge-old","zigbee_name":null},{"id":"b3-1201-motion","kind":"motion",'
    b'"location":"Building 3/Floor 12/Unit 1201","edge_id":"edge-old","zigbee_name":"pir 1201"}]}'
)
REGISTRY_WITH_FAHRENHEIT = (
    b'{"v":1,"edge_id":"edge-old","devices":[{"id":"b3-1201-sos","kind":"sos_button",'
    b'"location":"Building 3/Floor 12/Unit 1201","edge_id":"edge-old","zigbee_name":"sos 1201"},'
    b'{"id":"b3-1201-smoke","kind":"smoke","location":"Building 3/Floor 12/Unit 1201",'
    b'"edge_id":"edge-old","zigbee_name":null},{"id":"b3-1203-ht","kind":"heat",'
    b'"location":"Building 3/Floor 12/Unit 1203","edge_id":"edge-old","zigbee_name":null,'
    b'"shelly_id":"shellyht-aabbcc","temperature_unit":"F"}]}'
)
STATUS_WITH_TASMOTA = (
    b'{"v":1,"edge_id":"edge-old","state":"online","ts":"2026-12-07T08:00:00+08:00",'
    b'"outbox_depth":0,"devices":[{"id":"b3-1201-sos","kind":"sos_button",'
    b'"location":"Building 3/Floor 12/Unit 1201","edge_id":"edge-old","zigbee_name":"sos 1201"},'
    b'{"id":"b3-1201-smoke","kind":"smoke","location":"Building 3/Floor 12/Unit 1201",'
    b'"edge_id":"edge-old","zigbee_name":null},{"id":"b3-1202-leak","kind":"water_leak",'
    b'"location":"Building 3/Floor 12/Unit 1202","edge_id":"edge-old","zigbee_name":null,'
    b'"tasmota_topic":"zbbridge/leak1"}],"counters":{},"checkins":{},"in_memory":[]}'
)


def _one_release_on(payload: bytes, change: dict[str, object]) -> bytes:
    """The payload with its third device changed as the next release might send it."""
    data = json.loads(payload)
    data["devices"][2].update(change)
    return json.dumps(data).encode()


def test_the_payloads_of_this_release_are_read_whole() -> None:
    assert len(DeviceRegistry.model_validate_json(REGISTRY_WITH_MOTION).devices) == 3
    assert len(DeviceRegistry.model_validate_json(REGISTRY_WITH_FAHRENHEIT).devices) == 3
    assert len(EdgeStatus.model_validate_json(STATUS_WITH_TASMOTA).devices) == 3


def test_a_registry_naming_a_device_of_a_kind_this_edge_does_not_know_keeps_its_sos_buttons() -> (
    None
):
    newer = _one_release_on(REGISTRY_WITH_MOTION, {"kind": "presence_radar"})
    registry = DeviceRegistry.model_validate_json(newer)
    assert [d.id for d in registry.devices] == ["b3-1201-sos", "b3-1201-smoke"]


def test_a_registry_naming_a_device_with_a_field_this_edge_does_not_know_keeps_the_others() -> None:
    newer = _one_release_on(REGISTRY_WITH_FAHRENHEIT, {"matter_node": "0x1a2b"})
    registry = DeviceRegistry.model_validate_json(newer)
    assert [d.id for d in registry.devices] == ["b3-1201-sos", "b3-1201-smoke"]


def test_a_status_listing_a_device_this_hub_cannot_read_is_still_taken() -> None:
    """Refused whole, the edge's liveness, counters and every other device of its inventory
    were lost with the one device."""
    newer = _one_release_on(STATUS_WITH_TASMOTA, {"matter_node": "0x1a2b"})
    parsed = parse_uplink(
        edge_topic("edge-old", EdgeChannel.STATUS), newer, max_payload_bytes=262_144
    )
    assert isinstance(parsed, StatusMessage), parsed
    assert [d.id for d in parsed.status.devices] == ["b3-1201-sos", "b3-1201-smoke"]
