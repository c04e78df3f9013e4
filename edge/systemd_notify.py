"""systemd's notify protocol: ``READY=1`` once started, ``WATCHDOG=1`` while the edge runs.

Under ``Type=notify`` and ``WatchdogSec=`` (``deploy/systemd/linli-edge.service``) systemd
passes ``NOTIFY_SOCKET`` (an AF_UNIX datagram socket; a leading ``@`` is Linux's abstract
namespace) and ``WATCHDOG_USEC``; a process that does not send ``WATCHDOG=1`` within that
long is killed and started again. The edge sends it only while every loop that must run
does (``edge.liveness``), so systemd restarts an edge whose ingest hangs. Each message is
one datagram (sd_notify(3)); no library needed. Outside systemd, nothing is sent.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import NoReturn

from devices.mqtt_link import checkpoint

logger = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends state changes to systemd's notify socket."""

    def __init__(self, address: str, watchdog_s: float | None) -> None:
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_s = watchdog_s
        """systemd's watchdog timeout (``WATCHDOG_USEC``), or None: no watchdog."""
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "SystemdNotifier | None":
        """Return the notifier systemd's environment asks for, or None outside systemd."""
        address = environ.get("NOTIFY_SOCKET", "")
        if not address:
            return None
        watchdog_s: float | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is for (not a child that inherited it).
        if usec and (not pid or pid == str(os.getpid())):
            try:
                watchdog_s = int(usec) / 1_000_000
            except ValueError:
                logger.error("WATCHDOG_USEC=%r is not a number: no watchdog pings", usec)
            else:
                if watchdog_s <= 0:
                    watchdog_s = None
        return cls(address, watchdog_s)

    def notify(self, state: str) -> bool:
        """Send one state (``READY=1``, ``WATCHDOG=1``); False if systemd could not be told."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # never hold the event loop for systemd
                sock.sendto(state.encode(), self._address)
        except OSError as exc:
            if not self._failed:
                logger.error("cannot tell systemd %s on its notify socket: %s", state, exc)
            self._failed = True
            return False
        if self._failed:
            logger.info("systemd's notify socket takes messages again")
        self._failed = False
        return True

    async def serve(self, alive: Callable[[], bool]) -> NoReturn:
        """Say ``READY=1``, then ``WATCHDOG=1`` twice per watchdog timeout while ``alive()``
        (sd_watchdog_enabled(3) asks for half); until cancelled."""
        self.notify("READY=1")
        while True:
            checkpoint()
            if self.watchdog_s is None:
                await asyncio.Event().wait()  # READY said: nothing more to say
            else:
                if alive():
                    self.notify("WATCHDOG=1")
                await asyncio.sleep(self.watchdog_s / 2)
