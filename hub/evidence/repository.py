"""The repository of camera evidence: pictures on disk by SHA-256, their rows in the database.

A picture's bytes are written once, to ``<evidence_dir>/<sha[:2]>/<sha>.jpg`` (temporary file,
fsync, rename), before the rows that name them are committed; storing the same evidence id
again, or other evidence with the same bytes, changes nothing. So a re-sent picture is a
duplicate, acknowledged again, and a crash between file and commit leaves at most an
unreferenced file that the next copy reuses. Other bytes, or another edge, under the id of a
stored picture are refused (``id_reused``) before anything is written.

Retention (``prune``): pictures received before a cut-off are deleted, except those whose
alert belongs to a case that is not resolved or closed. Rows go first, in one transaction
(the picture rows, then the blob rows no picture names any more); the files after the commit.
So a crash leaves at most a file without a row (``sweep`` removes those), never a row naming
a missing file. A file is deleted by renaming it aside, checking that no blob row came back
for its hash meanwhile (the same bytes stored again by a racing ``store``), and only then
unlinking it; ``store`` in turn re-checks its file after its commit and writes it again if a
prune took it away in between.

A picture belongs to its alert only if both came from the same edge. The broker and the
reader already bind a picture to the edge whose topic it came on; an edge's picture naming
another edge's alert is refused when the alert is already in (``EvidenceRefusedError``) and, when
it arrived first, never joined to that alert when read (it stays placed by its own camera). A
picture naming a camera an operator registered to another edge is refused too
(``hub.evidence.identity``): it would be placed on that camera, in that camera's site.
"""

import hashlib
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select

from devices.camera import EvidenceImage
from devices.durable import write_durably
from hub.cases.rules import CaseStatus
from hub.errors import NotFoundError
from hub.evidence.identity import picture_claim
from hub.fleet.claims import Registration
from hub.http.views import View
from hub.persistence.evidence import EvidenceBlobRow, EvidenceRow
from hub.persistence.tables import AlertRow, CaseRow, DeviceRow
from hub.persistence.transactions import Database, upsert_insert

logger = logging.getLogger(__name__)

EVIDENCE_URL = "/api/v1/evidence/{id}"
PRUNE_BATCH = 500
"""Pictures deleted per transaction: short transactions, never a long lock on the tables."""
TEMPORARY_SUFFIX = ".tmp"
"""A picture being written (``devices.durable.write_durably``); left behind only by a kill."""
DELETING_SUFFIX = ".deleting"
"""A file being deleted by ``prune``: renamed aside until no row is known to name it."""
_CASE_DONE = (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)


class EvidenceView(View):
    """One evidence picture as the API lists it."""

    id: str
    alert_id: str
    case_id: int | None
    edge_id: str
    device_id: str
    kind: str
    variant: str
    ts: datetime
    sha256: str
    size: int
    content_type: str
    received_at: datetime
    url: str


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one retention run deleted: picture rows, blob rows and files."""

    pictures: int
    blobs: int
    files: int


class EvidenceRefusedError(Exception):
    """A well-formed picture the hub will not keep (``reason`` is its counter's name)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class StoredEvidence:
    """What storing one picture did: ``new`` is False for a duplicate."""

    id: str
    new: bool


class EvidenceStore:
    """Camera evidence in the hub's database and under ``folder``."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._db = Database(engine)
        self.folder = folder

    def path_of(self, sha256: str) -> Path:
        """Return where the picture with this hash is kept."""
        return self.folder / sha256[:2] / f"{sha256}.jpg"

    def store(self, image: EvidenceImage, jpeg: bytes, received_at: datetime) -> StoredEvidence:
        """Keep a picture whose bytes the caller has decoded and checked against its hash."""
        if hashlib.sha256(jpeg).hexdigest() != image.sha256:
            raise ValueError(f"evidence {image.id}: bytes do not match sha256 {image.sha256}")
        with self._db.reading() as session:
            alert = select(AlertRow.edge_id).where(AlertRow.id == image.alert_id)
            alert_edge = session.scalar(alert)
            camera = session.get(DeviceRow, image.device_id)
            held = session.get(EvidenceRow, image.id)
            held_as = None if held is None else (held.edge_id, held.sha256)
            registration = (
                None if camera is None else Registration.of(camera.edge_id, camera.registered_by)
            )
        if alert_edge is not None and alert_edge != image.edge_id:
            raise EvidenceRefusedError(
                "alert_of_other_edge", f"alert {image.alert_id} came from edge {alert_edge!r}"
            )
        if held_as is not None and held_as != (image.edge_id, image.sha256):
            # Not a re-send: other bytes (or another edge) under a stored picture's id. Written,
            # they were a file and a blob row no picture names, which neither retention nor the
            # quota ever counted (the reader checks no room for an id it holds): a stolen edge
            # re-using one id filled the hub's disk.
            raise EvidenceRefusedError(
                "id_reused", f"evidence {image.id} is stored already with other bytes or edge"
            )
        claim = picture_claim(image.edge_id, image.device_id, registration)
        if claim is not None:
            raise EvidenceRefusedError(
                claim.value, f"camera {image.device_id} is not edge {image.edge_id}'s"
            )
        self._write_file(image.sha256, jpeg)
        with self._db.writing() as session:
            session.execute(
                upsert_insert(session, EvidenceBlobRow)
                .values(
                    sha256=image.sha256,
                    size=len(jpeg),
                    content_type=image.content_type,
                    stored_at=received_at,
                )
                .on_conflict_do_nothing()
            )
            inserted = session.execute(
                upsert_insert(session, EvidenceRow)
                .values(
                    id=image.id,
                    alert_id=image.alert_id,
                    edge_id=image.edge_id,
                    device_id=image.device_id,
                    kind=image.kind.value,
                    variant=image.variant.value,
                    ts=image.ts,
                    sha256=image.sha256,
                    received_at=received_at,
                    size=len(jpeg),
                )
                .on_conflict_do_nothing()
                .returning(EvidenceRow.id)
            ).first()
        # A prune may have taken the file away between the write above and the commit
        # (it deleted the old rows of the same bytes): the committed row must name a file.
        self._write_file(image.sha256, jpeg)
        return StoredEvidence(image.id, inserted is not None)

    def holds(self, evidence_id: str) -> bool:
        """Return whether the picture with this id is stored already."""
        with self._db.reading() as session:
            return session.get(EvidenceRow, evidence_id) is not None

    def held_bytes(self, edge_id: str) -> int:
        """Return the bytes of the pictures an edge holds, each picture counted (its quota)."""
        with self._db.reading() as session:
            held = session.scalar(
                select(func.coalesce(func.sum(EvidenceRow.size), 0)).where(
                    EvidenceRow.edge_id == edge_id
                )
            )
        return int(held or 0)

    def usage(self) -> dict[str, int]:
        """Return the bytes each edge's pictures hold, by edge (edges without any left out)."""
        with self._db.reading() as session:
            rows = session.execute(
                select(EvidenceRow.edge_id, func.sum(EvidenceRow.size)).group_by(
                    EvidenceRow.edge_id
                )
            ).all()
        return {edge_id: int(held) for edge_id, held in rows}

    def free_disk_bytes(self) -> int:
        """Return the free bytes on the disk the pictures are written to."""
        folder = self.folder
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # before the first picture, its folder's first existing parent
        return shutil.disk_usage(folder).free

    def prune(self, received_before: datetime, batch: int = PRUNE_BATCH) -> "PruneResult":
        """Delete the pictures received before a cut-off, except those of unresolved cases."""
        pictures = blobs = files = 0
        while True:
            deleted_rows, deleted_blobs = self._delete_rows(received_before, batch)
            pictures += deleted_rows
            blobs += len(deleted_blobs)
            files += sum(self._delete_file(sha) for sha in deleted_blobs)
            if deleted_rows < batch:
                return PruneResult(pictures, blobs, files)

    def _delete_rows(self, received_before: datetime, batch: int) -> tuple[int, list[str]]:
        unresolved_case = (
            select(CaseRow.id)
            .join(AlertRow, AlertRow.case_id == CaseRow.id)
            .where(AlertRow.id == EvidenceRow.alert_id, CaseRow.status.not_in(_CASE_DONE))
        )
        with self._db.writing() as session:
            rows = session.execute(
                select(EvidenceRow.id, EvidenceRow.sha256)
                .where(EvidenceRow.received_at < received_before, ~unresolved_case.exists())
                .order_by(EvidenceRow.received_at)
                .limit(batch)
            ).all()
            if not rows:
                return 0, []
            session.execute(delete(EvidenceRow).where(EvidenceRow.id.in_([r.id for r in rows])))
            named = select(EvidenceRow.id).where(EvidenceRow.sha256 == EvidenceBlobRow.sha256)
            gone = session.scalars(
                delete(EvidenceBlobRow)
                .where(EvidenceBlobRow.sha256.in_({r.sha256 for r in rows}), ~named.exists())
                .returning(EvidenceBlobRow.sha256)
            ).all()
        return len(rows), list(gone)

    def _delete_file(self, sha256: str) -> bool:
        """Delete a picture's file unless a row names its hash again; return whether deleted."""
        path = self.path_of(sha256)
        aside = path.with_suffix(DELETING_SUFFIX)
        try:
            path.replace(aside)
        except FileNotFoundError:
            if not aside.exists():
                return False  # already gone (a crash after the unlink, a second pruner)
        with self._db.reading() as session:
            named = session.get(EvidenceBlobRow, sha256) is not None
        if named:
            # The same bytes were stored again meanwhile: the file stays.
            aside.replace(path)
            return False
        aside.unlink(missing_ok=True)
        return True

    def sweep(self, modified_before: float, batch: int = PRUNE_BATCH) -> int:
        """Delete files no blob row names, last modified before ``modified_before`` (epoch s).

        They are left by a crash between a prune's commit and its unlink, or between a store's
        file and its commit; the age keeps a store in progress from losing its file. Each goes
        the way of a pruned file (aside, checked again, unlinked), so a store of the same bytes
        racing the sweep keeps its file. Half-written temporaries a kill left
        (``.<sha>.jpg.<pid>.<thread>.tmp``) go too, after the same age.
        """
        old: dict[str, Path] = {}
        swept = 0
        for path in self.folder.glob("*/*"):
            if path.name.startswith(".") and path.suffix == TEMPORARY_SUFFIX:
                swept += self._sweep_temporary(path, modified_before)
                continue
            if path.suffix not in (".jpg", DELETING_SUFFIX):
                continue
            try:
                if path.stat().st_mtime < modified_before:
                    old[path.stem] = path
            except FileNotFoundError:
                continue
        shas = sorted(old)
        for first in range(0, len(shas), batch):
            chunk = shas[first : first + batch]
            with self._db.reading() as session:
                named = set(
                    session.scalars(
                        select(EvidenceBlobRow.sha256).where(EvidenceBlobRow.sha256.in_(chunk))
                    )
                )
            for sha in chunk:
                if sha not in named:
                    if self._delete_file(sha):
                        swept += 1
                        logger.info("evidence sweep: deleted %s, named by no row", sha)
                elif old[sha].suffix == DELETING_SUFFIX and not self.path_of(sha).exists():
                    old[sha].replace(self.path_of(sha))  # a prune that crashed mid-way
        return swept

    def _sweep_temporary(self, path: Path, modified_before: float) -> int:
        """Delete a half-written file (``write_durably``'s temporary) a killed hub left."""
        try:
            if path.stat().st_mtime >= modified_before:
                return 0  # perhaps a write in progress, in this or another hub worker
            path.unlink()
        except FileNotFoundError:
            return 0
        logger.info("evidence sweep: deleted %s, half-written by a killed process", path.name)
        return 1

    def _write_file(self, sha256: str, jpeg: bytes) -> None:
        path = self.path_of(sha256)
        if path.exists() and path.stat().st_size == len(jpeg):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(path, jpeg)

    def _query(self) -> Any:
        # The alert's device comes along to place the picture in a site (``_owner``). Only an
        # alert of the picture's own edge is its alert.
        return (
            select(EvidenceRow, EvidenceBlobRow, AlertRow.case_id, AlertRow.device_id)
            .join(EvidenceBlobRow, EvidenceBlobRow.sha256 == EvidenceRow.sha256)
            .outerjoin(
                AlertRow,
                and_(AlertRow.id == EvidenceRow.alert_id, AlertRow.edge_id == EvidenceRow.edge_id),
            )
        )

    def for_alert(
        self, alert_id: str, *, device_ids: frozenset[str] | None = None
    ) -> list[EvidenceView]:
        """Return an alert's pictures, or raise NotFoundError if neither alert nor picture exist.

        With ``device_ids`` (a site-scoped caller's devices), an alert of another device, and
        pictures whose alert has not arrived taken by another camera, do not exist either. Once
        the alert is in, pictures of another edge naming it are not its pictures.
        """
        with self._db.reading() as session:
            alert = session.get(AlertRow, alert_id)
            rows = [
                row
                for row in session.execute(
                    self._query().where(EvidenceRow.alert_id == alert_id).order_by(EvidenceRow.ts)
                ).all()
                if _seen_by(row, device_ids) and (alert is None or _joined(row))
            ]
            if not rows and (
                alert is None or (device_ids is not None and alert.device_id not in device_ids)
            ):
                raise NotFoundError(f"alert {alert_id} does not exist")
            return [_view(row) for row in rows]

    def for_case(self, case_id: int) -> list[EvidenceView]:
        """Return the pictures of every alert of a case, or raise NotFoundError."""
        with self._db.reading() as session:
            if session.get(CaseRow, case_id) is None:
                raise NotFoundError(f"case {case_id} does not exist")
            rows = session.execute(
                self._query().where(AlertRow.case_id == case_id).order_by(EvidenceRow.ts)
            ).all()
            return [_view(row) for row in rows]

    def get(
        self, evidence_id: str, *, device_ids: frozenset[str] | None = None
    ) -> tuple[EvidenceView, Path]:
        """Return one picture's record and file, or raise NotFoundError.

        With ``device_ids``, a picture placed (``_owner``) on another device does not exist.
        """
        with self._db.reading() as session:
            row = session.execute(self._query().where(EvidenceRow.id == evidence_id)).one_or_none()
        if row is None or not _seen_by(row, device_ids):
            raise NotFoundError(f"evidence {evidence_id} does not exist")
        view = _view(row)
        path = self.path_of(view.sha256)
        if not path.is_file():
            raise NotFoundError(f"evidence {evidence_id}: its picture is missing on disk")
        return view, path


def _owner(row: EvidenceRow, alert_device_id: str | None) -> str:
    """Return the device that places a picture in a site: its alert's, else its own camera.

    A picture names one alert (the same bytes sent for two alerts are two pictures), and may
    arrive before it: until then it is placed by the camera that took it.
    """
    return alert_device_id if alert_device_id is not None else row.device_id


def _joined(found: Any) -> bool:
    """Return whether a ``_query`` row was joined to its alert (same id and same edge)."""
    _row, _blob, _case_id, alert_device_id = found
    return alert_device_id is not None


def _seen_by(found: Any, device_ids: frozenset[str] | None) -> bool:
    """Return whether a ``_query`` row is of one of ``device_ids`` (None: every device)."""
    row, _blob, _case_id, alert_device_id = found
    return device_ids is None or _owner(row, alert_device_id) in device_ids


def _view(found: Any) -> EvidenceView:
    """Return the view of a ``_query`` row."""
    row, blob, case_id, _alert_device_id = found
    return EvidenceView(
        id=row.id,
        alert_id=row.alert_id,
        case_id=case_id,
        edge_id=row.edge_id,
        device_id=row.device_id,
        kind=row.kind,
        variant=row.variant,
        ts=row.ts,
        sha256=row.sha256,
        size=blob.size,
        content_type=blob.content_type,
        received_at=row.received_at,
        url=EVIDENCE_URL.format(id=row.id),
    )
