"""An HTTP server a test runs in a thread of its own (fake gateways, InfluxDB answers)."""

import contextlib
import socketserver
import threading
from collections.abc import Iterator
from typing import TypeVar

S = TypeVar("S", bound=socketserver.BaseServer)


@contextlib.contextmanager
def served_in_thread(server: S, *, poll_s: float = 0.05) -> Iterator[S]:
    """Serve ``server`` in a daemon thread for the block; then shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, args=(poll_s,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
