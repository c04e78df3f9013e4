"""Running the ``linli`` command line as a user would: a child ``python -m linli``."""

import subprocess
import sys


def run_linli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``linli ARGS`` to completion (at most 120 s), feeding it ``stdin`` if given."""
    return subprocess.run(
        [sys.executable, "-m", "linli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
