"""How every Linli process opens its MQTT connections."""

import socket

from aiomqtt.types import SocketOption

LOW_LATENCY: tuple[SocketOption, ...] = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""Socket options for every Linli MQTT client.

Neither paho nor aiomqtt disables Nagle's algorithm. MQTT sends many small packets (a
PUBACK, then the next PUBLISH), so Nagle holds the second until the broker's delayed TCP ACK
(up to 40 ms on Linux): measured here as 40-600 ms between an edge's decision and the hub.
"""
