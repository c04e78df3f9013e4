"""`linli status --hub URL` where something other than a Linli hub answers says so, in one line.

raspberry-pi.md step 6 checks the chain with `linli status --hub http://hub.example.org:8080`.
An installer who gives the wrong port or host (a router's page, a reverse proxy's "it works",
Grafana) got a 200 with HTML, and `linli status` ended in a traceback (`JSONDecodeError`).
Now it exits 1 as for an unreachable hub: `linli status: ... is not a Linli hub's API ...`.
"""

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli import run_linli


@pytest.fixture
def not_a_hub(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server that answers the hub's API paths with a web page (200, HTML)."""
    api = tmp_path / "api" / "v1"
    api.mkdir(parents=True)
    for name in ("edges", "devices", "cases"):
        (api / name).write_text("<html><body>It works!</body></html>")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_status_against_something_that_is_not_a_hub_is_a_clear_error(not_a_hub: str) -> None:
    result = run_linli("status", "--hub", not_a_hub, "--token", "t")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"linli status: {not_a_hub}" in result.stderr, result.stderr
    assert "not a Linli hub's API" in result.stderr, result.stderr
