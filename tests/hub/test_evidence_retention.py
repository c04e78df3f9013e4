"""Evidence retention at the hub: old pictures go, rows before files; open cases keep theirs."""

import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind
from hub.cases.rules import Resolution
from hub.evidence.link import EvidenceRetention
from hub.evidence.repository import DELETING_SUFFIX, EvidenceStore
from hub.persistence.evidence import EvidenceBlobRow, EvidenceRow
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, alert_id, make_alert, make_device
from tests.hub.test_evidence_store import CAMERA, JPEG, image

OLD = T0
DAY = timedelta(days=1)


def open_case(store: HubStore) -> tuple[str, int]:
    """Ingest a camera fire alert; return its id and the case it opened."""
    alert = make_alert(device_id=CAMERA, kind=AlertKind.CAMERA_FIRE)
    result = store.intake.ingest_alerts([alert], OLD)
    (case_id,) = {c.id for c in result.cases_opened}
    return alert.id, case_id


def stored_ids(engine: Engine) -> set[str]:
    """Return the ids of the picture rows."""
    with Session(engine) as session:
        return set(session.scalars(select(EvidenceRow.id)))


def assert_every_row_has_its_file(engine: Engine, evidence: EvidenceStore) -> None:
    """Fail if a blob row names a file that is not there."""
    with Session(engine) as session:
        for sha in session.scalars(select(EvidenceBlobRow.sha256)):
            assert evidence.path_of(sha).is_file(), sha


def test_old_pictures_go_and_those_of_unresolved_cases_stay(
    store: HubStore, evidence: EvidenceStore, engine: Engine
) -> None:
    store.fleet.register_device(make_device(CAMERA, kind=DeviceKind.CAMERA, location="Building 3"))
    open_alert, open_case_id = open_case(store)
    kept = evidence.store(image(alert=open_alert, jpeg=JPEG + b"1"), JPEG + b"1", OLD)
    orphan = evidence.store(image(alert=alert_id(), jpeg=JPEG + b"2"), JPEG + b"2", OLD)
    # Old and recent pictures with the same bytes: the file stays for the recent one.
    shared_old = evidence.store(image(alert=alert_id()), JPEG, OLD)
    shared_new = evidence.store(image(alert=alert_id()), JPEG, OLD + 40 * DAY)
    orphan_file = evidence.path_of(image(alert="x" * 16, jpeg=JPEG + b"2").sha256)
    assert orphan_file.is_file()

    result = evidence.prune(OLD + 30 * DAY, batch=1)  # batches of one: the loop goes on

    assert (result.pictures, result.blobs, result.files) == (2, 1, 1)
    assert stored_ids(engine) == {kept.id, shared_new.id}
    assert shared_old.id not in stored_ids(engine)
    assert orphan.id not in stored_ids(engine)
    assert not orphan_file.exists()
    assert not list(evidence.folder.rglob(f"*{DELETING_SUFFIX}"))
    assert_every_row_has_its_file(engine, evidence)

    # Once the case is resolved its pictures age out like the others.
    store.cases.resolve(open_case_id, "camera test", resolution=Resolution.TEST)
    assert evidence.prune(OLD + 30 * DAY).pictures == 1
    assert stored_ids(engine) == {shared_new.id}
    assert evidence.prune(OLD + 30 * DAY).pictures == 0
    assert_every_row_has_its_file(engine, evidence)
    assert len(list(evidence.folder.rglob("*.jpg"))) == 1


def test_the_sweep_deletes_only_old_unnamed_files_and_finishes_a_crashed_prune(
    evidence: EvidenceStore, engine: Engine
) -> None:
    named = image(alert=alert_id())
    evidence.store(named, JPEG, OLD)
    # A prune that crashed between rename and unlink, for a picture still named by a row.
    evidence.path_of(named.sha256).replace(evidence.path_of(named.sha256).with_suffix(".deleting"))
    # A prune that crashed after its commit: a file no row names, written long ago.
    stale = evidence.path_of("ab" + "0" * 62)
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(JPEG)
    # A store in progress: its file is written, its row not yet.
    fresh = evidence.path_of("cd" + "0" * 62)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(JPEG)
    hour_ago = fresh.stat().st_mtime - 3600
    for path in (stale, evidence.path_of(named.sha256).with_suffix(".deleting")):
        os.utime(path, (hour_ago - 60, hour_ago - 60))

    assert evidence.sweep(modified_before=hour_ago, batch=1) == 1  # batches of one

    assert not stale.exists()
    assert fresh.exists()
    assert evidence.path_of(named.sha256).read_bytes() == JPEG
    assert_every_row_has_its_file(engine, evidence)


def test_a_picture_stored_again_after_its_file_was_pruned_gets_its_file_back(
    evidence: EvidenceStore, engine: Engine
) -> None:
    first = image(alert=alert_id())
    evidence.store(first, JPEG, OLD)
    assert evidence.prune(OLD + DAY).files == 1
    again = image(alert=alert_id())
    assert evidence.store(again, JPEG, OLD + 2 * DAY).new
    assert evidence.get(again.id)[1].read_bytes() == JPEG
    assert_every_row_has_its_file(engine, evidence)


def test_retention_runs_by_the_clock_and_counts_what_it_deleted(
    evidence: EvidenceStore, tmp_path: Path
) -> None:
    clock = FakeClock(OLD)
    settings = HubSettings(data_dir=tmp_path, evidence_retention_days=7)
    retention = EvidenceRetention(settings, evidence, clock=clock)
    evidence.store(image(alert=alert_id()), JPEG, OLD)
    clock.advance(6 * 86400)
    assert retention.run_once().pictures == 0
    clock.advance(2 * 86400)
    assert retention.run_once().pictures == 1
    assert retention.counters["evidence_pruned"] == 1
    assert retention.counters["evidence_files_deleted"] == 1


class PruneDuringStore(EvidenceStore):
    """A store whose first file write is followed by a prune, as a racing retention would."""

    def __init__(self, engine: Engine, folder: Path, cutoff: datetime) -> None:
        super().__init__(engine, folder)
        self._cutoff = cutoff
        self.pruned: list[int] = []

    def _write_file(self, sha256: str, jpeg: bytes) -> None:
        super()._write_file(sha256, jpeg)
        if not self.pruned:
            self.pruned.append(self.prune(self._cutoff).files)


def test_a_prune_racing_a_store_of_the_same_bytes_leaves_the_file(
    evidence: EvidenceStore, engine: Engine
) -> None:
    evidence.store(image(alert=alert_id()), JPEG, OLD)
    racing = PruneDuringStore(engine, evidence.folder, OLD + DAY)
    again = image(alert=alert_id())
    # The store finds the file there; the prune then deletes the old rows and the file; the
    # store commits its rows: it must put the file back.
    assert racing.store(again, JPEG, OLD + 2 * DAY).new
    assert racing.pruned == [1]
    assert evidence.get(again.id)[1].read_bytes() == JPEG
    assert_every_row_has_its_file(engine, evidence)
