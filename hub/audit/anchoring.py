"""Anchoring the audit chain while the hub runs (``hub.audit.anchors`` says why): the task
that signs the chain's head every ``audit_anchor_every_s``."""

import asyncio
import logging

from hub.audit.key import anchor_key
from hub.audit.repository import AuditRepository
from hub.persistence.transactions import Clock
from hub.settings import HubSettings

logger = logging.getLogger(__name__)


class AnchorWatch:
    """Signs the audit chain's head every ``interval`` seconds, until cancelled."""

    def __init__(
        self, audit: AuditRepository, settings: HubSettings, *, clock: Clock, interval: float
    ) -> None:
        self._audit = audit
        self._settings = settings
        self._clock = clock
        self._interval = interval

    def anchor_once(self) -> bool:
        """Anchor the head now if it moved since this key's last anchor; return whether."""
        key = anchor_key(self._settings, make=True)
        assert key is not None
        return self._audit.anchor(key, self._clock())

    async def run(self) -> None:
        """Anchor every ``interval`` seconds; a failed round is logged and the next one runs."""
        while True:
            try:
                await asyncio.to_thread(self.anchor_once)
            except Exception:
                logger.exception("anchoring the audit chain failed; trying again next round")
            await asyncio.sleep(self._interval)
