"""What Linli does with the paho client under aiomqtt, where aiomqtt has no API for it.

aiomqtt drives paho from the asyncio loop: paho calls back when its socket opens, closes, or
has something to write, and aiomqtt watches the socket for reading and writing. Linli reaches
under it in five places, all here:

- **manual acknowledgement** (``use_manual_ack``, ``ack``): aiomqtt 2.5 has no manual-ack API
  (aiomqtt issue #345) and paho acknowledges a QoS 1 message as soon as it has read it. The
  edge must acknowledge a device message only after the alerts it caused are committed to the
  outbox, so that a crash in between makes the broker redeliver it (persistent session). It is
  switched on BEFORE connecting: with a persistent session the broker sends queued messages
  right behind the CONNACK, possibly in the same socket read, before any code after
  ``async with client`` runs.
- **a publish nobody awaits** (``publish_queued``), for senders whose own protocol confirms
  delivery end to end.
- **a write now** (``write_now``), for a door's command.
- **the socket watches** (``watch_sockets``, which ``MqttEndpoint.client()`` applies to every
  client Linli builds). aiomqtt starts watching a socket a turn of the loop later
  (``call_soon_threadsafe(add_writer)``, also ``add_reader``) but stops at once. A watch that
  paho asked for and gave up within the same turn (a message written at once, a connection
  refused and closed) then started after it had been stopped, with nobody left to stop it: on
  a closed socket an error in the loop (``KeyError: '12 is not registered'``, then a bad file
  descriptor, seen in an edge whose hub was unreachable); on a socket still open an idle
  writer the loop called on every turn, at 100 % of a core, until paho next wrote (door
  answers 100-500 ms late, stop 44); and if the closed socket's number had already been
  given to another connection, that connection's watch replaced. So the watches start at
  once on the loop's own thread, and a start that must wait for the loop (paho connects in a
  worker thread) starts only if, by then, paho still wants it for that same socket.
- **the wait of every exchange** (``keep_cancellations``, also applied to every client).
  aiomqtt bounds each exchange (CONNACK, PUBACK, SUBACK) with ``asyncio.wait_for``, which on
  CPython 3.11 swallows a cancellation arriving in the same turn as the broker's answer: the
  caller carries on as if never cancelled, and a loop around it (a forwarder publishing in
  turn) with its task group above never stops. An edge's door-log forwarder, cancelled as a
  PUBACK came in, held a restarting agent up for ever (a CI run). The wait is
  ``asyncio.timeout`` instead, which delivers the cancellation.
"""

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiomqtt
import paho.mqtt.client as mqtt

T = TypeVar("T")


def keep_cancellations(client: aiomqtt.Client) -> None:
    """Make every exchange of ``client`` deliver a cancellation however it races the answer."""

    # aiomqtt passes ``timeout=`` by name.
    async def wait_for(answer: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109
        bound = client.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(None if bound == math.inf else bound):
                return await answer
        except TimeoutError:
            raise aiomqtt.MqttError("Operation timed out") from None

    client._wait_for = wait_for  # type: ignore[method-assign,assignment]


def use_manual_ack(client: aiomqtt.Client) -> None:
    """Make ``client`` leave every QoS 1 message unacknowledged until ``ack`` is called."""
    client._client.manual_ack_set(True)


def ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """Acknowledge a message received by a manual-ack client."""
    if message.qos > 0:
        # A failed PUBACK (connection gone) is harmless: the broker redelivers the message
        # and the committed state keeps it from being acted on twice.
        client._client.ack(message.mid, message.qos)


def publish_queued(client: aiomqtt.Client, topic: str, payload: str | bytes, qos: int) -> None:
    """Hand a message to the client's send queue without waiting for its PUBACK.

    For a sender whose own protocol confirms delivery end to end (the edge's outbox sends
    until the hub's ``AlertAck``): aiomqtt's ``publish`` spends a task and a future on
    every message to await a PUBACK that such a sender does not need. paho still sends the
    messages in the order given, and a connection that is gone raises ``MqttError``.
    """
    info = client._client.publish(topic, payload, qos)
    if info.rc != 0:  # MQTT_ERR_SUCCESS; paho queues what exceeds its in-flight window
        raise aiomqtt.MqttCodeError(info.rc, "could not publish the message")


def write_now(client: aiomqtt.Client) -> None:
    """Write what the client has queued to its socket now, not turns of the loop later.

    The loop watches the socket for writing, but its writer runs only after the loop has run
    everything else that is ready (e.g. the start of a group commit, whose thread then
    competes for the GIL): a message that must leave now (a door's command) is written here.
    The socket is non-blocking: what does not fit stays queued for the watch. An error is
    left to the watch too, which makes the same call and ends the connection on it, as
    aiomqtt does. Having written everything, paho stops the watch itself; on a client
    without ``watch_sockets`` that stop could come before aiomqtt's deferred start, so use
    this only on clients built by ``MqttEndpoint.client()``.
    """
    with contextlib.suppress(Exception):
        client._client.loop_write()


def watch_sockets(client: aiomqtt.Client) -> None:
    """Make paho's socket watches start and stop in order (module docstring), in place of
    aiomqtt's. Call before connecting; the client must be built inside its loop."""
    paho = client._client
    loop: asyncio.AbstractEventLoop = client._loop

    def broken(exc: Exception) -> None:
        # As aiomqtt: a failed read or write is a broken connection; end it.
        if not client._disconnected.done():
            client._disconnected.set_exception(exc)

    def read() -> None:
        try:
            while True:
                paho.loop_read()
                # loop_read does not always consume all decoded bytes of an SSL socket
                # (paho issue #131)
                pending = getattr(paho._sock, "pending", None)
                if pending is None or pending() <= 0:
                    break
        except Exception as exc:  # noqa: BLE001 - any failure ends the connection
            broken(exc)

    def write() -> None:
        try:
            paho.loop_write()
        except Exception as exc:  # noqa: BLE001 - any failure ends the connection
            broken(exc)

    def start_reading(sock: Any) -> None:
        fd = sock.fileno()
        if paho._sock is sock:
            loop.add_reader(fd, read)
        if client._misc_task is None or client._misc_task.done():
            client._misc_task = loop.create_task(client._misc_loop())

    def start_writing(sock: Any) -> None:
        fd = sock.fileno()
        if paho._sock is sock and paho._registered_write:
            loop.add_writer(fd, write)

    def on_open(_paho: mqtt.Client, _userdata: object, sock: Any) -> None:
        _on_loop_or_later(loop, start_reading, sock)

    def on_register_write(_paho: mqtt.Client, _userdata: object, sock: Any) -> None:
        _on_loop_or_later(loop, start_writing, sock)

    stop = paho.on_socket_close

    def on_close(paho_client: mqtt.Client, userdata: object, sock: Any) -> None:
        # A client dropped after its loop closed (garbage collected at shutdown, or a test's
        # after its loop ended) closes its socket in ``__del__``: aiomqtt's handler would
        # schedule on the closed loop and raise there. With the loop gone there is nothing
        # to stop watching.
        if not loop.is_closed() and stop is not None:
            stop(paho_client, userdata, sock)

    paho.on_socket_open = on_open
    paho.on_socket_register_write = on_register_write
    paho.on_socket_close = on_close
    # Stopping stays aiomqtt's: at once, from whichever thread paho stops in.


def _on_loop_or_later(
    loop: asyncio.AbstractEventLoop, start: Callable[[Any], None], sock: Any
) -> None:
    """Run ``start(sock)`` now on the loop's own thread, else as soon as the loop can."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        start(sock)
    else:
        loop.call_soon_threadsafe(start, sock)
