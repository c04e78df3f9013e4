"""Site files shipped with Linli: the sample community the demo and the tests use."""

from importlib.resources import files
from pathlib import Path

from simulators.errors import SimulatorError

SAMPLE_SITE = "courtyard.toml"
SAMPLE_ROSTER = "courtyard-roster.toml"
SAMPLE_RESIDENTS = "courtyard-residents.toml"


def sample_site_path() -> Path:
    """Return the path of the packaged sample site file (``courtyard.toml``)."""
    return _packaged(SAMPLE_SITE)


def sample_roster_path() -> Path:
    """Return the path of the sample site's roster file (``courtyard-roster.toml``)."""
    return _packaged(SAMPLE_ROSTER)


def sample_residents_path() -> Path:
    """Return the path of the sample site's residents file (``courtyard-residents.toml``)."""
    return _packaged(SAMPLE_RESIDENTS)


def _packaged(name: str) -> Path:
    resource = files(__name__) / name
    # Linli is installed as plain folders (editable or wheel), never imported from a zip
    # archive, so the resource is a real file that SiteFile.load can open.
    if not isinstance(resource, Path):
        raise SimulatorError(f"the packaged {name} is not a plain file: {resource}")
    return resource
