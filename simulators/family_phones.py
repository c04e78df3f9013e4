"""The sample families' phones: a local HTTP receiver standing in for the messaging gateway
that would text a care household's family (docs/residents.md, "Notices").

``linli demo`` runs one, so that the hub's copies to Grandma Zhao's daughter (her SOS, a
quiet day's wellbeing check, a notice) are delivered and shown in the demo's log instead of
failing against an address nobody listens on. Each POST is answered ``204``; its JSON body is
logged in a line and kept in ``received``. HTTP/1.1 as httpx speaks it: one request per
connection read up to its ``Content-Length``.
"""

import asyncio
import contextlib
import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

FAMILY_PHONES = "http://family-phones.invalid"
"""How a residents file names the families' phones in a contact's target
(``http://family-phones.invalid/zhao-min``); ``linli demo`` replaces it with the running
receiver's address (``simulators.residents.seed_residents``'s ``family_phones``)."""

MAX_BODY = 64 * 1024
"""A larger body is refused (413): a notice is a few hundred bytes."""


class FamilyPhones:
    """A local receiver of the hub's webhook copies, logging each as a family would read it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (on any free port by default); return the base URL to give the hub."""
        self._server = await asyncio.start_server(self._serve, host, port)
        bound_host, bound_port = self._server.sockets[0].getsockname()[:2]
        return f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                status = await self._take(reader)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            status = "400 Bad Request"
        with contextlib.suppress(ConnectionError):
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()

    async def _take(self, reader: asyncio.StreamReader) -> str:
        request_line = (await reader.readline()).decode("latin-1").split()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(request_line) < 2 or request_line[0] != "POST":
            return "405 Method Not Allowed"
        if not 0 <= length <= MAX_BODY:
            return "413 Content Too Large"
        body = await reader.readexactly(length)
        try:
            message = json.loads(body)
        except ValueError:
            return "400 Bad Request"
        if not isinstance(message, dict):
            return "400 Bad Request"
        self.received.append(message)
        logger.info("family phone %s: %s", request_line[1], summary(message))
        return "204 No Content"


def summary(message: dict[str, Any]) -> str:
    """One line of what a family member would read: a notice's title, else what happened to
    which case (``hub.cases.notify.CaseNotice``)."""
    if message.get("type") == "notice":
        return f"notice for {message.get('contact')}: {message.get('title')}"
    if "case_id" in message:
        kinds = ", ".join(str(k) for k in message.get("kinds") or ())
        return (
            f"{message.get('event')}: case {message.get('case_id')} ({kinds}) at "
            f"{message.get('place')}, {message.get('status')}"
        )
    return json.dumps(message, ensure_ascii=False)[:200]
