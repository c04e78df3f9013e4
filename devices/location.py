"""Locations as paths from coarse to fine, e.g. ``"Building 3/Floor 12/Unit 1201"``.

A location keeps the spelling it was registered with, but two spellings of one place are one
place: parts compare *folded* (``folded``): Unicode NFKC (a Chinese input method's full-width
``３号楼`` is ``3号楼``, its ideographic space a space), case-folded (``building 3`` is
``Building 3``), inner white space collapsed. Devices registered by different people, or a
roster typed apart from the devices, still meet at their place: in one incident, under one
grid, one silence, one notice.
"""

import functools
import unicodedata
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


@functools.lru_cache(maxsize=8192)
def folded(part: str) -> str:
    """Return how one part of a location compares with another (see the module's doc)."""
    return " ".join(unicodedata.normalize("NFKC", part).casefold().split())


def place_key(text: str) -> str:
    """Return the folded form of a location path: equal for two spellings of one place."""
    return SEPARATOR.join(folded(part) for part in text.split(SEPARATOR))


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

    @property
    def key(self) -> tuple[str, ...]:
        """The folded parts: what places compare by."""
        return tuple(folded(part) for part in self.parts)

    def within(self, other: "Location") -> bool:
        """Return whether this place lies inside ``other`` (or is it)."""
        return len(other.parts) <= len(self.parts) and self.key[: len(other.parts)] == other.key

    def shares_level(self, other: "Location", depth: int) -> bool:
        """Return whether both places are the same at the given depth."""
        if depth > len(self.parts) or depth > len(other.parts):
            return False
        return self.key[:depth] == other.key[:depth]


def lies_within(location: str, place: str) -> bool:
    """Return whether the path ``location`` lies inside the path ``place`` (or is it); a text
    that is not a location path lies nowhere."""
    try:
        return Location.parse(location).within(Location.parse(place))
    except ValueError:
        return False
