"""A Shelly Gen2+ names itself twice, in its topic's prefix and in the payload's ``src``.

The broker binds a Gen2 identity to its prefix (``linli broker add-shelly-gen2``), never to
what it writes in ``src``: a notification speaks for the device its prefix names, and a
``src`` naming another registered device is refused (``src_mismatch``), not believed. A
prefix that names no registered device leaves ``src`` to decide, as before.
"""

import json

import pytest

from devices.adapters import decode_all
from devices.errors import PayloadError
from devices.kinds import DeviceKind
from devices.observations import DeviceAddress, ShellyAddress, StateUpdate
from devices.shelly import rpc_sender
from devices.topics import parse_device_topic

SMOKE = "shellyplussmoke-a1b2c3"
PLUG = "shellyplusplugs-d4e5f6"
REGISTERED = {SMOKE, PLUG, "server-pm"}


def registered(address: ShellyAddress) -> bool:
    return address.shelly_id.lower() in REGISTERED


def kind_of(address: DeviceAddress) -> DeviceKind | None:
    match address:
        case ShellyAddress(shelly_id) if shelly_id.lower() in REGISTERED:
            return DeviceKind.SMOKE
    return None


def smoke_alarm(src: str | None) -> bytes:
    """A Plus Smoke's NotifyStatus as the firmware sends it (``src`` is the device id)."""
    message: dict[str, object] = {
        "dst": f"{SMOKE}/events",
        "method": "NotifyStatus",
        "params": {"ts": 1764669600.12, "smoke:0": {"id": 0, "alarm": True, "mute": False}},
    }
    if src is not None:
        message["src"] = src
    return json.dumps(message).encode()


@pytest.mark.parametrize(
    ("topic_id", "src", "speaks_for"),
    [
        (SMOKE, SMOKE, SMOKE),
        (SMOKE, SMOKE.upper(), SMOKE),  # the web UI's upper-case id: the same device
        (SMOKE, None, SMOKE),
        (SMOKE, "", SMOKE),
        (SMOKE, 42, SMOKE),
        # A device registered by its custom prefix (shellies/server-pm): its own id in src is
        # registered nowhere, and it speaks for the prefix's device.
        ("server-pm", "shellyplus1pm-a8032ab29be0", "server-pm"),
        # A prefix no device is registered by: src decides, as before prefixes were trusted
        # (a custom prefix registered by the device's id keeps working after an upgrade).
        ("rogue-prefix", SMOKE, SMOKE),
        # Nobody registered either: the edge refuses it as an unknown device, by its src.
        ("shellyplusi4-000000", "shellyplusi4-111111", "shellyplusi4-111111"),
    ],
)
def test_a_notification_speaks_for_the_device_its_prefix_names(
    topic_id: str, src: object, speaks_for: str
) -> None:
    assert rpc_sender(topic_id, src, registered) == ShellyAddress(speaks_for)


@pytest.mark.parametrize(
    ("topic_id", "src"),
    [
        (PLUG, SMOKE),  # a compromised plug raising the smoke detector's fire
        (PLUG, SMOKE.upper()),
        ("server-pm", PLUG),
    ],
)
def test_a_src_naming_another_registered_device_is_refused(topic_id: str, src: str) -> None:
    with pytest.raises(PayloadError) as refused:
        rpc_sender(topic_id, src, registered)
    assert refused.value.reason == "src_mismatch"
    assert src in str(refused.value)
    assert topic_id in str(refused.value)


def test_the_decoded_fire_is_the_topics_device_or_refused() -> None:
    genuine = decode_all(
        parse_device_topic(f"{SMOKE}/events/rpc"), smoke_alarm(SMOKE), kind_of=kind_of
    )
    assert [d.address for d in genuine] == [ShellyAddress(SMOKE)]
    (update,) = genuine[0].observations
    assert isinstance(update, StateUpdate)
    assert update.readings.smoke is True
    for topic in (f"{PLUG}/events/rpc", f"shellies/{PLUG}/events/rpc"):
        with pytest.raises(PayloadError) as refused:
            decode_all(parse_device_topic(topic), smoke_alarm(SMOKE), kind_of=kind_of)
        assert refused.value.reason == "src_mismatch"
    # Gen2's own id in src on its custom prefix, registered by the prefix: the prefix's device.
    custom = decode_all(
        parse_device_topic("shellies/server-pm/events/rpc"),
        smoke_alarm("shellyplus1pm-a8032ab29be0"),
        kind_of=kind_of,
    )
    assert [d.address for d in custom] == [ShellyAddress("server-pm")]
    # A custom prefix registered by the device's id (no device by the prefix): src decides.
    by_id = decode_all(
        parse_device_topic("home/smoke/events/rpc"), smoke_alarm(SMOKE), kind_of=kind_of
    )
    assert [d.address for d in by_id] == [ShellyAddress(SMOKE)]


def test_status_topics_and_gen1_carry_no_src_and_are_unchanged() -> None:
    status = parse_device_topic(f"{PLUG}/status/smoke:0")
    (decoded,) = decode_all(status, b'{"id": 0, "alarm": true}', kind_of=kind_of)
    assert decoded.address == ShellyAddress(PLUG)
    gen1 = parse_device_topic("shellies/shellysmoke-445566/sensor/smoke")
    (decoded,) = decode_all(gen1, b"true", kind_of=kind_of)
    assert decoded.address == ShellyAddress("shellysmoke-445566")
