"""The camera evidence's tables: pictures by SHA-256, and each picture of an alert
(``hub.evidence``).

Kept apart from ``hub.persistence.tables`` so that neither module grows past ~600 lines;
``hub.persistence.schema`` puts every module on one metadata for the migrations and their test.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.tables import ENUM_LENGTH, ID_LENGTH, Base, UTCDateTime


class EvidenceBlobRow(Base):
    """One stored picture, by its SHA-256: the same bytes are kept once, however often sent."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvidenceRow(Base):
    """A camera alert's picture (clean or annotated), by the id the edge gave it.

    ``alert_id`` is not a foreign key on purpose: a picture travels on its own topic and may
    be stored before its alert; the alert's case is found by joining at read time.
    """

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_edge_id_size", "edge_id", "size"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    device_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    variant: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed for retention: pictures by age, and "does any picture still name this blob";
    # (edge_id, size) for the edge's quota, a sum read from that index alone (hub.evidence.quota).
    sha256: Mapped[str] = mapped_column(ForeignKey("evidence_blobs.sha256"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    size: Mapped[int] = mapped_column(Integer)
