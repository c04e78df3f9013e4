"""Anchoring the audit chain while the hub runs (``hub.audit.anchors`` says why): the task
that signs the chain's head every ``audit_anchor_every_s``."""

import asyncio
import logging

from hub.audit.anchors import AnchorRefusedError
from hub.audit.key import anchor_key
from hub.audit.repository import AuditRepository
from hub.audit.witness import read_witness, write_witness
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
        """Anchor the head now if it moved since this key's last anchor; return whether.

        Raises ``AnchorRefusedError`` if the chain or the anchors lost what this hub anchored
        last (``hub.audit.witness``): signing that head would vouch for the rewrite.
        """
        key = anchor_key(self._settings, make=True)
        assert key is not None
        data_dir = self._settings.data_dir
        anchor = self._audit.anchor(key, self._clock(), witness=read_witness(data_dir, key))
        if anchor is None:
            return False
        write_witness(data_dir, anchor)  # after the commit: it never names an anchor not kept
        return True

    async def run(self) -> None:
        """Anchor every ``interval`` seconds; a failed round is logged and the next one runs."""
        while True:
            try:
                await asyncio.to_thread(self.anchor_once)
            except AnchorRefusedError as exc:
                # Every round, until someone looks: the trail was changed behind the hub.
                logger.error("not anchoring the audit chain: %s", exc)
            except Exception:
                logger.exception("anchoring the audit chain failed; trying again next round")
            await asyncio.sleep(self._interval)
