"""Ctrl-C stops a Linli program even when an await swallowed the cancellation.

CPython 3.11's ``asyncio.wait_for`` (inside aiomqtt, for every CONNACK, SUBACK and PUBACK)
returns a result that raced a cancellation and drops the cancellation. A task it happened to
then waited forever, and so did the whole program's stop: `linli demo` once hung on Ctrl-C
that way. After a few seconds of stopping, the program logs what it still waits for and
cancels it again.
"""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import asyncio, logging, sys
    import linli.running as running

    running.STOP_REPORT_AFTER = 0.5

    async def swallows_one_cancellation() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # what a racing wait_for does: the cancellation is gone
        print("swallowed", flush=True)
        await asyncio.Event().wait()  # and then it waits for ever

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(swallows_one_cancellation(), name="the-stubborn-one")
            print("ready", flush=True)

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    running.run_until_signalled(main())
    print("stopped cleanly", flush=True)
    """
)


def test_a_swallowed_cancellation_is_reported_and_delivered_again(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(PROGRAM)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.stdout.readline().strip() != "ready":
            pass
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "swallowed" in out  # the first cancellation really was lost
    assert "still stopping after" in out
    assert "the-stubborn-one: swallows_one_cancellation" in out  # where it waited, by name
    assert "stopped cleanly" in out
