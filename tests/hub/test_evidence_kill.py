"""A picture half-written when the hub is killed (kill -9 of a real writer process): the
sweep deletes what is left of it once it is old enough to be no write in progress."""

import os
import time
from datetime import timedelta

from hub.evidence.repository import EvidenceStore
from tests.edge.test_evidence_spool_kill import kill_mid_write
from tests.hub.factories import T0, alert_id
from tests.hub.test_evidence_store import JPEG, image


def test_the_sweep_deletes_a_picture_half_written_by_a_killed_hub(
    evidence: EvidenceStore,
) -> None:
    kept = image(alert=alert_id())
    evidence.store(kept, JPEG, T0)
    sha = "ab" * 32
    evidence.path_of(sha).parent.mkdir(parents=True, exist_ok=True)
    half = kill_mid_write(evidence.path_of(sha))

    # Younger than the grace: perhaps another worker's write in progress, kept.
    assert evidence.sweep(time.time() - timedelta(hours=1).total_seconds()) == 0
    assert half.exists()
    an_hour_ago = time.time() - 2 * 3600
    os.utime(half, (an_hour_ago, an_hour_ago))
    assert evidence.sweep(time.time() - timedelta(hours=1).total_seconds()) == 1
    assert not half.exists()
    assert evidence.path_of(kept.sha256).read_bytes() == JPEG
