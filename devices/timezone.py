"""Time zone names, as the site file (camera schedules), the roster and door access take them."""

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone this system knows, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
"""An IANA time zone name (``Asia/Shanghai``) this system knows."""
