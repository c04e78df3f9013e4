"""Durable file writes, shared by the edge's evidence spool and the hub's picture stores.

A file is written under a temporary name beside its place, flushed and fsynced, then renamed
over its place: a reader (or a power cut) sees either no file or the whole of it, never a torn
one, and the caller may acknowledge or commit what names it as soon as this returns.
"""

import os
import threading
from pathlib import Path


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once and on disk before returning (OSError if not).

    The temporary name is hidden (it matches no ``*.json`` or ``*.jpg`` a folder is listed
    by) and carries the process and thread ids, so two writers of the same path — two
    processes, or two threads of one hub — never share one; the last rename wins whole. A
    write that fails leaves no temporary behind.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
