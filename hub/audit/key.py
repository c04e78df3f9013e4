"""The audit chain's anchor key (``hub.audit.anchors``): from the settings, or a file in the
hub's data folder, made at the first anchor."""

import logging
import os
import secrets
from pathlib import Path

from hub.audit.anchors import ANCHOR_KEY_FILE
from hub.settings import HubSettings

logger = logging.getLogger(__name__)


def anchor_key(settings: HubSettings, *, make: bool) -> bytes | None:
    """Return the hub's anchor key: ``audit_key`` if set, else the data folder's key file,
    made now (mode 0600) if ``make`` and there is none; None if there is no key."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    path = settings.data_dir / ANCHOR_KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        if not make:
            return None
    return _made(path)


def _made(path: Path) -> bytes:
    """Write a new random key to ``path``, readable by its owner only; return the key that
    is there (another worker's, if one made it first)."""
    key = secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    logger.info("audit anchor key made in %s: keep a copy off this machine", path)
    return key
