"""Site files shipped with Linli: the sample community the demo and the tests use."""

from importlib.resources import files
from pathlib import Path

from simulators.errors import SimulatorError

SAMPLE_SITE = "courtyard.toml"


def sample_site_path() -> Path:
    """Return the path of the packaged sample site file (``courtyard.toml``)."""
    resource = files(__name__) / SAMPLE_SITE
    # Linli is installed as plain folders (editable or wheel), never imported from a zip
    # archive, so the resource is a real file that SiteFile.load can open.
    if not isinstance(resource, Path):
        raise SimulatorError(f"the sample site is not a plain file: {resource}")
    return resource
