"""The anchor witness: the anchor this hub wrote last, kept in its data folder beside the
anchor key, outside the database (``hub.audit.anchors`` says what it catches).

Anchors live in the database they vouch for: someone who can write it rewrites the chain
from an entry, or cuts its end, and deletes the anchors from there on; the anchors left
check out, and the hub's next anchor signed the rewritten head (found by an outside review).
The witness names the last anchor: the hub signs no head whose chain lost it, and a check
with the data folder names the loss.
"""

import logging
import os
import tempfile
from pathlib import Path

from hub.audit.anchors import WITNESS_FILE, Anchor, key_id, parse_witness, witness_text

logger = logging.getLogger(__name__)


class WitnessUnreadableError(ValueError):
    """The witness file is there but names no anchor (edited, or cut short by a full disk)."""


def read_witness(data_dir: Path, key: bytes) -> Anchor | None:
    """Return the anchor this hub wrote last with ``key``; None if there is no witness file
    or it names another key's (a key changed: the next anchor replaces it)."""
    witness = _held(data_dir / WITNESS_FILE)
    return witness if witness is not None and witness.key_id == key_id(key) else None


def _held(path: Path) -> Anchor | None:
    """Return the anchor the witness file at ``path`` names, None if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return parse_witness(text)
    except ValueError as exc:
        raise WitnessUnreadableError(f"{path} cannot be read: {exc}") from exc


def write_witness(data_dir: Path, anchor: Anchor) -> None:
    """Name ``anchor`` (committed already) as the last one, unless the file names a later
    anchor of the same key (another worker's); replaced whole, readable by its owner only."""
    path = data_dir / WITNESS_FILE
    try:
        held = _held(path)
    except WitnessUnreadableError:
        logger.warning("replacing the unreadable audit anchor witness %s", path)
        held = None
    if held is not None and held.key_id == anchor.key_id and held.seq >= anchor.seq:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{WITNESS_FILE}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(witness_text(anchor) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
