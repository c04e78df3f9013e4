"""`linli broker revoke` clears the revoked edge's retained messages on the hub's broker
(docs/security.md, "Revoked edges' retained messages"), against a real Mosquitto running the
configuration `linli broker init` generates. What the hub makes of it:
``tests/security/test_revoked_edge_status.py``."""

import time

import pytest
from typer.testing import CliRunner

from devices.topics import EdgeChannel, edge_topic
from linli.cli import app as linli_app
from linli.trust.folder import BrokerFolder, write_private
from linli.trust.sweep import uplink_topics
from tests.security.brokers import QUIET, Probe, SecuredBroker, linli

pytestmark = [pytest.mark.mosquitto]

STATUS = edge_topic("gone", EdgeChannel.STATUS)
ALERT = edge_topic("gone", EdgeChannel.ALERT)


def _hub(broker: SecuredBroker) -> Probe:
    hub = broker.init["hub"]
    return broker.connect(hub["username"], hub["password"])


def _retained(broker: SecuredBroker, edge_id: str = "gone") -> list[tuple[str, bytes]]:
    """Return what a new subscriber to the edge's uplink is handed: its retained messages."""
    late = _hub(broker)
    try:
        assert late.subscribe(f"linli/edge/{edge_id}/#")
        time.sleep(QUIET)
        return late.snapshot()
    finally:
        late.close()


def _leave_retained(broker: SecuredBroker) -> None:
    """Issue edge ``gone``; leave a retained status and a retained alert, as a stolen edge
    could; disconnect."""
    issued = linli("broker", "add-edge", str(broker.folder), "gone")
    edge = broker.connect(issued["username"], issued["password"])
    assert edge.publish(STATUS, b'{"edge_id": "gone", "state": "online"}', retain=True)
    assert edge.publish(ALERT, b'{"forged": "fire"}', retain=True)
    edge.close()
    assert sorted(t for t, _ in _retained(broker)) == [ALERT, STATUS]


def _identities(broker: SecuredBroker) -> str:
    return (broker.folder / "acl").read_text() + (broker.folder / "passwd").read_text()


def test_revoke_clears_the_edges_retained_messages_and_withdraws_its_own_identity(
    hub_broker: SecuredBroker,
) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("linli/edge/+/status")
    _leave_retained(hub_broker)
    out = linli("broker", "revoke", str(hub_broker.folder), "gone")
    assert out == {"revoked": True, "id": "gone", "reloaded": True, "cleared": True}
    # A subscribed hub is told (an empty message: ``hub.ingest.messages.StatusCleared``)...
    hub.wait_for(STATUS, b"")
    # ...and nothing is handed to the next one.
    assert _retained(hub_broker) == []
    # The command's own identity lived only while it cleared.
    assert "sweep-edge-" not in _identities(hub_broker)
    assert "edge-gone" not in _identities(hub_broker)


def test_the_sweep_writes_only_the_revoked_edges_uplink() -> None:
    assert uplink_topics("gone") == [
        edge_topic("gone", c)
        for c in EdgeChannel
        if c in ("alert", "alerts", "telemetry", "status", "evidence", "access_sync", "access_log")
    ]


def test_revoke_over_tls_when_the_broker_has_no_loopback_listener(
    hub_broker: SecuredBroker,
) -> None:
    _leave_retained(hub_broker)
    # The broker keeps its listeners; the record says it has only TLS, so the sweep connects
    # as a broker of a TLS-only folder would: to its first --host name, verifying its name.
    folder = BrokerFolder(hub_broker.folder)
    record = folder.load()
    record.port = None
    write_private(folder.files.state, record.model_dump_json(indent=2))
    out = linli("broker", "revoke", str(hub_broker.folder), "gone")
    assert out["cleared"] is True
    assert _retained(hub_broker) == []


def test_revoke_without_a_running_broker_clears_nothing_and_says_run_it_again(
    hub_broker: SecuredBroker,
) -> None:
    _leave_retained(hub_broker)
    hub_broker.stop()
    result = CliRunner().invoke(linli_app, ["broker", "revoke", str(hub_broker.folder), "gone"])
    assert result.exit_code == 0, result.output
    assert '"cleared": false' in result.stdout
    assert "run this again once it runs" in result.stderr
    assert "sweep-edge-" not in _identities(hub_broker)

    # The broker comes back with what it persisted: the edge is cut off, its copies are not.
    hub_broker.start()
    assert sorted(t for t, _ in _retained(hub_broker)) == [ALERT, STATUS]
    again = linli("broker", "revoke", str(hub_broker.folder), "gone")
    assert again == {"revoked": False, "id": "gone", "reloaded": True, "cleared": True}
    assert _retained(hub_broker) == []


def test_a_cleared_copy_stays_cleared_when_the_broker_restarts(hub_broker: SecuredBroker) -> None:
    """Mosquitto autosaves its persistence file only every so often: revoke has it written at
    once, so a crash right after cannot bring the copies back."""
    _leave_retained(hub_broker)
    assert BrokerFolder(hub_broker.folder).persist()  # the copies are in the file now
    time.sleep(QUIET)
    assert linli("broker", "revoke", str(hub_broker.folder), "gone")["cleared"] is True
    time.sleep(QUIET)  # the broker writes its file between two turns of its loop
    assert hub_broker._proc is not None
    hub_broker._proc.kill()  # no clean shutdown: no save on the way out
    hub_broker._proc.wait(timeout=10)
    hub_broker._proc = None
    hub_broker.start()
    assert _retained(hub_broker) == []
