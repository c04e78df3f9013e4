"""`linli demo`: starts on embedded defaults, cases open by themselves, Ctrl-C stops it.

It prints an operator token that scripts can use at once; LINLI_DEMO_TOKEN fixes it.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from hub.roster.rules import Responder, on_call
from linli.brokers import free_port
from tests.e2e.stack import LinliProcess
from tests.polling import wait_until

ZONE = "Asia/Shanghai"  # the sample site's (simulators/sites/courtyard-roster.toml)


def test_demo_opens_cases_stops_cleanly_and_keeps_them(tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    args = [
        "demo",
        "--http-port", str(http_port),
        "--mqtt-port", str(mqtt_port),
        "--data-dir", str(tmp_path / "data"),
        "--speed", "60",
    ]  # fmt: skip
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}/api/v1", timeout=10) as api:
        _run_the_demo_twice(api, args, tmp_path)


def _run_the_demo_twice(api: httpx.Client, args: list[str], tmp_path: Path) -> None:
    demo = LinliProcess("demo", args, tmp_path / "demo.log")

    def printed_token() -> str | None:
        found = re.search(r"operator token: (lnl_\S+)", demo.log())
        return found.group(1) if found else None

    def cases() -> list[dict[str, object]]:
        try:
            response = api.get("/cases")
        except httpx.TransportError:
            return []
        return list(response.json()["items"]) if response.status_code == 200 else []

    demo.start()
    try:
        token = wait_until(printed_token, timeout=60, what="the demo to print its token")
        assert api.get("/cases").status_code == 401, "no anonymous access"
        api.headers["authorization"] = f"Bearer {token}"
        opened = wait_until(cases, timeout=120, what="the demo to open a case by itself")
        assert len(api.get("/devices").json()["items"]) >= 15
        # The sample roster is loaded: someone is on call for every kind of case, any hour.
        responders = {r["id"] for r in api.get("/responders").json()["items"]}
        assert responders == {"chen", "hu", "li", "sun", "wang", "zhang", "zhao"}
        assert all(c["team"] for c in opened), opened
        # The sample residents are seeded once, and their phone pages' links written down.
        links = tmp_path / "data" / "resident-links.txt"
        wait_until(links.exists, timeout=60, what="the demo to seed its residents")
        assert len(api.get("/requests").json()["items"]) == 3
        assert len(api.get("/care").json()["items"]) == 1

        # The two patrols' phones walk the courtyard and report through OwnTracks; the map
        # shows the one on shift (li by day, chen by night in Shanghai): where a responder is
        # off shift is nobody's business (docs/positions.md).
        roster = [Responder.model_validate(r) for r in api.get("/responders").json()["items"]]

        def patrols() -> tuple[set[str], set[str]]:
            shown = {p["responder_id"] for p in api.get("/positions").json()["items"]}
            now = datetime.now(UTC)
            working = {r.id for r in roster if r.id in {"chen", "li"} and on_call(r, now, ZONE)}
            return shown, working

        def the_one_on_shift() -> bool:
            shown, working = patrols()
            return shown & {"chen", "li"} == working and len(working) == 1

        wait_until(the_one_on_shift, timeout=60, what="the patrol on shift's phone")
        assert "patrol phone" not in demo.log(), demo.log()
        assert demo.stop() == 0, demo.log()
    finally:
        if demo.alive and demo.proc:
            demo.kill()  # and waited for: a Popen left running warns in the next test

    # Same data, no simulators, a fixed token: everything from before is still there, and
    # both the first run's token and the fixed one work.
    fixed = "lnl_fixed-demo-token-for-scripts-0123"
    quiet = LinliProcess(
        "demo",
        [*args[:-2], "--no-simulators"],
        tmp_path / "demo2.log",
        env={"LINLI_DEMO_TOKEN": fixed},
    )
    quiet.start()
    try:
        again = wait_until(cases, timeout=60, what="the restarted demo to serve its cases")
        assert {c["id"] for c in opened} <= {c["id"] for c in again}
        assert f"operator token: {fixed}" in quiet.log()
        me = api.get("/auth/me", headers={"authorization": f"Bearer {fixed}"})
        assert me.json()["role"] == "operator"
        assert quiet.stop() == 0, quiet.log()
    finally:
        if quiet.alive and quiet.proc:
            quiet.kill()
