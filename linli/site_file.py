"""The site file a ``linli`` command was given, read before anything runs, or refused in one
line.

``linli edge`` used to hand the path to the agent, which read it inside its task group: a
mistyped ``--site``, a file not copied yet (deploy/raspberry-pi.md step 4), a TOML typo or an
unknown field ended in a page of traceback, repeated in the journal at every restart of the
unit, with the reason on its last line.
"""

import tomllib
from pathlib import Path

import typer
from pydantic import ValidationError

from devices.site import SiteFile

SITE_FILE_REFUSED_EXIT = 2
"""Exit code of a command refused for its site file (as for any setting it cannot start with)."""


def read_site_file(path: Path) -> SiteFile:
    """Return the site file at ``path``, or exit 2 saying on stderr what is wrong with it."""
    try:
        return SiteFile.load(path)
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML: {exc}"
    except ValidationError as exc:
        problem = str(exc)
    typer.echo(f"linli: cannot start: the site file {path}: {problem}", err=True)
    raise typer.Exit(SITE_FILE_REFUSED_EXIT)
