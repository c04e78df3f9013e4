"""`linli broker revoke` on a site broker clears the revoked device's retained messages
(docs/security.md, "Revoked devices' retained messages"), against a real Mosquitto running
the configuration `linli broker init --site` generates: a device that left a retained
`{"smoke": true}` would otherwise raise that fire at an edge that lost its state, once it
subscribes. The hub broker's edges: ``tests/security/test_revoke_sweep.py``."""

import time

import pytest
from typer.testing import CliRunner

from linli.cli import app as linli_app
from linli.trust.acl import Access, Identity, Role, rules_for, sweeper_for
from tests.security.brokers import QUIET, SecuredBroker, linli

pytestmark = [pytest.mark.mosquitto]

SMOKE = b'{"smoke": true}'
FLOOD_SENSOR = "shellies/flood-1/sensor/flood"
FLOOD_INFO = "shellies/flood-1/info"
NATIVE_STATE = "linli/dev/smoke-1/state"
NATIVE_EVENT = "linli/dev/smoke-1/event"
OTHER_SENSOR = "shellies/flood-2/sensor/flood"


def _retained(broker: SecuredBroker, topic_filter: str) -> list[tuple[str, bytes]]:
    """Return what a new subscriber (the site's edge, reinstalled) is handed on
    ``topic_filter``: the retained messages there."""
    edge = broker.init["edge"]
    late = broker.connect(edge["username"], edge["password"])
    try:
        assert late.subscribe(topic_filter)
        time.sleep(QUIET)
        return sorted(late.snapshot())
    finally:
        late.close()


def _leave(broker: SecuredBroker, command: str, subject: str, *messages: tuple[str, bytes]) -> None:
    """Issue a device, have it leave ``messages`` retained, disconnect it."""
    issued = linli("broker", command, str(broker.folder), subject)
    device = broker.connect(issued["username"], issued["password"])
    for topic, payload in messages:
        assert device.publish(topic, payload, retain=True), topic
    device.close()


def _identities(broker: SecuredBroker) -> str:
    return (broker.folder / "acl").read_text() + (broker.folder / "passwd").read_text()


def test_revoking_a_shelly_gen1_clears_its_retained_messages_and_no_other_devices(
    site_broker_secured: SecuredBroker,
) -> None:
    broker = site_broker_secured
    _leave(broker, "add-shelly-gen1", "flood-1", (FLOOD_SENSOR, SMOKE), (FLOOD_INFO, b"{}"))
    _leave(broker, "add-shelly-gen1", "flood-2", (OTHER_SENSOR, SMOKE))
    assert [t for t, _ in _retained(broker, "shellies/#")] == [
        FLOOD_INFO,
        FLOOD_SENSOR,
        OTHER_SENSOR,
    ]
    out = linli("broker", "revoke", str(broker.folder), "flood-1", "--role", "shelly-gen1")
    # Nothing of the revoked device is handed to the next subscriber; the other's stays.
    assert _retained(broker, "shellies/#") == [(OTHER_SENSOR, SMOKE)]
    assert out == {"revoked": True, "id": "flood-1", "reloaded": True, "cleared": True}
    # The command's own identity lived only while it cleared.
    assert "sweep-" not in _identities(broker)
    assert "shelly-gen1-flood-1" not in _identities(broker)


def test_revoking_a_native_device_clears_its_retained_messages_and_no_other_devices(
    site_broker_secured: SecuredBroker,
) -> None:
    broker = site_broker_secured
    _leave(broker, "add-device", "smoke-1", (NATIVE_STATE, SMOKE), (NATIVE_EVENT, SMOKE))
    _leave(broker, "add-device", "smoke-2", ("linli/dev/smoke-2/state", SMOKE))
    out = linli("broker", "revoke", str(broker.folder), "smoke-1")
    assert _retained(broker, "linli/dev/#") == [("linli/dev/smoke-2/state", SMOKE)]
    assert out == {"revoked": True, "id": "smoke-1", "reloaded": True, "cleared": True}
    assert "sweep-" not in _identities(broker)


def test_revoking_a_device_without_a_running_broker_clears_nothing_and_says_run_it_again(
    site_broker_secured: SecuredBroker,
) -> None:
    broker = site_broker_secured
    _leave(broker, "add-device", "smoke-1", (NATIVE_STATE, SMOKE))
    broker.stop()
    result = CliRunner().invoke(linli_app, ["broker", "revoke", str(broker.folder), "smoke-1"])
    assert result.exit_code == 0, result.output
    assert '"cleared": false' in result.stdout
    assert "run this again once it runs" in result.stderr
    assert "sweep-" not in _identities(broker)

    broker.start()
    assert _retained(broker, "linli/dev/#") == [(NATIVE_STATE, SMOKE)]
    again = linli("broker", "revoke", str(broker.folder), "smoke-1")
    assert again == {"revoked": False, "id": "smoke-1", "reloaded": True, "cleared": True}
    assert _retained(broker, "linli/dev/#") == []


@pytest.mark.parametrize(
    ("role", "subject"),
    [
        (Role.DEVICE, "smoke-1"),
        (Role.TASMOTA, "tasmota_A1"),
        (Role.SHELLY_GEN1, "flood-1"),
        (Role.SHELLY_GEN2, "shellies/plus-1"),
    ],
)
def test_a_device_sweeper_reads_and_writes_exactly_what_the_device_may_write(
    role: Role, subject: str
) -> None:
    device = Identity(role, subject)
    sweeper = sweeper_for(device)
    assert sweeper.username == "sweep-" + device.username
    written = {r.topic for r in rules_for(device) if r.access is not Access.READ}
    assert {r.topic for r in rules_for(sweeper)} == written
    assert {r.access for r in rules_for(sweeper)} == {Access.READWRITE}
