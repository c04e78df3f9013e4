"""Door access on the hub, the pure part: what each edge's allow-list must hold.

The repository (``hub.access.repository``) loads a site's people, groups, schedules, doors and
credentials as the plain values below; ``compile_allow_list`` turns them into the items an
edge needs, and ``changed_items`` compares them with what the edge was last sent, so that only
real changes get a new version. Nothing here touches a database, a clock or a broker.

Rules the compilation applies:

- a credential opens the doors of its person's groups, each group on its schedule (none: at
  any time); a door of another site is never included;
- its validity window is the intersection of the person's and the credential's;
- a revoked credential stays in the list as ``revoked`` (the edge then logs "revoked", not
  "unknown"); a deleted one becomes a tombstone.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime

from devices.access import (
    CARD_PATTERN,
    PIN_PATTERN,
    SITE_KEY,
    AccessBody,
    AccessRule,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    EntryStatus,
    SiteAccess,
    TimeWindow,
    credential_hash,
    credential_key,
    door_key,
)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A group as compilation needs it: its doors and its schedule's windows (empty: always)."""

    id: int
    door_ids: frozenset[str]
    windows: tuple[TimeWindow, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonSpec:
    """A person: validity and groups."""

    id: int
    group_ids: frozenset[int]
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    """A credential, known by its keyed hash."""

    id: int
    person_id: int
    kind: CredentialKind
    hash: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked: bool = False


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def compile_allow_list(
    site: SiteAccess,
    doors: Iterable[DoorConfig],
    groups: Iterable[GroupSpec],
    people: Iterable[PersonSpec],
    credentials: Iterable[CredentialSpec],
) -> dict[str, AccessBody]:
    """Return every item one edge's allow-list must hold, by sync key."""
    items: dict[str, AccessBody] = {SITE_KEY: site}
    door_ids: set[str] = set()
    for door in doors:
        items[door_key(door.id)] = door
        door_ids.add(door.id)
    groups_by_id = {g.id: g for g in groups}
    people_by_id = {p.id: p for p in people}
    for credential in credentials:
        person = people_by_id.get(credential.person_id)
        if person is None:
            continue  # a person of another site
        rules = []
        for group_id in sorted(person.group_ids):
            group = groups_by_id.get(group_id)
            if group is None:
                continue
            doors_here = group.door_ids & door_ids
            if doors_here:
                rules.append(AccessRule(doors=frozenset(doors_here), windows=group.windows))
        items[credential_key(credential.id)] = AllowEntry(
            credential_id=credential.id,
            person_id=person.id,
            kind=credential.kind,
            hash=credential.hash,
            status=EntryStatus.REVOKED if credential.revoked else EntryStatus.ACTIVE,
            valid_from=_later(person.valid_from, credential.valid_from),
            valid_until=_earlier(person.valid_until, credential.valid_until),
            rules=tuple(rules),
        )
    return items


def reader_taken(door: DoorConfig, others: Iterable[DoorConfig]) -> str | None:
    """Return the id of another door of the site that has one of ``door``'s readers, if any.

    A reader opens exactly one door: the edge could not tell which one a badge was for.
    """
    readers = {door.reader_id, door.exit_reader_id} - {None}
    for other in others:
        if other.id != door.id and readers & {other.reader_id, other.exit_reader_id}:
            return other.id
    return None


def passback_problem(door: DoorConfig) -> str | None:
    """Return why ``door``'s anti-passback cannot work, if it cannot.

    Anti-passback refuses a second entry before an exit; without an exit reader no exit is
    ever seen, so each person would get in once and never again (the edge ignores it there).
    """
    if door.anti_passback and door.exit_reader_id is None:
        return (
            f"door {door.id}: anti_passback needs an exit_reader_id (without an exit reader "
            "nobody is seen leaving, and each person would be let in only once)"
        )
    return None


def needs_snapshot(have_version: int, site_version: int) -> bool:
    """Return whether an edge holding ``have_version`` needs the whole list, not the changes.

    It does when it holds nothing, or a version the hub never issued (the hub's database was
    replaced): it then drops everything else it holds.
    """
    return have_version == 0 or have_version > site_version


SCOPED_RESYNC_PEOPLE = 1000
"""Above this many people, an import recompiles the whole list instead of scoping the
comparison to the new people (one ``IN`` of that many ids; both bump the version once)."""


def import_scope(person_ids: Sequence[int]) -> set[int] | None:
    """Return the people whose items a bulk import compares, or None for the whole list."""
    return set(person_ids) if len(person_ids) <= SCOPED_RESYNC_PEOPLE else None


def changed_items(
    sent: Mapping[str, AccessBody | None], desired: Mapping[str, AccessBody]
) -> dict[str, AccessBody | None]:
    """Return the items that differ from what was sent: new or changed bodies, and deletions.

    Compared as models, not as JSON text: a set's serialised order is not stable between
    processes, and a spurious difference would send every edge a new version for nothing.
    """
    changes: dict[str, AccessBody | None] = {}
    for key, wanted in desired.items():
        if sent.get(key) != wanted:
            changes[key] = wanted
    for key, body in sent.items():
        if body is not None and key not in desired:
            changes[key] = None
    return changes


# --- bulk enrolment ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialImport:
    """A card or PIN to enrol in a bulk import; ``value`` is secret (never shown)."""

    kind: CredentialKind
    value: str = field(repr=False)
    label: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PersonImport:
    """One row of a bulk import: a person, their groups and credentials."""

    name: str
    household_id: int | None = None
    group_ids: frozenset[int] = frozenset()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    credentials: tuple[CredentialImport, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """Why one row of a bulk import cannot be enrolled (never repeats a secret)."""

    row: int
    field: str
    error: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """A checked bulk import: every credential's keyed hash (by row), or what is wrong."""

    hashes: tuple[tuple[str, ...], ...]
    problems: tuple[ImportProblem, ...]


CREDENTIAL_PATTERNS = {CredentialKind.CARD: CARD_PATTERN, CredentialKind.PIN: PIN_PATTERN}
"""The form of each kind of credential's value."""


def valid_credential(kind: CredentialKind, value: str) -> bool:
    """Return whether ``value`` (already stripped) has the form of a ``kind``."""
    return re.fullmatch(CREDENTIAL_PATTERNS[kind], value) is not None


def check_import(
    people: Sequence[PersonImport],
    *,
    key: bytes,
    group_ids: AbstractSet[int],
    household_ids: AbstractSet[int],
    enrolled: AbstractSet[str],
) -> ImportPlan:
    """Check every row of a bulk import against the site; return the hashes or the problems.

    ``group_ids`` are the site's groups, ``household_ids`` the households that exist,
    ``enrolled`` the keyed hashes of the site's credentials. All rows are checked, so that one
    answer lists everything to fix.
    """
    problems: list[ImportProblem] = []
    hashes: list[tuple[str, ...]] = []
    seen: dict[str, str] = {}
    for row, person in enumerate(people):
        if unknown := sorted(person.group_ids - group_ids):
            problems.append(ImportProblem(row, "group_ids", f"no groups {unknown} at the site"))
        if person.household_id is not None and person.household_id not in household_ids:
            problems.append(
                ImportProblem(row, "household_id", f"no household {person.household_id}")
            )
        if _empty_window(person.valid_from, person.valid_until):
            problems.append(ImportProblem(row, "valid_until", "not after valid_from"))
        digests: list[str] = []
        for index, credential in enumerate(person.credentials):
            where = f"credentials[{index}]"
            if _empty_window(credential.valid_from, credential.valid_until):
                problems.append(ImportProblem(row, f"{where}.valid_until", "not after valid_from"))
            value = credential.value.strip()
            if not valid_credential(credential.kind, value):
                pattern = CREDENTIAL_PATTERNS[credential.kind]
                problems.append(
                    ImportProblem(row, where, f"not a valid {credential.kind} ({pattern})")
                )
                continue
            digest = credential_hash(key, credential.kind, value)
            if digest in enrolled:
                problems.append(
                    ImportProblem(row, where, f"this {credential.kind} is already enrolled")
                )
            elif (first := seen.get(digest)) is not None:
                problems.append(ImportProblem(row, where, f"the same {credential.kind} as {first}"))
            seen.setdefault(digest, f"row {row} {where}")
            digests.append(digest)
        hashes.append(tuple(digests))
    return ImportPlan(tuple(hashes), tuple(problems))


def _empty_window(start: datetime | None, end: datetime | None) -> bool:
    return start is not None and end is not None and end <= start
