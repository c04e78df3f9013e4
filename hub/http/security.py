"""What every HTTP response of the hub carries, and what no request may exceed (issue 14).

``SecurityMiddleware`` (pure ASGI, so the live stream's SSE passes through unbuffered):

- a request body larger than ``max_request_bytes`` is answered 413 before a route reads it
  (by its ``Content-Length``, or counted as it arrives when it is sent chunked);
- every response gets ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy``
  and the cross-origin isolation headers; every HTML page also a strict
  ``Content-Security-Policy`` (only the hub's own scripts, styles, images and connections;
  no inline code unless a page names its exact hash, as the resident page does), except
  FastAPI's ``/docs`` and ``/redoc`` (signed-in callers only), whose pages start Swagger UI
  and ReDoc with an inline script of their own (their assets are the hub's, ``hub.http.docs``);
- every JSON answer that does not say otherwise also ``Cache-Control: no-store``: a
  household's requests and status, a case, a roster are personal data, and a shared phone's
  or console PC's browser cache, or a proxy, must not keep them.

HSTS is left to the TLS-terminating proxy in front of the hub.
"""

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs", "/redoc")

BASE_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def inline_hash(text: str) -> str:
    """Return the CSP source that allows exactly this inline script or style."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(
    *, script_hashes: Iterable[str] = (), style_hashes: Iterable[str] = ()
) -> str:
    """Return the strict policy, allowing only the given inline hashes beyond 'self'."""
    scripts = " ".join(["'self'", *script_hashes])
    styles = " ".join(["'self'", *style_hashes])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            f"style-src {styles}",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


STRICT_CSP = content_security_policy()

NO_STORE = "no-store"


def is_json(content_type: str) -> bool:
    """Return whether ``content_type`` is JSON (``application/json`` or a ``+json`` type)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def response_headers(path: str, content_type: str, present: Iterable[str]) -> dict[str, str]:
    """Return the headers to add to a response on ``path`` (those ``present`` are kept)."""
    have = {name.lower() for name in present}
    headers = {k: v for k, v in BASE_HEADERS.items() if k.lower() not in have}
    is_docs = any(path == p or path.startswith(f"{p}/") for p in DOCS_PATHS)
    if (
        content_type.startswith("text/html")
        and not is_docs
        and "content-security-policy" not in have
    ):
        headers["Content-Security-Policy"] = STRICT_CSP
    if is_json(content_type) and "cache-control" not in have:
        headers["Cache-Control"] = NO_STORE
    return headers


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = ('{"detail": "%s"}' % detail).encode()  # noqa: UP031 - a fixed ASCII message
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.lower().encode(), v.encode()) for k, v in BASE_HEADERS.items()]
    headers.append((b"cache-control", NO_STORE.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    """Body size limit and security headers, in front of every route."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        upload_paths: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.upload_paths = upload_paths
        """Paths that take uploads (residents' photos), with their own ceiling."""
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        uploading = self.upload_paths is not None and self.upload_paths.fullmatch(scope["path"])
        limit = self.max_upload_bytes if uploading else self.max_request_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "invalid Content-Length")
                return
            if int(declared) > limit:
                await _refuse(send, 413, f"the request is too large: at most {limit} bytes")
                return
        path: str = scope["path"]
        received = 0
        too_large = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The route's body parser turns any exception into its own 400, so the
                    # app sees the client go away, and its answer is replaced by a 413.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def secured_send(message: Message) -> None:
            nonlocal replaced
            if too_large:
                if not replaced:
                    replaced = True
                    await _refuse(send, 413, f"the request is too large: at most {limit} bytes")
                return
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = [k.decode("latin-1") for k, _ in raw]
                content_type = next(
                    (v.decode("latin-1") for k, v in raw if k.lower() == b"content-type"), ""
                )
                extra = response_headers(path, content_type, names)
                raw += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except Exception:
            # A route that read on after the disconnect fails: the 413 is the answer.
            if not too_large:
                raise
        if too_large and not replaced:
            await _refuse(send, 413, f"the request is too large: at most {limit} bytes")
