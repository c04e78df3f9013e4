"""Outside review: odd JSON from devices, read as the edge reads it (``decode_all``).

A number JSON writes as an integer beyond any float (``1`` and 400 zeros: a sensor's
overflowed register printed in full by firmware that formats a 64-bit or bigger integer, or a
forger's payload) is no more a reading than ``1e999``, which the adapters drop, keeping the
message's other readings (docs/contract.md, sections 2 and 3). It escaped the adapters as
``OverflowError`` (the edge then rejected the message as an internal error, with a traceback,
and the ``smoke: true`` beside it was lost), or refused the whole message.
"""

import pytest

from devices.adapters import decode_all
from devices.kinds import DeviceKind
from devices.observations import DeviceAddress, StateUpdate
from devices.payloads import DropReason, noting_dropped
from devices.topics import parse_device_topic

HUGE = "1" + "0" * 400
"""An integer JSON allows and no float holds (Python's json reads it as an int)."""


def decoded_state(topic: str, payload: str, kind: DeviceKind | None = None) -> StateUpdate:
    """Decode one message as the edge does; return its one state update."""

    def kind_of(_: DeviceAddress) -> DeviceKind | None:
        return kind

    (decoded,) = decode_all(parse_device_topic(topic), payload.encode(), kind_of=kind_of)
    (state,) = [o for o in decoded.observations if isinstance(o, StateUpdate)]
    return state


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        # Native state (docs/contract.md section 2): a measurement beside the alarm flag.
        ("linli/dev/smoke-1/state", f'{{"smoke": true, "co_ppm": {HUGE}}}', None),
        # Zigbee2MQTT: ``gas`` as a number is % LEL (Lincukoo E04CF-Z10T, lincukoo.ts
        # ``e.numeric("gas").withUnit("%LEL")``), here beside the smoke flag of a combined
        # detector; before: OverflowError out of the adapter.
        ("zigbee2mqtt/b3 boiler", f'{{"gas": {HUGE}, "smoke": true}}', DeviceKind.SMOKE),
        # Zigbee2MQTT ``battery`` (exposes e.battery(), %): before, the message was refused.
        ("zigbee2mqtt/b3 kitchen", f'{{"battery": {HUGE}, "smoke": true}}', DeviceKind.SMOKE),
        # Tasmota wired SENSOR (tasmota.github.io/docs/Commands, "DS18B20-1" arrays): the
        # message was refused; a probe that is no number is dropped like one at 1e999.
        (
            "tele/boiler/SENSOR",
            f'{{"DS18B20-1": {{"Temperature": {HUGE}}}, "DS18B20-2": {{"Temperature": 61.5}}}}',
            DeviceKind.HEAT,
        ),
        # Shelly Gen2+ NotifyStatus (shelly-api-docs.shelly.cloud, Smoke and HumidityTemperature
        # components): humidity beside the smoke alarm.
        (
            "shellyplussmoke-a8032ab12345/events/rpc",
            '{"src": "shellyplussmoke-a8032ab12345", "method": "NotifyStatus", "params": '
            f'{{"humidity:0": {{"id": 0, "rh": {HUGE}}}, "smoke:0": {{"id": 0, "alarm": true}}}}}}',
            DeviceKind.SMOKE,
        ),
    ],
)
def test_an_integer_beyond_a_float_is_dropped_and_the_rest_kept(
    topic: str, payload: str, kind: DeviceKind | None
) -> None:
    with noting_dropped() as dropped:
        state = decoded_state(topic, payload, kind)
    present = state.readings.present()
    assert present.get("smoke") is True or present.get("temperature_c") == 61.5
    assert [why for _, why in dropped] == [DropReason.NOT_FINITE]


@pytest.mark.parametrize("last_seen", ['"yesterday"', "5", "1e30", '"+010000-01-01T00:00:00.000Z"'])
def test_an_unreadable_zigbee_last_seen_costs_no_sos_and_no_smoke(last_seen: str) -> None:
    # Zigbee2MQTT writes ``last_seen`` itself (``advanced.last_seen``: ISO_8601,
    # ISO_8601_local or epoch milliseconds); one it cannot have written (a year past 9999 from
    # a box whose clock ran wild, or a forger's text) refused the whole message, the press or
    # the ``smoke: true`` beside it with it. Dropped now, noted, as a native ``ts`` is.
    def kind_of(_: DeviceAddress) -> DeviceKind | None:
        return DeviceKind.SOS_BUTTON

    press = f'{{"action": "emergency", "battery": 100, "last_seen": {last_seen}}}'
    with noting_dropped() as dropped:
        (decoded,) = decode_all(
            parse_device_topic("zigbee2mqtt/b3 1201 sos"), press.encode(), kind_of=kind_of
        )
    assert [type(o).__name__ for o in decoded.observations] == ["StateUpdate", "DeviceEvent"]
    assert all(getattr(o, "event_time", None) is None for o in decoded.observations)
    assert dropped == [("last_seen", DropReason.UNREADABLE_TIME)]
    smoke = f'{{"smoke": true, "last_seen": {last_seen}}}'
    assert decoded_state("zigbee2mqtt/b3 kitchen", smoke).readings.smoke is True
