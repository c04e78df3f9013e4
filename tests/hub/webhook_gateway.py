"""A real HTTP server on loopback standing in for a messaging gateway, shared by the tests of
case notifications and of notice copies: it fails its first ``failures`` requests, keeps the
JSON bodies of those it takes and, given the webhook secret, counts the badly signed ones."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hub.cases.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


class Gateway:
    """A real HTTP server on loopback that fails the first ``failures`` requests."""

    def __init__(
        self, failures: int = 0, *, path: str = "/page", secret: bytes | None = None
    ) -> None:
        self.failures = failures
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if secret is not None and not verify(
                    secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    self.headers.get(SIGNATURE_HEADER, ""),
                    body,
                    float(self.headers.get(TIMESTAMP_HEADER, "0")),
                ):
                    gateway.bad_signatures += 1
                if gateway.failures > 0:
                    gateway.failures -= 1
                    self.send_response(503)
                else:
                    gateway.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
