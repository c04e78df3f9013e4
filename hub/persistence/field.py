"""The field's tables: where responders are (``hub.positions``).

Kept apart from ``hub.persistence.tables`` so that neither module grows past ~600 lines;
``hub.persistence.schema`` puts every module on one metadata for the migrations and their test.
"""

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.tables import ID_LENGTH, Base, UTCDateTime


class ResponderPositionRow(Base):
    """A responder's latest reported position (``hub.positions``): OwnTracks, from their phone.

    No foreign key to ``responders``: a position may arrive before, or outlive, the roster
    record; only the latest is kept (a phone's queued, older fixes do not move it back)."""

    __tablename__ = "responder_positions"

    responder_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the phone took the fix (its own clock)."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
