"""A roster file: sites, grids and responders provisioned from TOML when the hub starts.

``LINLI_HUB_ROSTER_FILE=/etc/linli/roster.toml`` (``linli demo`` uses the sample's) holds
``[[sites]]``, ``[[grids]]`` and ``[[responders]]`` tables with the fields of
``PUT /api/v1/sites|grids|responders`` (``hub.roster.rules``). At every start the hub creates the
records the file has and the database does not, and replaces those that differ; records the
file does not mention (added over the API) are left alone, and an unchanged record is not
written again, so the audit trail shows only real changes.

A file that cannot be read, or a record that is not valid, stops the hub at start with the
file, the table and the reason: a roster that silently half-loads would leave fires with
nobody to go to.
"""

import tomllib
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.errors import HubStartupError
from hub.roster.rules import Grid, Responder, Site


class RosterFile(BaseModel):
    """The contents of a roster file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: list[Site] = Field(default_factory=list)
    grids: list[Grid] = Field(default_factory=list)
    responders: list[Responder] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "RosterFile":
        for kind, ids in (
            ("site", [s.id for s in self.sites]),
            ("grid", [g.id for g in self.grids]),
            ("responder", [r.id for r in self.responders]),
        ):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise ValueError(f"{kind} {', '.join(twice)} is listed twice")
        return self


def load_roster(path: Path) -> RosterFile:
    """Read a roster file, or raise ``HubStartupError`` naming what is wrong."""
    try:
        # utf-8-sig: an editor that saves UTF-8 with a byte-order mark (Notepad did) makes the
        # same file, not "Invalid statement (at line 1, column 1)" for a character nobody sees.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise HubStartupError(f"cannot read the roster file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise HubStartupError(
            f"the roster file {path} is not UTF-8 (byte {exc.start}): save it as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise HubStartupError(f"the roster file {path} is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise HubStartupError(
            f"the roster file {path} has arrays or tables nested too deeply"
        ) from exc
    try:
        return RosterFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise HubStartupError(f"the roster file {path} is not valid: {problems}") from exc


class RosterStore(Protocol):
    """What applying a roster needs of the repository (``RosterRepository``)."""

    def list_sites(self) -> list[Site]: ...
    def list_grids(self) -> list[Grid]: ...
    def list_responders(self) -> list[Responder]: ...
    def put_site(self, site: Site) -> Site: ...
    def put_grid(self, grid: Grid) -> Grid: ...
    def put_responder(self, responder: Responder) -> Responder: ...


def apply_roster(store: RosterStore, roster: RosterFile) -> int:
    """Create or replace the file's records that are new or differ; return how many changed.

    Sites go first, then grids, then responders, as each refers to the ones before.
    """
    changed = 0
    sites = {s.id: s for s in store.list_sites()}
    for site in roster.sites:
        if sites.get(site.id) != site:
            store.put_site(site)
            changed += 1
    grids = {g.id: g for g in store.list_grids()}
    for grid in roster.grids:
        if grids.get(grid.id) != grid:
            store.put_grid(grid)
            changed += 1
    responders = {r.id: r for r in store.list_responders()}
    for responder in roster.responders:
        if responders.get(responder.id) != responder:
            store.put_responder(responder)
            changed += 1
    return changed
