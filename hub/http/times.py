"""Instants the API takes: aware, and within the years a database holds.

A datetime is stored in UTC (``hub.persistence.tables``), so one whose UTC value falls before
the year 1 or after the year 9999 (``0001-01-01T00:00:00+14:00``) is no instant the hub can
keep: it is refused at the edge of the API as invalid input (422), never met by the database.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from hub.errors import InvalidInputError

OUT_OF_RANGE = "lies outside the years 1 to 9999 in UTC"


def within_utc_years(value: datetime) -> datetime:
    """Return ``value`` if its UTC value is within the years 1 to 9999; raise ValueError."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"the time {OUT_OF_RANGE}") from None
    return value


StorableDatetime = Annotated[AwareDatetime, AfterValidator(within_utc_years)]
"""An aware datetime whose UTC value is within the years 1 to 9999 (else a 422)."""


def check_storable(value: datetime | None, field: str) -> None:
    """Raise ``InvalidInputError`` naming ``field`` if ``value`` is no storable instant."""
    if value is None:
        return
    try:
        within_utc_years(value)
    except ValueError:
        raise InvalidInputError(f"{field} {OUT_OF_RANGE}") from None
