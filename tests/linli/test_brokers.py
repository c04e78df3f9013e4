"""The embedded demo broker starts even when the standard MQTT port is taken."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt

from linli.brokers import EmbeddedBroker, free_port, port_is_free


@contextmanager
def occupied(port: int) -> Iterator[None]:
    """Hold ``port`` on loopback, unless something else already does."""
    if not port_is_free(port):
        yield
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


async def test_embedded_broker_moves_off_a_taken_1883_and_serves_clients() -> None:
    with occupied(1883):
        broker = EmbeddedBroker()
        assert broker.port != 1883
        await broker.start()
        try:
            async with aiomqtt.Client("127.0.0.1", broker.port) as client:
                await client.subscribe("linli/test")
                await client.publish("linli/test", b"hello", qos=1)
                async for message in client.messages:
                    assert message.payload == b"hello"
                    break
        finally:
            await broker.stop()


def test_a_free_port_is_one_no_outgoing_connection_can_take() -> None:
    """Below the kernel's ephemeral range, where outgoing connections take their local ports:
    a port picked there stays free until the listener binds it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(20)]
    assert all(port < low and port_is_free(port) for port in ports)


def test_a_process_is_not_given_one_free_port_twice() -> None:
    """A port handed out and not bound yet still looks free: a NATS cluster takes twelve
    before it starts any node, and two of them once got the same one."""
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
