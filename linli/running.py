"""How a long-running ``linli`` program runs: alone on its data folder, until SIGINT or
SIGTERM, stopping cleanly, and with its long-lived heap frozen once it has started."""

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

PRIVATE_UMASK = 0o077
"""The hub's database (residents, care profiles, the audit trail), its evidence pictures and
anchor key, the edge's outbox and door log: readable by the program's user only. The systemd
units set the same (``UMask=0077``); run by hand, a hub created ``hub.sqlite3`` 0644 before."""
LOCK_FILE = ".lock"
"""The file in a data folder that the program using it holds locked (``data_folders_held``)."""
FOLDER_IN_USE_EXIT = 2
"""Exit code of a program refused because another one already uses its data folder."""
STOP_REPORT_AFTER = 5.0
"""Seconds after Ctrl-C after which a program still stopping logs what it is waiting for."""


def _awaiting(coro: object) -> str:
    """Return where a suspended coroutine waits, outermost first (``a -> b``: a awaits b)."""
    places: list[str] = []
    while coro is not None and len(places) < 12:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            places.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(places)


def _report_what_is_still_running() -> None:
    """Log every task not finished yet with where it waits, and cancel each of them again.

    A stop that hangs says why; and a cancellation some await swallowed (CPython 3.11's
    ``asyncio.wait_for`` racing a result, in a library or ours: see
    ``devices.mqtt_link.checkpoint``) is delivered a second time instead of hanging forever.
    """
    current = asyncio.current_task()
    waiting = [t for t in asyncio.all_tasks() if not t.done() and t is not current]
    lines = [f"  {t.get_name()}: {_awaiting(t.get_coro()) or '?'}" for t in waiting]
    logging.getLogger("linli").warning(
        "still stopping after %.0f s; %d tasks have not finished (cancelling them again):\n%s",
        STOP_REPORT_AFTER,
        len(waiting),
        "\n".join(lines),
    )
    for task in waiting:
        task.cancel()


def freeze_long_lived() -> None:
    """Take what the process has built so far out of the cyclic garbage collector's scans.

    A service's modules, app, ORM mappers, pydantic schemas and caches (about 200,000 objects
    in ``linli hub``) live as long as the process, yet every full collection walked them all:
    on the bench machine the hub stopped for 100 ms every 20 s or so, with the alerts that
    arrived meanwhile waiting (issue 17's paced p99). Frozen, a full collection walks only
    what was made since and takes about 3 ms. What is frozen is still freed by reference
    counting; only a cycle among frozen objects would stay, and these live to the end anyway.
    """
    gc.collect()
    gc.freeze()


async def _freeze_when(started: asyncio.Event) -> None:
    await started.wait()
    freeze_long_lived()


def run_until_signalled(
    main: Coroutine[Any, Any, None], *, started: asyncio.Event | None = None
) -> None:
    """Run ``main``; SIGINT or SIGTERM cancels it, so every part shuts down cleanly.

    The long-lived heap is frozen (``freeze_long_lived``) once ``main`` has ``started``, or,
    without such an event, before it runs (what ``main`` needs is built by then). What it
    writes is its user's alone (``PRIVATE_UMASK``).
    """
    os.umask(PRIVATE_UMASK)

    async def supervised() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            task.cancel()
            loop.call_later(STOP_REPORT_AFTER, _report_what_is_still_running)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            if started is None:
                freeze_long_lived()
            freezing = None if started is None else asyncio.create_task(_freeze_when(started))
            try:
                await main
            finally:
                if freezing is not None:
                    freezing.cancel()
        except asyncio.CancelledError:
            logging.getLogger("linli").info("stopped")

    asyncio.run(supervised())


def _lock_folder(folder: Path) -> int | None:
    """Lock ``folder``'s ``LOCK_FILE`` for this process; return its descriptor, or None if the
    folder cannot hold one (a read-only disk: the program runs, e.g. with its outbox in memory).

    Raises ``BlockingIOError`` if another process holds it.
    """
    return _lock(folder / LOCK_FILE, f"the data folder {folder}")


def _lock(lock_file: Path, what: str) -> int | None:
    """Lock ``lock_file`` for this process (``_lock_folder``); ``what`` it guards, for the
    warning when it cannot."""
    folder = lock_file.parent
    try:
        # Made its user's alone (``PRIVATE_UMASK``), as the program would have made it.
        for missing in [p for p in (folder, *folder.parents) if not p.exists()][::-1]:
            missing.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        logging.getLogger("linli").warning(
            "cannot lock %s (%s): a second copy on it would not be refused", what, exc
        )
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError as exc:  # a file system without locks (ENOLCK)
        os.close(fd)
        logging.getLogger("linli").warning(
            "cannot lock %s (%s): a second copy on it would not be refused", what, exc
        )
        return None
    # Who holds it, for the refusal of the next copy; the lock, not this number, is what counts.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _holder(lock_file: Path) -> str:
    try:
        pid = lock_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


def folder_made(folder: Path, what: str) -> None:
    """Make ``folder`` (and its parents, its user's alone), or exit 2 saying it cannot be:
    a hub with nowhere to keep its database, keys and evidence ended in a 280-line traceback
    from its lifespan (found by an outside review)."""
    try:
        for missing in [p for p in (folder, *folder.parents) if not p.exists()][::-1]:
            missing.mkdir(mode=0o700, exist_ok=True)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        sys.stderr.write(f"linli: cannot start: {what} {folder} cannot be made ({reason})\n")
        raise SystemExit(FOLDER_IN_USE_EXIT) from None


@contextlib.contextmanager
def data_folders_held(*folders: Path) -> Iterator[None]:
    """Hold each data folder's lock for the block, or exit 2 naming the folder and its holder.

    Two copies of a program on one folder (a systemd unit and one run by hand, a container
    restarted while the old one still runs, ``linli demo`` twice) would share its databases
    and its MQTT client ids: the broker disconnects each session when the other connects, so
    they take each other off the brokers in a loop and neither forwards alarms reliably. The
    lock is ``flock``'s: the kernel releases it when the holder exits, however it dies, so no
    stale lock file ever keeps a program from starting.
    """
    held: list[int] = []
    try:
        for folder in folders:
            try:
                fd = _lock_folder(folder)
            except BlockingIOError:
                sys.stderr.write(
                    f"linli: cannot start: the data folder {folder.resolve()} is in use by "
                    f"another linli program ({_holder(folder / LOCK_FILE)}); stop it first\n"
                )
                raise SystemExit(FOLDER_IN_USE_EXIT) from None
            if fd is not None:
                held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)


DATABASE_LOCK_SUFFIX = ".linli-hub-lock"
"""Beside a hub's SQLite file, the file the hub using it holds locked (``database_held``)."""


@contextlib.contextmanager
def database_held(sqlite_file: Path | None) -> Iterator[None]:
    """Hold the lock beside a hub's SQLite file for the block, or exit 2 naming the file and
    its holder; nothing for another database (None).

    Two hubs with their own data folders on one SQLite file (``--database-url`` given to both)
    would each take the edges' alerts into one file that has one writer, each running its own
    timers and live stream as if it were the only hub. Several hub workers share PostgreSQL
    (docs/scale.md), never SQLite. Not ``<file>.lock``: SQLite's dot-file locking uses that
    name.
    """
    if sqlite_file is None:
        yield
        return
    lock_file = sqlite_file.with_name(sqlite_file.name + DATABASE_LOCK_SUFFIX)
    try:
        fd = _lock(lock_file, f"the database {sqlite_file}")
    except BlockingIOError:
        sys.stderr.write(
            f"linli: cannot start: the database {sqlite_file.resolve()} is in use by another "
            f"linli hub ({_holder(lock_file)}); stop it first\n"
        )
        raise SystemExit(FOLDER_IN_USE_EXIT) from None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)
