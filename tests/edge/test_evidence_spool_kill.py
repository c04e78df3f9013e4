"""A picture half-written when its writer is killed (kill -9 of a real process): the spool
deletes what is left of it at start; the hub's sweep does the same (tests/hub)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devices.kinds import AlertKind
from edge.camera.evidence import EvidenceSpool, stale_temporaries
from tests.edge.test_camera_evidence import images_of

WRITER = """
import sys
from pathlib import Path
from devices.durable import write_durably
data = b"0" * (16 * 1024 * 1024)
while True:
    write_durably(Path(sys.argv[1]), data)
"""


def kill_mid_write(path: Path) -> Path:
    """Run a process writing ``path`` durably over and over; kill -9 it while a write is
    under way; return the half-written temporary it left."""
    for _attempt in range(20):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=Path.cwd())
        try:
            deadline = time.monotonic() + 30  # a safety net only: the first write is quick
            while time.monotonic() < deadline:
                left = list(path.parent.glob(f".{path.name}.{writer.pid}.*.tmp"))
                if left:
                    os.kill(writer.pid, signal.SIGKILL)
                    writer.wait()
                    if left[0].exists():
                        return left[0]
                    break  # renamed just before the kill: again
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    raise AssertionError("never caught the writer mid-write")


def test_a_picture_half_written_by_a_killed_agent_is_deleted_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    spool = EvidenceSpool(folder)
    fire = images_of(AlertKind.CAMERA_FIRE, "f" * 16)
    for image in fire:
        spool.put(image)
    half = kill_mid_write(folder / "20261207134500000000-000003-camera_fire-0123.json")

    restarted = EvidenceSpool(folder)
    assert not half.exists(), "the half-written picture outlived the restart"
    assert [i.id for i in restarted.pending(10)] == [i.id for i in fire]


def test_only_other_processes_temporaries_are_stale() -> None:
    names = [
        ".a-1-camera_fire-x.json.111.222.tmp",
        ".a-1-camera_fire-y.json.333.444.tmp",
        "a-1-camera_fire-x.json",
        "a.tmp",
    ]
    assert stale_temporaries(names, 333) == [names[0]]
    # Opening, the spool writes nothing yet: every leftover is stale, its own pid's too (a
    # container's agent is pid 1 at every start).
    assert stale_temporaries(names, None) == names[:2]


def test_a_leftover_of_a_killed_predecessor_with_this_pid_is_deleted_too(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    mine = folder / f".20261207134500000000-000001-camera_fire-0123.json.{os.getpid()}.1.tmp"
    mine.write_bytes(b'{"half": ')
    EvidenceSpool(folder)
    assert not mine.exists()
