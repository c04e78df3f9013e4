"""Responders' phones in OwnTracks' MQTT mode, with identities from `linli broker add-phone`,
on the hub's broker as `linli broker init` configures it (a real Mosquitto, TLS): a phone
publishes only under its own responder's ``owntracks/<id>/`` and reads only its own remote
commands (none of the other phones' positions); a revoked one is cut off at once; the id must
be one topic level, and a site broker issues no phones.

The payloads are shaped as the apps send them (https://owntracks.org/booklet/tech/json/).
"""

import json

import pytest
from typer.testing import CliRunner

from devices.owntracks import owntracks_topic
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, edge_topic
from linli.cli import app as linli_app
from tests.hub.patrols import NIGHT_NOW, android_location
from tests.security.brokers import ConnectRefusedError, Probe, SecuredBroker, linli, phone

pytestmark = [pytest.mark.mosquitto]

NEAR, FAR = "patrol-near", "patrol-far"


def _hub(broker: SecuredBroker) -> Probe:
    hub = broker.init["hub"]
    return broker.connect(hub["username"], hub["password"])


def test_add_phone_prints_what_the_other_add_commands_print(hub_broker: SecuredBroker) -> None:
    issued = linli("broker", "add-phone", str(hub_broker.folder), NEAR)
    edge = linli("broker", "add-edge", str(hub_broker.folder), "e1")
    assert set(issued) == set(edge) == {"username", "password", "ca_file", "tls_port", "reloaded"}
    assert issued["username"] == f"phone-{NEAR}"
    assert (issued["ca_file"], issued["tls_port"], issued["reloaded"]) == (
        hub_broker.ca_file,
        hub_broker.tls_port,
        True,
    )


def test_a_phone_publishes_only_under_its_own_responder(hub_broker: SecuredBroker) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("owntracks/+/+")
    assert hub.subscribe("linli/edge/+/alert")
    near = phone(hub_broker, NEAR)
    forged = android_location(0, NIGHT_NOW)
    for topic in [
        owntracks_topic(FAR, "phone"),  # another responder's position
        f"{owntracks_topic(FAR, 'phone')}/event",
        f"{owntracks_topic(FAR, 'phone')}/cmd",
        f"owntracks/{NEAR}/phone",  # its responder id alone is not its username
        "owntracks/x",
        edge_topic("e1", EdgeChannel.ALERT),  # a fire
        edge_topic("e1", EdgeChannel.STATUS),
        edge_topic("e1", EdgeChannel.ACK),  # an acknowledgement
        edge_topic("e1", EdgeChannel.FEEDBACK),
        HUB_STATUS_TOPIC,
        "linli/hub/cases/c1",
        "linli/dev/b3-1201-smoke/state",
    ]:
        assert not near.publish(topic, forged), topic
    own = [
        owntracks_topic(NEAR, "phone"),
        owntracks_topic(NEAR, "tablet"),  # a second device of the same responder
    ]
    subtopics = ["event", "info", "waypoint", "waypoints", "status", "step", "cmd"]
    for subtopic in subtopics:  # published, and read by nobody here
        assert near.publish(f"{owntracks_topic(NEAR, 'phone')}/{subtopic}", b"{}"), subtopic
    for n, topic in enumerate(own):
        assert near.publish(topic, forged), topic
        assert near.publish(topic, f"barrier {n}"), topic
        hub.wait_for(topic, f"barrier {n}".encode())
    assert {t for t, _ in hub.snapshot()} == set(own)


def test_a_phone_reads_only_its_own_commands(hub_broker: SecuredBroker) -> None:
    issued = linli("broker", "add-phone", str(hub_broker.folder), NEAR)
    near = hub_broker.connect(issued["username"], issued["password"], client_id="near-phone")
    far = phone(hub_broker, FAR)
    # What the app subscribes to by default (friends' positions, events and cards, its own
    # commands), and more: the broker grants every SUBSCRIBE and checks each delivery.
    own, other = owntracks_topic(NEAR, "phone"), owntracks_topic(FAR, "phone")
    for topic_filter in ("owntracks/+/+", "owntracks/+/+/event", "owntracks/+/+/info",
                         f"{own}/cmd", "owntracks/#", "linli/#", "#"):  # fmt: skip
        assert near.subscribe(topic_filter), topic_filter
    for topic in (other, f"{other}/event", f"{other}/info", f"{other}/cmd"):
        assert far.publish(topic, android_location(0, NIGHT_NOW)), topic
    hub = _hub(hub_broker)
    assert hub.publish(HUB_STATUS_TOPIC, b"hub status")
    # Its own second device sends it a command: the barrier (one client's messages in order,
    # and each publish above was acknowledged, so routed, before this one was sent).
    tablet = hub_broker.connect(issued["username"], issued["password"], client_id="near-tablet")
    command = json.dumps({"_type": "cmd", "action": "reportLocation"}).encode()
    assert tablet.publish(f"{owntracks_topic(NEAR, 'phone')}/cmd", command)
    near.wait_for(f"{owntracks_topic(NEAR, 'phone')}/cmd", command)
    # (Once per subscription that matches it: Mosquitto delivers overlapping ones each.)
    assert set(near.snapshot()) == {(f"{owntracks_topic(NEAR, 'phone')}/cmd", command)}


def test_a_revoked_phone_is_cut_off_at_once(hub_broker: SecuredBroker) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("owntracks/+/+")
    issued = linli("broker", "add-phone", str(hub_broker.folder), NEAR)
    kept = phone(hub_broker, FAR)
    gone = hub_broker.connect(issued["username"], issued["password"])
    revoked = linli("broker", "revoke", str(hub_broker.folder), NEAR, "--role", "phone")
    assert revoked == {"revoked": True, "id": NEAR, "reloaded": True}
    assert gone.disconnected.wait(5), "a revoked phone stayed connected"
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect(issued["username"], issued["password"])
    assert kept.publish(owntracks_topic(FAR, "phone"), b"still here")
    hub.wait_for(owntracks_topic(FAR, "phone"), b"still here")
    # An edge of the same id is another identity: revoking it leaves no phone behind.
    assert linli("broker", "revoke", str(hub_broker.folder), FAR)["revoked"] is False
    assert linli("broker", "revoke", str(hub_broker.folder), NEAR, "--role", "phone") == {
        "revoked": False,
        "id": NEAR,
        "reloaded": True,
    }


@pytest.mark.parametrize("responder", ["a/b", "+", "#", "patrol/#", "a b", "", "-x"])
def test_a_responder_id_must_be_one_topic_level(hub_broker: SecuredBroker, responder: str) -> None:
    result = CliRunner().invoke(
        linli_app, ["broker", "add-phone", str(hub_broker.folder), responder]
    )
    assert result.exit_code == 2, result.output
    assert "phone-" not in hub_broker.folder.joinpath("acl").read_text()


def test_a_site_broker_issues_no_phones(site_broker_secured: SecuredBroker) -> None:
    folder = str(site_broker_secured.folder)
    result = CliRunner().invoke(linli_app, ["broker", "add-phone", folder, NEAR])
    assert result.exit_code == 2
    assert "a site broker does not take phone identities" in result.output
    result = CliRunner().invoke(linli_app, ["broker", "revoke", folder, NEAR, "--role", "phone"])
    assert result.exit_code == 2
    assert "owntracks" not in site_broker_secured.folder.joinpath("acl").read_text()
