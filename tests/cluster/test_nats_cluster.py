"""Linli through a 3-node NATS JetStream cluster's MQTT gateway, one node SIGKILLed under load.

The cluster runs the shipped ``deploy/nats/node.conf`` (tests/cluster/nats.py): mutual TLS on
its routes, TLS on its MQTT listener. The real hub (`linli hub`, its ingest, access and
evidence sessions) and simulated edges speaking the real uplink protocol
(``simulators.load``) connect over TLS and verify the nodes against the hub broker folder's CA
(``LINLI_HUB_MQTT_CA_FILE``, ``LoadTarget.ca_file``), every one with its own identity and the
permissions of ``deploy/nats``, spread over the three nodes and told the other two
(``MqttEndpoint.alternates``). Mid-run the node the hub is connected to
is SIGKILLed: the hub and a third of the edges reconnect through the survivors, the
sessions' state being replicated in JetStream, and every alert and access record must end
up stored exactly once, each acknowledged, none in two cases.
"""

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.load import LoadOptions, LoadResult, LoadTarget, check_hub, run_load
from simulators.load_mix import LoadPlan, fleet
from tests.cluster.nats import NatsCluster, hub_broker, nats_server
from tests.conftest import missing
from tests.e2e.stack import Stack
from tests.polling import wait_until
from tests.scale.whole import alerts_sent, assert_stored_whole_and_once

pytestmark = [pytest.mark.slow]

RUN = "nats"
PLAN = LoadPlan(
    edges=6,
    devices_per_edge=10,
    duration_s=16,
    incidents_per_device_h=900,
    clear_after_s=2,
    sos_per_button_h=900,
    passages_per_door_h=1800,
)
KILL_AFTER_S = 6.0
TERMINAL = {"resolved", "closed"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nats-server nodes on loopback, with the hub broker folder's identities."""
    if nats_server() is None:
        missing("nats-server")
    edge_ids = [e.id for e in fleet(PLAN, RUN)]
    broker = hub_broker(tmp_path / "hub-broker", edge_ids, tmp_path / "secrets")
    running = NatsCluster(tmp_path / "nats", broker)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_a_node_killed_under_load_loses_nothing_and_doubles_nothing(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    nodes = cluster.mqtt()
    secrets = tmp_path / "secrets"

    # The hub starts on node 1 and knows the other two.
    (tmp_path / "hub").mkdir()
    stack = Stack(tmp_path / "hub", [], f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    stack.hub.args[stack.hub.args.index("--mqtt") + 1] = f"127.0.0.1:{nodes[0][1]}"
    stack.hub.env.update(
        {
            "LINLI_HUB_MQTT_CREDENTIALS_FILE": str(secrets / "hub.json"),
            "LINLI_HUB_MQTT_CA_FILE": str(cluster.ca_file()),
            "LINLI_HUB_MQTT_ALTERNATES": ",".join(f"{h}:{p}" for h, p in nodes[1:]),
        }
    )
    try:
        stack.hub.start()
        stack.wait_for_hub()
        target = LoadTarget(
            *nodes[0],
            credentials_dir=secrets / "edges",
            ca_file=cluster.ca_file(),
            alternates=tuple(nodes[1:]),
            spread=True,
        )
        result = asyncio.run(_run_and_kill(cluster, target))
        tally = result.tally
        assert result.waiting == 0, f"{result.waiting} records never acknowledged"
        assert tally.total_acked == tally.total_sent
        assert result.reconnects > 0  # the kill did cut sessions

        wait_until(stack._hub_connected, what="the hub to be connected again")
        checked = check_hub(result, stack.api)
        assert alerts_sent(tally) > 50, tally.sent
        assert_stored_whole_and_once(checked, tally)
        # No incident has two cases open at once (a redelivered alert opening a second).
        cases = stack.get("/cases", limit=100_000)
        open_incidents = Counter(
            (c["kind"], c["place"] or ",".join(sorted(c["device_ids"])))
            for c in cases
            if c["status"] not in TERMINAL
        )
        assert [k for k, n in open_incidents.items() if n > 1] == []
    finally:
        stack.close()
        if os.environ.get("LINLI_KEEP_LOGS"):
            print(stack.hub.log()[-5000:])


async def _run_and_kill(cluster: NatsCluster, target: LoadTarget) -> LoadResult:
    async def kill_later() -> None:
        await asyncio.sleep(KILL_AFTER_S)
        await asyncio.to_thread(cluster.nodes[0].kill)

    killer: asyncio.Task[None] | None = None

    def started(_sims: object) -> None:
        nonlocal killer
        killer = asyncio.get_running_loop().create_task(kill_later())

    result = await run_load(
        PLAN,
        target,
        options=LoadOptions(resend_after_s=3, drain_s=90, run_id=RUN, connect_timeout_s=60),
        seed=17,
        on_started=started,
    )
    assert killer is not None
    assert killer.done()
    return result
