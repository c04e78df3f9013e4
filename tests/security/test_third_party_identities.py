"""Tasmota and Shelly devices with identities of their own on a site broker, as `linli broker
add-tasmota|add-shelly-gen1|add-shelly-gen2` configure them: each publishes only under its own
topic, id or prefix, and reads only its own commands.

The payloads are the real ones of shared/realdata (tasmota_zigbee_and_sensors.json,
shelly_mqtt.json), published byte for byte.
"""

import time
from pathlib import Path

import pytest

from devices.topics import DeviceChannel, device_subscriptions, device_topic
from linli.trust.folder import BrokerFolder
from linli.trust.passwords import mosquitto_hash, new_password
from tests.conftest import realdata_records
from tests.security.brokers import ConnectRefusedError, Probe, SecuredBroker, linli
from tests.security.conftest import SITE_EDGE

pytestmark = [pytest.mark.mosquitto]

TASMOTA = "boiler"
OTHER_TASMOTA = "tasmota_E30562"
SHELLY_GEN1 = "shellysmoke-a1b2c3"
OTHER_GEN1 = "shellyflood-445566"
SHELLY_GEN2 = "shellyplusi4-c4d8d5a0b1c2"
OTHER_GEN2 = "shellyplusht-c049ef8bc088"


def _edge(broker: SecuredBroker) -> Probe:
    """The site's agent, subscribed to what the real agent subscribes to."""
    edge = broker.init["edge"]
    probe = broker.connect(edge["username"], edge["password"])
    for topic_filter in device_subscriptions():
        assert probe.subscribe(topic_filter), topic_filter
    return probe


def _add(broker: SecuredBroker, command: str, subject: str, *, client_id: str = "") -> Probe:
    issued = linli("broker", command, str(broker.folder), subject)
    return broker.connect(issued["username"], issued["password"], client_id=client_id)


def _real(realdata: Path, name: str, topic: str) -> bytes:
    """Return a realdata payload published on ``topic``."""
    raw: str = next(r for r in realdata_records(realdata, name) if r["topic"] == topic)[
        "payload_raw"
    ]
    return raw.encode()


FORGED_ELSEWHERE = [
    device_topic("smoke-1201", DeviceChannel.STATE),  # a native detector's fire
    device_topic("door-reader", DeviceChannel.SET),  # open a door
    "linli/dev/door-reader/credential",
    "zigbee2mqtt/sos-button",
    f"tele/{OTHER_TASMOTA}/SENSOR",
    f"tele/{OTHER_TASMOTA}/LWT",
    f"stat/{OTHER_TASMOTA}/RESULT",
    f"cmnd/{OTHER_TASMOTA}/POWER",
    f"shellies/{OTHER_GEN1}/sensor/flood",
    f"shellies/{OTHER_GEN1}/online",
    f"{OTHER_GEN2}/events/rpc",
    f"shellies/{OTHER_GEN2}/events/rpc",
    f"{OTHER_GEN2}/status/smoke:0",
    f"{OTHER_GEN2}/online",
    "linli/edge/site-a/alert",
]


def _only_barriers_arrived(edge: Probe) -> None:
    assert all(payload.startswith(b"barrier") for _, payload in edge.snapshot())


def test_a_tasmota_publishes_only_under_its_own_topic(
    site_broker_secured: SecuredBroker, realdata: Path
) -> None:
    edge = _edge(site_broker_secured)
    sensor = _real(realdata, "tasmota_zigbee_and_sensors.json", f"tele/{OTHER_TASMOTA}/SENSOR")
    tasmota = _add(site_broker_secured, "add-tasmota", TASMOTA, client_id=f"DVES_{OTHER_TASMOTA}")
    for topic in [
        *FORGED_ELSEWHERE,
        f"cmnd/{TASMOTA}/POWER",  # its own commands come from elsewhere
        "cmnd/tasmotas/POWER",  # and so do its group's
        "tasmota/discovery/A1B2C3D4E5F6/config",  # Home Assistant's discovery: nobody reads it
        f"{TASMOTA}/events/rpc",  # a Shelly Gen2+ of the same name
        f"shellies/{TASMOTA}/sensor/smoke",
    ]:
        assert not tasmota.publish(topic, sensor), topic
    own = [
        f"tele/{TASMOTA}/SENSOR",
        f"tele/{TASMOTA}/LWT",
        f"tele/{TASMOTA}/STATE",
        f"tele/{TASMOTA}/8F20/SENSOR",  # a Zigbee bridge's topic per device (SetOption89)
        f"stat/{TASMOTA}/RESULT",
        f"stat/{TASMOTA}/STATUS8",
    ]
    for n, topic in enumerate(own):
        assert tasmota.publish(topic, sensor), topic
        assert tasmota.publish(topic, f"barrier {n}"), topic
        edge.wait_for(topic, f"barrier {n}".encode())
    assert sorted(t for t, p in edge.snapshot() if p == sensor) == sorted(own)
    assert {t for t, _ in edge.snapshot()} == set(own)


def test_a_shelly_gen1_publishes_only_under_its_own_id(
    site_broker_secured: SecuredBroker, realdata: Path
) -> None:
    edge = _edge(site_broker_secured)
    shelly = _add(site_broker_secured, "add-shelly-gen1", SHELLY_GEN1, client_id=OTHER_GEN1)
    for topic in [
        *FORGED_ELSEWHERE,
        "shellies/command",  # the broadcast to every Shelly
        "shellies/announce",  # its answer to it: it may not speak for others there
        f"tele/{SHELLY_GEN1}/SENSOR",
        f"{SHELLY_GEN1}/events/rpc",
    ]:
        assert not shelly.publish(topic, b"true"), topic
    own = [
        f"shellies/{SHELLY_GEN1}/sensor/smoke",
        f"shellies/{SHELLY_GEN1}/sensor/battery",
        f"shellies/{SHELLY_GEN1}/online",
        f"shellies/{SHELLY_GEN1}/input_event/0",
        f"shellies/{SHELLY_GEN1}/input/0",
    ]
    for n, topic in enumerate(own):
        assert shelly.publish(topic, b"true"), topic
        assert shelly.publish(topic, f"barrier {n}"), topic
        edge.wait_for(topic, f"barrier {n}".encode())
    assert {t for t, _ in edge.snapshot()} == set(own)


@pytest.mark.parametrize("prefix", [SHELLY_GEN2, f"shellies/{SHELLY_GEN2}"])
def test_a_shelly_gen2_publishes_only_under_its_prefix(
    site_broker_secured: SecuredBroker, realdata: Path, prefix: str
) -> None:
    edge = _edge(site_broker_secured)
    notify = _real(realdata, "shelly_mqtt.json", f"shellies/{OTHER_GEN2}/events/rpc")
    shelly = _add(site_broker_secured, "add-shelly-gen2", prefix, client_id=OTHER_GEN2)
    for topic in [
        *FORGED_ELSEWHERE,
        f"{prefix}/rpc",  # its own RPC requests and commands come from elsewhere
        f"{prefix}/command",
        f"{prefix}/command/switch:0",
        f"{prefix}/status/smoke:0/x",
        f"{prefix}/events/rpc/x",
        f"shellies/{SHELLY_GEN2}/sensor/smoke",  # a Gen1's reading, under its prefix or not
        f"tele/{SHELLY_GEN2}/SENSOR",
        "shellies/command",
    ]:
        assert not shelly.publish(topic, notify), topic
    own = [
        f"{prefix}/events/rpc",
        f"{prefix}/status/smoke:0",
        f"{prefix}/online",
    ]
    for n, topic in enumerate(own):
        assert shelly.publish(topic, notify), topic
        assert shelly.publish(topic, f"barrier {n}"), topic
        edge.wait_for(topic, f"barrier {n}".encode())
    assert shelly.publish(f"{prefix}/debug/log", b"debug line")  # the edge ignores it
    assert {t for t, p in edge.snapshot() if p != b"debug line"} == set(own)


def _operator_tool(broker: SecuredBroker) -> Probe:
    """An account that may command every device, added to the generated files by hand: Linli
    issues none (the edge sends Tasmotas and Shellies no commands), but a site's own tool may
    (Home Assistant). Added after every ``linli broker`` command: each rewrites the files."""
    password = new_password()
    folder = BrokerFolder(broker.folder)
    with folder.files.passwords.open("a") as passwords:
        passwords.write(f"operator-tool:{mosquitto_hash(password)}\n")
    with folder.files.acl.open("a") as acl:
        acl.write("\nuser operator-tool\ntopic write #\n")
    assert folder.reload()
    for _ in range(50):  # Mosquitto handles the SIGHUP when it gets to it
        try:
            return broker.connect("operator-tool", password)
        except ConnectRefusedError:
            time.sleep(0.1)
    raise AssertionError("the operator's tool was never let in")


def test_tasmotas_and_shellies_read_only_their_own_commands(
    site_broker_secured: SecuredBroker,
) -> None:
    broker = site_broker_secured
    tasmota = _add(broker, "add-tasmota", TASMOTA)
    gen1 = _add(broker, "add-shelly-gen1", SHELLY_GEN1)
    gen2 = _add(broker, "add-shelly-gen2", SHELLY_GEN2)
    others = [
        _add(broker, "add-tasmota", OTHER_TASMOTA),
        _add(broker, "add-shelly-gen1", OTHER_GEN1),
        _add(broker, "add-shelly-gen2", OTHER_GEN2),
    ]
    for listener in (tasmota, gen1, gen2):
        for topic_filter in ("#", "cmnd/#", "shellies/#", "+/rpc", "+/command/#"):
            assert listener.subscribe(topic_filter)
    tool = _operator_tool(broker)
    # Other devices' readings and commands: none may reach the listeners.
    assert others[0].publish(f"tele/{OTHER_TASMOTA}/SENSOR", b'{"Water": 1}')
    assert others[1].publish(f"shellies/{OTHER_GEN1}/sensor/flood", b"true")
    assert others[2].publish(f"{OTHER_GEN2}/events/rpc", b'{"src": "x"}')
    for topic in [
        f"cmnd/{OTHER_TASMOTA}/POWER",
        f"shellies/{OTHER_GEN1}/relay/0/command",
        f"shellies/{OTHER_GEN1}/command",
        f"{OTHER_GEN2}/rpc",
        f"{OTHER_GEN2}/command/switch:0",
        device_topic("door-reader", DeviceChannel.SET),
        "zigbee2mqtt/sos-button/set",
    ]:
        assert tool.publish(topic, b"secret"), topic
    own = [
        (tasmota, [f"cmnd/{TASMOTA}/POWER", "cmnd/tasmotas/STATUS"]),
        (
            gen1,
            [
                "shellies/command",
                f"shellies/{SHELLY_GEN1}/command",
                f"shellies/{SHELLY_GEN1}/relay/0/command",
                f"shellies/{SHELLY_GEN1}/roller/0/command/pos",
            ],
        ),
        (gen2, [f"{SHELLY_GEN2}/rpc", f"{SHELLY_GEN2}/command", f"{SHELLY_GEN2}/command/switch:0"]),
    ]
    for _, topics in own:
        for topic in topics:
            assert tool.publish(topic, b"barrier"), topic
    for listener, topics in own:
        for topic in topics:
            listener.wait_for(topic, b"barrier")
        assert {t for t, _ in listener.snapshot()} == set(topics)
        assert all(payload == b"barrier" for _, payload in listener.snapshot())


def test_the_sites_edge_reads_every_device_but_commands_none(
    site_broker_secured: SecuredBroker,
) -> None:
    edge = _edge(site_broker_secured)
    tasmota = _add(site_broker_secured, "add-tasmota", TASMOTA)
    assert tasmota.subscribe(f"cmnd/{TASMOTA}/#")
    assert not edge.publish(f"cmnd/{TASMOTA}/POWER", b"OFF")
    assert not edge.publish("shellies/command", b"announce")
    assert not edge.publish(f"{SHELLY_GEN2}/rpc", b"{}")
    assert not edge.publish(f"tele/{TASMOTA}/SENSOR", b"{}")  # nor speaks for a device
    assert tasmota.publish(f"tele/{TASMOTA}/LWT", b"Online")
    edge.wait_for(f"tele/{TASMOTA}/LWT", b"Online")
    assert tasmota.snapshot() == []


def test_a_revoked_tasmota_or_shelly_is_cut_off(site_broker_secured: SecuredBroker) -> None:
    folder = str(site_broker_secured.folder)
    native = linli("broker", "add-device", folder, TASMOTA)
    for command, role, subject in [
        ("add-tasmota", "tasmota", TASMOTA),
        ("add-shelly-gen1", "shelly-gen1", SHELLY_GEN1),
        ("add-shelly-gen2", "shelly-gen2", f"shellies/{SHELLY_GEN2}"),
    ]:
        issued = linli("broker", command, folder, subject)
        device = site_broker_secured.connect(issued["username"], issued["password"])
        # Without --role, revoke means a native device's: not the Tasmota of the same name.
        assert linli("broker", "revoke", folder, subject, "--role", role)["revoked"] is True
        assert device.disconnected.wait(5)
        with pytest.raises(ConnectRefusedError):
            site_broker_secured.connect(issued["username"], issued["password"])
    still = site_broker_secured.connect(native["username"], native["password"])
    still.close()


def test_identities_cannot_be_bound_outside_their_device(
    site_broker_secured: SecuredBroker, hub_broker: SecuredBroker
) -> None:
    from typer.testing import CliRunner

    from linli.cli import app

    site, hub = str(site_broker_secured.folder), str(hub_broker.folder)
    refused = [
        ["add-tasmota", site, "a/b"],
        ["add-tasmota", site, "#"],
        ["add-shelly-gen1", site, "+"],
        ["add-shelly-gen2", site, "home/kitchen/plug"],  # the edge never reads it there
        ["add-shelly-gen2", site, "tele"],  # tele/status/SENSOR is a Tasmota's reading
        ["add-shelly-gen2", site, "zigbee2mqtt"],
        ["add-shelly-gen2", site, "linli"],
        ["add-shelly-gen2", site, "shellies"],
        ["add-shelly-gen2", site, "#"],
        ["add-tasmota", hub, "boiler"],  # the hub's broker has no devices
        ["revoke", hub, "boiler", "--role", "tasmota"],
        ["revoke", site, "a/b", "--role", "shelly-gen1"],
    ]
    for args in refused:
        result = CliRunner().invoke(app, ["broker", *args])
        assert result.exit_code == 2, (args, result.output)
    accounts = BrokerFolder(site_broker_secured.folder).load().accounts
    assert set(accounts) == {f"edge-{SITE_EDGE}", "zigbee2mqtt"}
