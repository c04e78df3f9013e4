"""Locations as paths from coarse to fine, e.g. ``"Building 3/Floor 12/Unit 1201"``."""

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

SEPARATOR = "/"
MAX_LENGTH = 256


def normalise_location(text: str) -> str:
    """Return the canonical spelling of a location path, or raise ``ValueError``."""
    parts = [part.strip() for part in text.split(SEPARATOR)]
    if not text.strip() or any(not part for part in parts):
        raise ValueError(f"location {text!r} must be non-empty parts separated by '/'")
    canonical = SEPARATOR.join(parts)
    if len(canonical) > MAX_LENGTH:
        raise ValueError(f"location is longer than {MAX_LENGTH} characters")
    return canonical


LocationText = Annotated[str, AfterValidator(normalise_location)]
"""A location path in its canonical spelling, for use in pydantic models."""


@dataclass(frozen=True, slots=True)
class Location:
    """A place, as the tuple of its parts from coarse to fine."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Location":
        """Parse a location path."""
        return cls(tuple(normalise_location(text).split(SEPARATOR)))

    def __str__(self) -> str:
        return SEPARATOR.join(self.parts)

    def at_level(self, depth: int) -> "Location":
        """Return this place cut to its first ``depth`` parts (the building, the floor, …)."""
        if depth < 1:
            raise ValueError("depth must be at least 1")
        return Location(self.parts[:depth])

    def within(self, other: "Location") -> bool:
        """Return whether this place lies inside ``other`` (or is it)."""
        return self.parts[: len(other.parts)] == other.parts

    def shares_level(self, other: "Location", depth: int) -> bool:
        """Return whether both places are the same at the given depth."""
        if depth > len(self.parts) or depth > len(other.parts):
            return False
        return self.parts[:depth] == other.parts[:depth]


def lies_within(location: str, place: str) -> bool:
    """Return whether the path ``location`` lies inside the path ``place`` (or is it); a text
    that is not a location path lies nowhere."""
    try:
        return Location.parse(location).within(Location.parse(place))
    except ValueError:
        return False
