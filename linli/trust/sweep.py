"""Clear a revoked edge's retained messages from its running hub broker, or a revoked
device's from its running site broker (``linli broker revoke``; docs/security.md, "Revoked
edges' retained messages", "Revoked devices' retained messages").

An edge's status is retained (``online``, with its inventory), and so would be anything else
it chose to publish retained on its uplink. Revoking its identity cuts it off, but its
retained messages stay: the broker hands them to the hub at every (re)subscription, and its
last will is never published. So ``revoke`` publishes an empty retained message on each of
the edge's uplink topics, which removes the broker's copy and tells the hub, which is
subscribed, that the edge's status was withdrawn (``hub.ingest.messages.StatusCleared``).

Only the edge itself may write those topics, and the folder holds no password, only hashes:
the command issues itself a one-off identity (``Role.SWEEPER``: that edge's uplink, write
only), reloads the broker, clears, has the broker write its persistence file, and withdraws
the identity again. Its password lives in this process only.

A device's topics are no fixed list (a Shelly Gen1 writes anything under ``shellies/<id>/``,
a Tasmota under ``tele/<topic>/`` and ``stat/<topic>/``): its sweeper may read and write
exactly what the device may write (``linli.trust.acl``). It subscribes there, takes the
topics of the retained messages the broker hands it until nothing more comes for a moment
(the broker sends them right after its SUBACK; the device is cut off, and nobody else may
write there), and clears each. Other devices' messages are out of its reach.
"""

import asyncio
import logging
import time
import uuid

import aiomqtt

from devices.mqtt_link import MqttEndpoint
from devices.topics import EdgeChannel, Sender, edge_channel_sender, edge_topic
from linli.trust.acl import Identity, Role, rules_for
from linli.trust.folder import BrokerFolder

logger = logging.getLogger(__name__)

SWEEP_TIMEOUT_S = 10.0
"""How long clearing may take in all, the broker's reload included."""

_RETRY_S = 0.1

QUIET_S = 0.5
"""How long after the last retained message (or the SUBACK) a device's sweep stops looking."""


def uplink_topics(edge_id: str) -> list[str]:
    """Return the topics only ``edge_id`` writes: where its retained messages can be."""
    return [edge_topic(edge_id, c) for c in EdgeChannel if edge_channel_sender(c) is Sender.EDGE]


def sweep_endpoint(broker: BrokerFolder, username: str, password: str) -> MqttEndpoint:
    """Return how the sweep connects: the loopback listener if the broker has one, else its TLS
    listener under its first ``--host`` name (which must reach it from this box)."""
    record = broker.load()
    host, port, ca = "127.0.0.1", record.port, None
    if port is None:
        host, port, ca = record.hosts[0], record.tls_port, broker.files.ca_cert
    return MqttEndpoint(
        host=host,
        port=port,
        client_id=f"linli-broker-sweep-{uuid.uuid4().hex[:12]}",
        persistent=False,
        timeout_s=SWEEP_TIMEOUT_S / 2,
        username=username,
        password=password,
        tls_ca=ca,
    )


async def _retained_topics(client: aiomqtt.Client, filters: list[str], deadline: float) -> set[str]:
    """Subscribe to ``filters``; return the topics the broker hands over a retained message
    on, once nothing more came for ``QUIET_S``."""
    for topic_filter in filters:
        await client.subscribe(topic_filter, qos=0)
    found: set[str] = set()
    messages = aiter(client.messages)
    while time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(anext(messages), QUIET_S)
        except TimeoutError:
            break
        if message.retain and message.payload:
            found.add(str(message.topic))
    for topic_filter in filters:
        await client.unsubscribe(topic_filter)
    return found


async def _clear(
    endpoint: MqttEndpoint, topics: list[str], filters: list[str], deadline: float
) -> None:
    """Clear ``topics``, and the retained messages found under ``filters``."""
    while True:
        try:
            async with endpoint.client() as client:
                found = await _retained_topics(client, filters, deadline) if filters else set()
                for topic in [*topics, *sorted(found)]:
                    await client.publish(topic, b"", qos=1, retain=True)
                return
        except aiomqtt.MqttError:
            # Mosquitto takes the reload between two turns of its loop: until then it does
            # not know the identity yet.
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(_RETRY_S)


def clear_retained(broker: BrokerFolder, swept: Identity) -> bool:
    """Clear the retained messages of ``swept``, an edge (its uplink, on its running hub
    broker) or a device (whatever it wrote, on its running site broker); return whether they
    were (False: no broker running, or it could not be reached, logged)."""
    sweeper, password = broker.open_sweep(swept)
    try:
        if not broker.reload():
            return False
        endpoint = sweep_endpoint(broker, sweeper.username, password)
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        if swept.role is Role.EDGE:
            topics, filters = uplink_topics(swept.subject), []
        else:
            topics, filters = [], [rule.topic for rule in rules_for(sweeper)]
        try:
            asyncio.run(_clear(endpoint, topics, filters, deadline))
        except (aiomqtt.MqttError, OSError) as exc:
            logger.warning("could not clear the retained messages of %s: %s", swept.username, exc)
            return False
        broker.persist()
        return True
    finally:
        broker.close_sweep(sweeper)
        broker.reload()
