"""`linli demo`: starts on embedded defaults, cases open by themselves, Ctrl-C stops it."""

from pathlib import Path

import httpx

from linli.brokers import free_port
from tests.e2e.stack import LinliProcess, wait_until


def test_demo_opens_cases_stops_cleanly_and_keeps_them(tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    args = [
        "demo",
        "--http-port", str(http_port),
        "--mqtt-port", str(mqtt_port),
        "--data-dir", str(tmp_path / "data"),
        "--speed", "60",
    ]  # fmt: skip
    demo = LinliProcess("demo", args, tmp_path / "demo.log")
    api = httpx.Client(base_url=f"http://127.0.0.1:{http_port}/api/v1", timeout=10)

    def cases() -> list[dict[str, object]]:
        try:
            response = api.get("/cases")
        except httpx.TransportError:
            return []
        return list(response.json()["items"]) if response.status_code == 200 else []

    demo.start()
    try:
        opened = wait_until(cases, timeout=120, what="the demo to open a case by itself")
        assert len(api.get("/devices").json()["items"]) >= 15
        assert demo.stop() == 0, demo.log()
    finally:
        if demo.alive and demo.proc:
            demo.proc.kill()

    # Same data, no simulators: everything from before is still there.
    quiet = LinliProcess("demo", [*args[:-2], "--no-simulators"], tmp_path / "demo2.log")
    quiet.start()
    try:
        again = wait_until(cases, timeout=60, what="the restarted demo to serve its cases")
        assert {c["id"] for c in opened} <= {c["id"] for c in again}
        assert quiet.stop() == 0, quiet.log()
    finally:
        if quiet.alive and quiet.proc:
            quiet.proc.kill()
    api.close()
