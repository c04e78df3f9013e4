"""A kept MQTT session (``devices.mqtt_link``) on a real Mosquitto: its backlog read whole,
and every wait bounded."""

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode

from devices.mqtt_link import ConsumingSession, MqttEndpoint, SessionMessages
from devices.mqtt_paho import publish_queued, write_now
from linli.brokers import MosquittoProcess

pytestmark = pytest.mark.mosquitto

TOPIC = "linli/test/kept"
BACKLOG = 5000


async def leave_backlog(port: int, client_id: str, count: int) -> None:
    """Leave a persistent session subscribed to ``TOPIC`` with ``count`` messages queued."""
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, clean_session=False) as c:
        await c.subscribe(TOPIC, qos=1)
    async with aiomqtt.Client("127.0.0.1", port) as publisher:
        for start in range(0, count, 100):
            batch = range(start, min(start + 100, count))
            await asyncio.gather(*(publisher.publish(TOPIC, str(n), qos=1) for n in batch))


async def serve(port: int, client_id: str, mqtt_timeout: float, expected: int) -> list[str]:
    """Come back to the session, subscribe, and read ``expected`` messages."""
    got: list[str] = []
    done = asyncio.Event()

    async def consume(messages: SessionMessages) -> None:
        async for message in messages:
            got.append(str(message.payload, "utf-8") if isinstance(message.payload, bytes) else "")
            if len(got) >= expected:
                done.set()

    client = aiomqtt.Client(
        "127.0.0.1", port, identifier=client_id, clean_session=False, timeout=mqtt_timeout
    )
    kept = ConsumingSession(client, [TOPIC], consume, timeout=mqtt_timeout, name="test")
    async with client, kept:
        if expected:
            async with asyncio.timeout(60):
                await done.wait()
    return got


async def test_a_kept_sessions_backlog_is_read_whole_and_in_order(
    site_broker: MosquittoProcess,
) -> None:
    # (The hub ingest's test, test_ingest_backlog.py, is the one where the SUBACK comes
    # behind a backlog long enough to matter: its handler is slow.)
    client_id = f"kept-{uuid.uuid4().hex[:8]}"
    await leave_backlog(site_broker.port, client_id, BACKLOG)
    got = await serve(site_broker.port, client_id, mqtt_timeout=0.2, expected=BACKLOG)
    assert got == [str(n) for n in range(BACKLOG)]


async def test_with_nothing_queued_the_suback_is_enough(
    site_broker: MosquittoProcess,
) -> None:
    assert await serve(site_broker.port, f"kept-{uuid.uuid4().hex[:8]}", 5.0, 0) == []


@pytest.fixture
def mute_broker() -> Iterator[int]:
    """A TCP server that accepts the MQTT CONNECT, answers CONNACK and then nothing at all."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(1024)  # CONNECT
                conn.sendall(bytes([0x20, 0x02, 0x00, 0x00]))  # CONNACK, accepted
                while not stop.is_set() and conn.recv(1024):
                    pass  # SUBSCRIBE and PINGREQ go unanswered

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


async def test_no_suback_and_no_message_gives_up_in_time(mute_broker: int) -> None:
    with pytest.raises(aiomqtt.MqttError, match=r"no SUBACK and no message within 0\.5 s"):
        async with asyncio.timeout(30):
            await serve(mute_broker, "kept-mute", mqtt_timeout=0.5, expected=0)


def test_an_endpoint_tries_a_clusters_nodes_in_turn() -> None:

    single = MqttEndpoint("a", 1)
    assert single.at(0) is single
    assert single.at(5) is single
    cluster = MqttEndpoint("a", 1, client_id="c", alternates=(("b", 2), ("c", 3)))
    tried = [(cluster.at(n).host, cluster.at(n).port) for n in range(4)]
    assert tried == [("a", 1), ("b", 2), ("c", 3), ("a", 1)]
    assert cluster.at(1).client_id == "c"


async def test_a_link_reconnects_through_the_next_node(mosquitto: MosquittoProcess) -> None:
    from devices.mqtt_link import MqttLink

    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there: the first attempt fails at once
    endpoint = MqttEndpoint(
        "127.0.0.1", dead_port, client_id="failover", alternates=(("127.0.0.1", mosquitto.port),)
    )
    reached = asyncio.Event()

    async def body(client: aiomqtt.Client) -> None:
        reached.set()
        await asyncio.Event().wait()

    link = MqttLink(endpoint, name="test", backoff=_NoDelay())
    task = asyncio.create_task(link.run(body))
    try:
        async with asyncio.timeout(30):
            await reached.wait()
    finally:
        task.cancel()
        await asyncio.wait({task})


class _NoDelay:
    def next_delay(self) -> float:
        return 0.0

    def reset(self) -> None:
        pass


def test_a_node_list_is_parsed_or_refused() -> None:
    from devices.mqtt_link import parse_alternates

    assert parse_alternates("") == ()
    assert parse_alternates("n2:8883, n3:8883") == (("n2", 8883), ("n3", 8883))
    for bad in ("n2", "n2:", ":8883", "n2:http", "n2:70000"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_alternates(bad)


def test_hub_and_edge_settings_carry_the_other_nodes() -> None:
    from edge.settings import EdgeSettings
    from hub.settings import HubSettings

    hub = HubSettings(mqtt_alternates="n2:1883,n3:1883").mqtt_endpoint("ingest")
    assert hub.alternates == (("n2", 1883), ("n3", 1883))
    assert HubSettings().mqtt_endpoint().alternates == ()
    edge = EdgeSettings(
        site_file=Path("site.toml"), edge_id="e1", hub_mqtt_alternates="n2:1883"
    ).hub_endpoint("e1")
    assert edge.alternates == (("n2", 1883),)
    with pytest.raises(ValueError, match="HOST:PORT"):
        HubSettings(mqtt_alternates="n2")


async def test_a_reader_whose_cancellation_was_swallowed_stops_at_its_next_message() -> None:
    """CPython 3.11's ``wait_for`` (aiomqtt's publish) can swallow a cancellation that races
    its result; the reader then asks for its next message, and must stop there rather than
    wait for ever on a quiet connection (this hung a hub's ingest in a CI run)."""
    handled = asyncio.Event()

    async def quiet_after_one() -> AsyncIterator[aiomqtt.Message]:
        yield aiomqtt.Message(TOPIC, b"1", qos=1, retain=False, mid=1, properties=None)
        await asyncio.Event().wait()  # then nothing, ever
        raise AssertionError("unreachable")

    async def reader(messages: SessionMessages) -> None:
        async for _message in messages:
            handled.set()
            # The acknowledgement's publish, swallowing the cancellation.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(reader(SessionMessages(quiet_after_one(), asyncio.Event())))
    await handled.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task}
    assert task.cancelled()


async def test_a_cancellation_racing_a_brokers_answer_is_not_swallowed() -> None:
    """Every exchange of a Linli client (publish, subscribe, connect) waits in aiomqtt's
    ``_wait_for``, which on CPython 3.11 (``asyncio.wait_for``) swallowed a cancellation
    arriving in the same turn as the broker's answer. A loop around such a call then never
    stopped, and nor did the task group above it: an edge's door-log forwarder, cancelled as a
    PUBACK came in, held a restarting agent up for ever (a CI run, stop 47)."""
    client = MqttEndpoint("127.0.0.1", 1, client_id="c").client()
    answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    exchange = asyncio.create_task(client._wait_for(answer, timeout=10))
    await asyncio.sleep(0)  # the exchange waits for the broker
    answer.set_result(None)  # the PUBACK arrives ...
    exchange.cancel()  # ... in the same turn as the agent's stop
    done, _ = await asyncio.wait({exchange}, timeout=5)
    assert done == {exchange}
    assert exchange.cancelled()


async def test_a_client_still_times_an_exchange_out() -> None:
    client = MqttEndpoint("127.0.0.1", 1, client_id="c").client()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(aiomqtt.MqttError, match="timed out"):
        await client._wait_for(never, timeout=0.05)


async def test_a_message_written_at_once_leaves_no_writer_spinning(
    mosquitto: MosquittoProcess,
) -> None:
    """``write_now`` (a door's command) puts the message on the socket in the same turn of
    the loop. aiomqtt starts the socket's write watch a turn later but stops it at once: with
    aiomqtt's own watches the start came after paho had already written and stopped asking,
    and the loop then called the writer on every turn, the socket always writable, until the
    next message: the edge's event loop at 100 % of a core, its database threads starved of
    the GIL, door answers 100-400 ms late on a 2-core machine (found with
    bench.access_decision). A client built by ``MqttEndpoint.client()`` starts its watches in
    order (``devices.mqtt_paho.watch_sockets``)."""
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as receiver:
        await receiver.subscribe("linli/test/now", qos=1)
        async with MqttEndpoint("127.0.0.1", mosquitto.port, persistent=False).client() as sender:
            paho = sender._client
            writes = 0
            loop_write = paho.loop_write

            def counted() -> MQTTErrorCode:
                nonlocal writes
                writes += 1
                return loop_write()

            paho.loop_write = counted  # type: ignore[method-assign]
            for n in range(3):
                publish_queued(sender, "linli/test/now", f"unlock {n}", qos=1)
                write_now(sender)
                async with asyncio.timeout(5):
                    message = await anext(aiter(receiver.messages))
                assert message.payload == f"unlock {n}".encode()
            await asyncio.sleep(0.3)  # the broker's PUBACKs read; nothing left to write
            writes_when_idle = writes
            await asyncio.sleep(0.3)
            assert writes - writes_when_idle == 0, "the idle socket's writer kept being called"


class LoopErrors:
    """What the loop's exception handler was given while installed (``with`` block)."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, object]] = []

    def __enter__(self) -> "LoopErrors":
        loop = asyncio.get_running_loop()
        self._old = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: self.contexts.append(context))
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.get_running_loop().set_exception_handler(self._old)


async def test_a_watch_asked_from_another_thread_for_a_socket_gone_by_then_never_starts(
    mosquitto: MosquittoProcess,
) -> None:
    """paho connects in a worker thread and asks for its watches from there; they start when
    the loop gets to them. A connection closed in between (a refused or broken connect: an
    edge whose hub is unreachable) left aiomqtt's deferred start to watch a closed
    descriptor (``KeyError: '12 is not registered'`` and a bad file descriptor in the loop's
    log), or, had the number gone to another connection by then, to replace that
    connection's watches with its own."""
    loop = asyncio.get_running_loop()
    async with MqttEndpoint("127.0.0.1", mosquitto.port, persistent=False).client() as client:
        paho = client._client
        live = paho.socket()
        assert live is not None
        watches = loop._selector.get_key(live.fileno())  # type: ignore[attr-defined]
        reader = watches.data[0]
        gone = socket.socket()
        gone.close()
        # Another connection's socket object, under the number the live one has now.
        reused = socket.socket(fileno=live.fileno())
        opened, wants_write = paho.on_socket_open, paho.on_socket_register_write
        assert opened is not None
        assert wants_write is not None
        try:
            with LoopErrors() as errors:
                for sock in (gone, reused):
                    await asyncio.to_thread(opened, paho, None, sock)
                    await asyncio.to_thread(wants_write, paho, None, sock)
                await asyncio.sleep(0.05)  # the loop has run every deferred start by now
        finally:
            reused.detach()  # the number is the live connection's: leave it open
        assert errors.contexts == []
        watches = loop._selector.get_key(live.fileno())  # type: ignore[attr-defined]
        assert watches.data[0] is reader, "the live connection's reader was replaced"
        assert watches.data[1] is None, "a writer started for a socket paho no longer holds"
        await client.publish("linli/test/still", b"alive", qos=1)  # the connection still works


def test_a_client_dropped_after_its_loop_closed_closes_its_socket_quietly(
    mosquitto: MosquittoProcess,
) -> None:
    """A client still connected when its loop ends (a process shutting down, a test whose loop
    closed first) closes its socket when it is garbage collected (paho's ``__del__``).
    aiomqtt's close handler then scheduled on the closed loop and raised: seen on CI as an
    unraisable exception in whichever test was tearing down at that moment."""
    loop = asyncio.new_event_loop()

    async def connected() -> aiomqtt.Client:
        client = MqttEndpoint("127.0.0.1", mosquitto.port, persistent=False).client()
        await client.__aenter__()
        return client

    client = loop.run_until_complete(connected())
    loop.close()
    client._client._reset_sockets()  # what paho's __del__ does; raised RuntimeError before
    assert client._client._sock is None
