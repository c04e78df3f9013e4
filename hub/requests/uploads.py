"""A ceiling on the size of residents' uploads, before anything parses them.

FastAPI reads a multipart form to the end (spooling files to disk) before a route sees it,
so the route's per-photo limit alone would let a 2 GB upload fill the disk first. This ASGI
middleware refuses, with 413 and a message, a request to an upload path whose declared
``Content-Length`` is over the ceiling, and cuts off one that sends more than it declared
(or declared nothing). Other paths pass untouched.
"""

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hub.requests.photos import MAX_UPLOAD_BYTES
from hub.requests.rules import MAX_PHOTOS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = re.compile(
    r"/r/[^/]+/requests|/api/v1/requests/\d+/updates|/api/v1/gateway/messages"
)

MAX_UPLOAD_REQUEST = 2 * MAX_PHOTOS * MAX_UPLOAD_BYTES
"""Three photos of the largest size, base64-encoded if they come as JSON, and the text."""


class UploadTooLargeError(Exception):
    """The client sent more than the ceiling."""


class UploadLimit:
    """Refuse residents' uploads over ``max_bytes`` with 413, on ``UPLOAD_PATHS`` only."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_UPLOAD_REQUEST) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body on an upload path."""
        if scope["type"] != "http" or not UPLOAD_PATHS.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        too_large = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise UploadTooLargeError
            return message

        answered = False

        async def watched(message: Message) -> None:
            # The framework turns a failed body read into its own 400: answer 413 instead.
            nonlocal answered
            if too_large:
                if not answered:
                    answered = True
                    await self._refuse(send)
                return
            answered = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except UploadTooLargeError:
            if not answered:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mb = self.max_bytes // (1024 * 1024)
        body = json.dumps(
            {"detail": f"the upload is too large: at most {mb} MB (three photos and the text)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
