"""The care watch of a hub process: every ``interval`` it checks the care households
(``CareRepository.watch``) and reports the cases it opened or changed on the one case-changed
path (``hub.cases.changes``)."""

import asyncio
import logging

from hub.care.repository import CareRepository
from hub.cases.changes import CaseChanges

logger = logging.getLogger(__name__)


class CareWatch:
    """Runs the care households' checks until cancelled."""

    def __init__(self, care: CareRepository, changes: CaseChanges, *, interval: float) -> None:
        self._care = care
        self._changes = changes
        self._interval = interval

    async def run_once(self) -> int:
        """Check every care household once; return how many cases were opened or changed."""
        changed = await asyncio.to_thread(self._care.watch)
        self._changes.cases_changed(changed, resident_sees=False)
        return len(changed)

    async def run(self) -> None:
        """Check every ``interval`` seconds; a failed round is logged and the next one runs."""
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("the care check failed; trying again next round")
            await asyncio.sleep(self._interval)
