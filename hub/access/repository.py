"""The hub's door access repository: one transaction per method.

Every write that can change what an edge must know ends, in the same transaction, with
``_resync``: it compiles the site's allow-list (``hub.access.compile_allow_list``), compares it
with the items last versioned for the edge, and gives the changed items the site's next
version. So versions are per edge (one site, one edge), increase monotonically, and an edge
holding version ``n`` catches up with exactly the items whose version is above ``n``
(``updates_since``); tombstones are kept so that deletions reach it too.

The site row is locked first in every such transaction (``FOR UPDATE`` on PostgreSQL; SQLite
writers take the database lock up front), so two hub workers never hand out one version twice.

Card numbers and PINs arrive here in plain text and leave only as keyed hashes; they are never
stored, returned or logged.
"""

import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.access import (
    AccessBody,
    AccessItem,
    AccessListUpdate,
    AccessRecord,
    CredentialKind,
    DoorConfig,
    SiteAccess,
    TimeWindow,
    credential_hash,
    credential_key,
)
from hub.access.rules import (
    CredentialSpec,
    GroupSpec,
    ImportProblem,
    PersonImport,
    PersonSpec,
    changed_items,
    check_import,
    check_timezone,
    compile_allow_list,
)
from hub.errors import InvalidInputError, NotFoundError
from hub.http.views import View
from hub.persistence.engine import SQLITE_WRITE_OPTION
from hub.persistence.tables import (
    AccessCredentialRow,
    AccessDoorRow,
    AccessEventRow,
    AccessGroupRow,
    AccessMembershipRow,
    AccessPersonRow,
    AccessScheduleRow,
    AccessSiteRow,
    AccessSyncItemRow,
    HouseholdRow,
)
from hub.persistence.transactions import Clock, utc_now

logger = logging.getLogger(__name__)

_BODY: TypeAdapter[AccessBody] = TypeAdapter(AccessBody)
_WINDOWS: TypeAdapter[list[TimeWindow]] = TypeAdapter(list[TimeWindow])


class SiteView(View):
    """A site's door access settings (the hash key is never shown)."""

    edge_id: str
    name: str
    timezone: str
    version: int


class DoorView(View):
    """A door and the site it belongs to."""

    edge_id: str
    door: DoorConfig


class ScheduleView(View):
    """A named set of weekly windows."""

    id: int
    name: str
    windows: list[TimeWindow]


class GroupView(View):
    """A group of a site: its doors and schedule."""

    id: int
    edge_id: str
    name: str
    door_ids: list[str]
    schedule_id: int | None


class CredentialView(View):
    """A credential without its secret."""

    id: int
    person_id: int
    kind: CredentialKind
    label: str | None
    valid_from: AwareDatetime | None
    valid_until: AwareDatetime | None
    revoked_at: AwareDatetime | None
    created_at: AwareDatetime


class PersonView(View):
    """A person, their groups and credentials."""

    id: int
    edge_id: str
    name: str
    household_id: int | None
    group_ids: list[int]
    valid_from: AwareDatetime | None
    valid_until: AwareDatetime | None
    credentials: list[CredentialView]


class ImportView(View):
    """What a bulk import enrolled: the people's ids in row order, the new version."""

    edge_id: str
    version: int
    people: int
    credentials: int
    person_ids: list[int]


class ImportRejectedError(InvalidInputError):
    """A bulk import with invalid rows: nothing was enrolled."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(f"row {p.row} {p.field}: {p.error}" for p in self.problems[:20])
        more = len(self.problems) - 20
        super().__init__(
            f"{len(self.problems)} problems, nothing enrolled: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )


SCOPED_RESYNC_PEOPLE = 1000
"""Above this many people, an import recompiles the whole list instead of scoping the
comparison to the new people (one ``IN`` of that many ids; both bump the version once)."""


class AccessEventView(View):
    """One stored access log record."""

    id: str
    edge_id: str
    door_id: str
    kind: str
    ts: AwareDatetime
    reader_id: str | None
    credential_id: int | None
    person_id: int | None
    reason: str | None
    fingerprint: str | None
    received_at: AwareDatetime


def _credential_view(row: AccessCredentialRow) -> CredentialView:
    return CredentialView(
        id=row.id,
        person_id=row.person_id,
        kind=CredentialKind(row.kind),
        label=row.label,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
    )


def _event_view(row: AccessEventRow) -> AccessEventView:
    return AccessEventView(
        id=row.id,
        edge_id=row.edge_id,
        door_id=row.door_id,
        kind=row.kind,
        ts=row.ts,
        reader_id=row.reader_id,
        credential_id=row.credential_id,
        person_id=row.person_id,
        reason=row.reason,
        fingerprint=row.fingerprint,
        received_at=row.received_at,
    )


class AccessStore:
    """Reads and writes door access records; each public method is one transaction."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{SQLITE_WRITE_OPTION: True})
        self._clock = clock
        self._dialect = engine.dialect.name

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    # --- sites -------------------------------------------------------------------------------

    def create_site(self, edge_id: str, name: str, timezone: str) -> SiteView:
        """Create a site's door access, with a fresh random hash key."""
        timezone = _valid_timezone(timezone)
        with self._writing() as session:
            if session.get(AccessSiteRow, edge_id) is not None:
                raise InvalidInputError(f"site {edge_id} already exists")
            row = AccessSiteRow(
                edge_id=edge_id,
                name=name,
                timezone=timezone,
                hash_key=secrets.token_hex(32),
                version=0,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            self._resync(session, edge_id)
            return self._site_view(row)

    def update_site(self, edge_id: str, name: str, timezone: str) -> SiteView:
        """Change a site's name and time zone."""
        timezone = _valid_timezone(timezone)
        with self._writing() as session:
            row = self._site(session, edge_id)
            row.name, row.timezone = name, timezone
            self._resync(session, edge_id)
            return self._site_view(row)

    def list_sites(self, *, edge_ids: frozenset[str] | None = None) -> list[SiteView]:
        """Return every site with door access (only of ``edge_ids``, if given)."""
        query = select(AccessSiteRow).order_by(AccessSiteRow.edge_id)
        if edge_ids is not None:
            query = query.where(AccessSiteRow.edge_id.in_(sorted(edge_ids)))
        with self._reading() as session:
            return [self._site_view(r) for r in session.scalars(query)]

    def _site(self, session: Session, edge_id: str) -> AccessSiteRow:
        query = select(AccessSiteRow).where(AccessSiteRow.edge_id == edge_id)
        if self._dialect == "postgresql":
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            raise NotFoundError(f"no door access site for edge {edge_id}")
        return row

    @staticmethod
    def _site_view(row: AccessSiteRow) -> SiteView:
        return SiteView(
            edge_id=row.edge_id, name=row.name, timezone=row.timezone, version=row.version
        )

    # --- doors -------------------------------------------------------------------------------

    def put_door(self, edge_id: str, door: DoorConfig) -> tuple[DoorView, bool]:
        """Create or replace a door of a site; return it and whether it was created."""
        with self._writing() as session:
            self._site(session, edge_id)
            row = session.get(AccessDoorRow, door.id)
            created = row is None
            if row is None:
                row = AccessDoorRow(id=door.id, edge_id=edge_id, config={})
                session.add(row)
            elif row.edge_id != edge_id:
                raise InvalidInputError(f"door {door.id} belongs to site {row.edge_id}")
            others = session.scalars(
                select(AccessDoorRow).where(
                    AccessDoorRow.edge_id == edge_id, AccessDoorRow.id != door.id
                )
            )
            readers = {door.reader_id, door.exit_reader_id} - {None}
            for other in others:
                config = DoorConfig.model_validate(other.config)
                if readers & {config.reader_id, config.exit_reader_id}:
                    raise InvalidInputError(f"a reader of door {door.id} belongs to {other.id}")
            row.config = door.model_dump(mode="json")
            session.flush()
            self._resync(session, edge_id)
            return DoorView(edge_id=edge_id, door=door), created

    def delete_door(self, door_id: str) -> None:
        """Delete a door (groups keep its id, which then opens nothing)."""
        with self._writing() as session:
            row = session.get(AccessDoorRow, door_id)
            if row is None:
                raise NotFoundError(f"no door {door_id}")
            edge_id = row.edge_id
            self._site(session, edge_id)
            session.delete(row)
            session.flush()
            self._resync(session, edge_id)

    def list_doors(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[DoorView]:
        """Return the doors, of one site or all (only of ``edge_ids``, if given)."""
        with self._reading() as session:
            query = select(AccessDoorRow).order_by(AccessDoorRow.id)
            if edge_id is not None:
                query = query.where(AccessDoorRow.edge_id == edge_id)
            if edge_ids is not None:
                query = query.where(AccessDoorRow.edge_id.in_(sorted(edge_ids)))
            return [
                DoorView(edge_id=r.edge_id, door=DoorConfig.model_validate(r.config))
                for r in session.scalars(query)
            ]

    # --- schedules and groups ------------------------------------------------------------

    def create_schedule(self, name: str, windows: Sequence[TimeWindow]) -> ScheduleView:
        """Create a named schedule."""
        with self._writing() as session:
            row = AccessScheduleRow(name=name, windows=[w.model_dump(mode="json") for w in windows])
            session.add(row)
            session.flush()
            return ScheduleView(id=row.id, name=row.name, windows=list(windows))

    def update_schedule(
        self, schedule_id: int, name: str, windows: Sequence[TimeWindow]
    ) -> tuple[ScheduleView, list[str]]:
        """Replace a schedule's windows; return it and the edges whose lists changed."""
        with self._writing() as session:
            row = session.get(AccessScheduleRow, schedule_id)
            if row is None:
                raise NotFoundError(f"no schedule {schedule_id}")
            row.name, row.windows = name, [w.model_dump(mode="json") for w in windows]
            session.flush()
            edges = sorted(
                set(
                    session.scalars(
                        select(AccessGroupRow.edge_id).where(
                            AccessGroupRow.schedule_id == schedule_id
                        )
                    )
                )
            )
            changed = [e for e in edges if self._resync(session, e)]
            return ScheduleView(id=row.id, name=row.name, windows=list(windows)), changed

    def list_schedules(self) -> list[ScheduleView]:
        """Return every schedule."""
        with self._reading() as session:
            rows = session.scalars(select(AccessScheduleRow).order_by(AccessScheduleRow.id))
            return [
                ScheduleView(id=r.id, name=r.name, windows=_WINDOWS.validate_python(r.windows))
                for r in rows
            ]

    def create_group(
        self, edge_id: str, name: str, door_ids: Sequence[str], schedule_id: int | None
    ) -> GroupView:
        """Create a group of a site."""
        with self._writing() as session:
            self._site(session, edge_id)
            if schedule_id is not None and session.get(AccessScheduleRow, schedule_id) is None:
                raise NotFoundError(f"no schedule {schedule_id}")
            row = AccessGroupRow(
                edge_id=edge_id, name=name, door_ids=sorted(set(door_ids)), schedule_id=schedule_id
            )
            session.add(row)
            session.flush()
            self._resync(session, edge_id)
            return self._group_view(row)

    def update_group(
        self, group_id: int, name: str, door_ids: Sequence[str], schedule_id: int | None
    ) -> GroupView:
        """Replace a group's name, doors and schedule."""
        with self._writing() as session:
            row = self._group(session, group_id)
            self._site(session, row.edge_id)
            if schedule_id is not None and session.get(AccessScheduleRow, schedule_id) is None:
                raise NotFoundError(f"no schedule {schedule_id}")
            row.name, row.door_ids, row.schedule_id = name, sorted(set(door_ids)), schedule_id
            session.flush()
            self._resync(session, row.edge_id)
            return self._group_view(row)

    def delete_group(self, group_id: int) -> str:
        """Delete a group (its members lose what it opened); return its site's edge."""
        with self._writing() as session:
            row = self._group(session, group_id)
            self._site(session, row.edge_id)
            session.execute(
                delete(AccessMembershipRow).where(AccessMembershipRow.group_id == group_id)
            )
            session.delete(row)
            session.flush()
            self._resync(session, row.edge_id)
            return row.edge_id

    def edge_of_group(self, group_id: int) -> str:
        """Return the edge of a group's site."""
        with self._reading() as session:
            return self._group(session, group_id).edge_id

    def schedule_edges(self, schedule_id: int) -> frozenset[str]:
        """Return the edges whose groups use a schedule."""
        query = select(AccessGroupRow.edge_id).where(AccessGroupRow.schedule_id == schedule_id)
        with self._reading() as session:
            return frozenset(session.scalars(query))

    def _group(self, session: Session, group_id: int) -> AccessGroupRow:
        row = session.get(AccessGroupRow, group_id)
        if row is None:
            raise NotFoundError(f"no group {group_id}")
        return row

    def list_groups(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[GroupView]:
        """Return the groups, of one site or all (only of ``edge_ids``, if given)."""
        with self._reading() as session:
            query = select(AccessGroupRow).order_by(AccessGroupRow.id)
            if edge_id is not None:
                query = query.where(AccessGroupRow.edge_id == edge_id)
            if edge_ids is not None:
                query = query.where(AccessGroupRow.edge_id.in_(sorted(edge_ids)))
            return [self._group_view(r) for r in session.scalars(query)]

    @staticmethod
    def _group_view(row: AccessGroupRow) -> GroupView:
        return GroupView(
            id=row.id,
            edge_id=row.edge_id,
            name=row.name,
            door_ids=list(row.door_ids),
            schedule_id=row.schedule_id,
        )

    # --- people and credentials ----------------------------------------------------------

    def create_person(
        self,
        edge_id: str,
        name: str,
        *,
        household_id: int | None = None,
        group_ids: Iterable[int] = (),
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> PersonView:
        """Create a person of a site, in some of its groups."""
        with self._writing() as session:
            self._site(session, edge_id)
            if household_id is not None and session.get(HouseholdRow, household_id) is None:
                raise NotFoundError(f"no household {household_id}")
            row = AccessPersonRow(
                edge_id=edge_id,
                name=name,
                household_id=household_id,
                valid_from=valid_from,
                valid_until=valid_until,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            self._set_groups(session, row, group_ids)
            self._resync(session, edge_id, people={row.id})
            return self._person_view(session, row)

    def update_person(
        self,
        person_id: int,
        *,
        group_ids: Iterable[int],
        valid_from: datetime | None,
        valid_until: datetime | None,
    ) -> PersonView:
        """Replace a person's groups and validity window."""
        with self._writing() as session:
            row = self._person(session, person_id)
            self._site(session, row.edge_id)
            row.valid_from, row.valid_until = valid_from, valid_until
            self._set_groups(session, row, group_ids)
            self._resync(session, row.edge_id, people={row.id})
            return self._person_view(session, row)

    def delete_person(self, person_id: int) -> None:
        """Delete a person and their credentials (they leave the edge's list)."""
        with self._writing() as session:
            row = self._person(session, person_id)
            self._site(session, row.edge_id)
            gone = session.scalars(
                select(AccessCredentialRow.id).where(AccessCredentialRow.person_id == person_id)
            ).all()
            session.execute(
                delete(AccessCredentialRow).where(AccessCredentialRow.person_id == person_id)
            )
            session.execute(
                delete(AccessMembershipRow).where(AccessMembershipRow.person_id == person_id)
            )
            session.delete(row)
            session.flush()
            self._resync(session, row.edge_id, people={person_id}, credentials=gone)

    def get_person(self, person_id: int) -> PersonView:
        """Return one person."""
        with self._reading() as session:
            return self._person_view(session, self._person(session, person_id))

    def list_people(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[PersonView]:
        """Return the people, of one site or all (only of ``edge_ids``, if given)."""
        with self._reading() as session:
            query = select(AccessPersonRow).order_by(AccessPersonRow.id)
            if edge_id is not None:
                query = query.where(AccessPersonRow.edge_id == edge_id)
            if edge_ids is not None:
                query = query.where(AccessPersonRow.edge_id.in_(sorted(edge_ids)))
            return [self._person_view(session, r) for r in session.scalars(query)]

    def add_credential(
        self,
        person_id: int,
        kind: CredentialKind,
        value: str,
        *,
        label: str | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> CredentialView:
        """Enrol a card or PIN for a person; only its keyed hash is stored."""
        with self._writing() as session:
            person = self._person(session, person_id)
            site = self._site(session, person.edge_id)
            digest = credential_hash(bytes.fromhex(site.hash_key), kind, value)
            taken = session.scalars(
                select(AccessCredentialRow.id).where(AccessCredentialRow.hash == digest)
            ).first()
            if taken is not None:
                raise InvalidInputError(f"this {kind} is already enrolled at the site")
            row = AccessCredentialRow(
                person_id=person_id,
                kind=kind.value,
                hash=digest,
                label=label,
                valid_from=valid_from,
                valid_until=valid_until,
                revoked_at=None,
                created_at=self._clock(),
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise InvalidInputError(f"this {kind} is already enrolled at the site") from exc
            self._resync(session, person.edge_id, people={person.id})
            return _credential_view(row)

    def import_people(self, edge_id: str, people: Sequence[PersonImport]) -> ImportView:
        """Enrol many people and credentials at once: all or nothing, one version bump."""
        with self._writing() as session:
            site = self._site(session, edge_id)
            wanted_households = {p.household_id for p in people if p.household_id is not None}
            households = (
                set(
                    session.scalars(
                        select(HouseholdRow.id).where(HouseholdRow.id.in_(wanted_households))
                    )
                )
                if wanted_households
                else set()
            )
            enrolled = set(
                session.scalars(
                    select(AccessCredentialRow.hash)
                    .join(AccessPersonRow, AccessPersonRow.id == AccessCredentialRow.person_id)
                    .where(AccessPersonRow.edge_id == edge_id)
                )
            )
            groups = set(
                session.scalars(select(AccessGroupRow.id).where(AccessGroupRow.edge_id == edge_id))
            )
            plan = check_import(
                people,
                key=bytes.fromhex(site.hash_key),
                group_ids=groups,
                household_ids=households,
                enrolled=enrolled,
            )
            if plan.problems:
                raise ImportRejectedError(plan.problems)
            if not people:
                return ImportView(
                    edge_id=edge_id, version=site.version, people=0, credentials=0, person_ids=[]
                )
            now = self._clock()
            person_ids = list(
                session.scalars(
                    insert(AccessPersonRow).returning(
                        AccessPersonRow.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "edge_id": edge_id,
                            "name": p.name,
                            "household_id": p.household_id,
                            "valid_from": p.valid_from,
                            "valid_until": p.valid_until,
                            "created_at": now,
                        }
                        for p in people
                    ],
                )
            )
            memberships = [
                {"person_id": pid, "group_id": g}
                for pid, p in zip(person_ids, people, strict=True)
                for g in sorted(p.group_ids)
            ]
            if memberships:
                session.execute(insert(AccessMembershipRow), memberships)
            credentials = [
                {
                    "person_id": pid,
                    "kind": c.kind.value,
                    "hash": digest,
                    "label": c.label,
                    "valid_from": c.valid_from,
                    "valid_until": c.valid_until,
                    "revoked_at": None,
                    "created_at": now,
                }
                for pid, p, digests in zip(person_ids, people, plan.hashes, strict=True)
                for c, digest in zip(p.credentials, digests, strict=True)
            ]
            if credentials:
                try:
                    session.execute(insert(AccessCredentialRow), credentials)
                except IntegrityError as exc:
                    # Enrolled by another request since the check: the whole import is undone.
                    raise InvalidInputError("a credential was enrolled meanwhile; retry") from exc
            scope = set(person_ids) if len(person_ids) <= SCOPED_RESYNC_PEOPLE else None
            self._resync(session, edge_id, people=scope)
            logger.info(
                "imported %d people and %d credentials at site %s (version %d)",
                len(person_ids),
                len(credentials),
                edge_id,
                site.version,
            )
            return ImportView(
                edge_id=edge_id,
                version=site.version,
                people=len(person_ids),
                credentials=len(credentials),
                person_ids=person_ids,
            )

    def revoke_credential(self, credential_id: int) -> tuple[CredentialView, str]:
        """Revoke a credential; return it and the edge that must hear of it."""
        with self._writing() as session:
            row = session.get(AccessCredentialRow, credential_id)
            if row is None:
                raise NotFoundError(f"no credential {credential_id}")
            person = self._person(session, row.person_id)
            self._site(session, person.edge_id)
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            session.flush()
            self._resync(session, person.edge_id, people={person.id})
            return _credential_view(row), person.edge_id

    def edge_of_person(self, person_id: int) -> str:
        """Return the edge of a person's site."""
        with self._reading() as session:
            return self._person(session, person_id).edge_id

    def edge_of_credential(self, credential_id: int) -> str:
        """Return the edge of the site of a credential's holder."""
        with self._reading() as session:
            row = session.get(AccessCredentialRow, credential_id)
            if row is None:
                raise NotFoundError(f"no credential {credential_id}")
            return self._person(session, row.person_id).edge_id

    def edge_of_door(self, door_id: str) -> str:
        """Return the edge of a door's site."""
        with self._reading() as session:
            row = session.get(AccessDoorRow, door_id)
            if row is None:
                raise NotFoundError(f"no door {door_id}")
            return row.edge_id

    def _person(self, session: Session, person_id: int) -> AccessPersonRow:
        row = session.get(AccessPersonRow, person_id)
        if row is None:
            raise NotFoundError(f"no person {person_id}")
        return row

    def _set_groups(self, session: Session, person: AccessPersonRow, ids: Iterable[int]) -> None:
        wanted = set(ids)
        groups = session.scalars(select(AccessGroupRow).where(AccessGroupRow.id.in_(wanted)))
        found = {g.id for g in groups if g.edge_id == person.edge_id}
        if found != wanted:
            raise NotFoundError(f"no groups {sorted(wanted - found)} at site {person.edge_id}")
        session.execute(
            delete(AccessMembershipRow).where(AccessMembershipRow.person_id == person.id)
        )
        session.add_all(AccessMembershipRow(person_id=person.id, group_id=g) for g in wanted)
        session.flush()

    def _person_view(self, session: Session, row: AccessPersonRow) -> PersonView:
        group_ids = session.scalars(
            select(AccessMembershipRow.group_id)
            .where(AccessMembershipRow.person_id == row.id)
            .order_by(AccessMembershipRow.group_id)
        ).all()
        credentials = session.scalars(
            select(AccessCredentialRow)
            .where(AccessCredentialRow.person_id == row.id)
            .order_by(AccessCredentialRow.id)
        ).all()
        return PersonView(
            id=row.id,
            edge_id=row.edge_id,
            name=row.name,
            household_id=row.household_id,
            group_ids=list(group_ids),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            credentials=[_credential_view(c) for c in credentials],
        )

    # --- the allow-list versions ---------------------------------------------------------

    def _resync(
        self,
        session: Session,
        edge_id: str,
        *,
        people: set[int] | None = None,
        credentials: Iterable[int] = (),
    ) -> int:
        """Version the changes to an edge's allow-list; return how many items changed.

        ``people`` limits the work to those people's credentials (and ``credentials``, ids
        that may have just been deleted): enrolling or revoking one card at a site of 10,000
        then costs one item, not a recompilation of the whole list. Without it (a door, a
        group, the site changed) everything is compiled and compared.
        """
        site = self._site(session, edge_id)
        doors = [
            DoorConfig.model_validate(r.config)
            for r in session.scalars(select(AccessDoorRow).where(AccessDoorRow.edge_id == edge_id))
        ]
        schedules = {
            r.id: tuple(_WINDOWS.validate_python(r.windows))
            for r in session.scalars(select(AccessScheduleRow))
        }
        groups = [
            GroupSpec(
                id=r.id,
                door_ids=frozenset(r.door_ids),
                windows=schedules.get(r.schedule_id, ()) if r.schedule_id is not None else (),
            )
            for r in session.scalars(
                select(AccessGroupRow).where(AccessGroupRow.edge_id == edge_id)
            )
        ]
        person_rows = select(AccessPersonRow).where(AccessPersonRow.edge_id == edge_id)
        member_rows = (
            select(AccessMembershipRow.person_id, AccessMembershipRow.group_id)
            .join(AccessPersonRow, AccessPersonRow.id == AccessMembershipRow.person_id)
            .where(AccessPersonRow.edge_id == edge_id)
        )
        credential_rows = (
            select(AccessCredentialRow)
            .join(AccessPersonRow, AccessPersonRow.id == AccessCredentialRow.person_id)
            .where(AccessPersonRow.edge_id == edge_id)
        )
        if people is not None:
            person_rows = person_rows.where(AccessPersonRow.id.in_(people))
            member_rows = member_rows.where(AccessMembershipRow.person_id.in_(people))
            credential_rows = credential_rows.where(AccessCredentialRow.person_id.in_(people))
        memberships: dict[int, set[int]] = {}
        for person_id, group_id in session.execute(member_rows):
            memberships.setdefault(person_id, set()).add(group_id)
        person_specs = [
            PersonSpec(
                id=r.id,
                group_ids=frozenset(memberships.get(r.id, ())),
                valid_from=r.valid_from,
                valid_until=r.valid_until,
            )
            for r in session.scalars(person_rows)
        ]
        credential_specs = [
            CredentialSpec(
                id=r.id,
                person_id=r.person_id,
                kind=CredentialKind(r.kind),
                hash=r.hash,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                revoked=r.revoked_at is not None,
            )
            for r in session.scalars(credential_rows)
        ]
        desired = compile_allow_list(
            SiteAccess(timezone=site.timezone, hash_key=site.hash_key),
            doors,
            groups,
            person_specs,
            credential_specs,
        )
        sent_rows = select(AccessSyncItemRow).where(AccessSyncItemRow.edge_id == edge_id)
        if people is not None:
            scope = {credential_key(c.id) for c in credential_specs}
            scope |= {credential_key(i) for i in credentials}
            desired = {key: body for key, body in desired.items() if key in scope}
            sent_rows = sent_rows.where(AccessSyncItemRow.key.in_(scope))
        rows = {r.key: r for r in session.scalars(sent_rows)}
        sent = {
            key: None if r.body is None else _BODY.validate_python(r.body)
            for key, r in rows.items()
        }
        changes = changed_items(sent, desired)
        if not changes:
            return 0
        site.version += 1
        for key, body in changes.items():
            data: dict[str, Any] | None = None if body is None else body.model_dump(mode="json")
            row = rows.get(key)
            if row is None:
                session.add(
                    AccessSyncItemRow(edge_id=edge_id, key=key, version=site.version, body=data)
                )
            else:
                row.version, row.body = site.version, data
        session.flush()
        logger.info(
            "allow-list of edge %s: version %d, %d items changed",
            edge_id,
            site.version,
            len(changes),
        )
        return len(changes)

    def updates_since(self, edge_id: str, have_version: int) -> AccessListUpdate | None:
        """Return what takes an edge from ``have_version`` to the newest, None if no site.

        A snapshot (``full``) when the edge holds nothing, or a version the hub never issued
        (the hub's database was replaced): the edge then drops everything else it holds.
        """
        with self._reading() as session:
            site = session.get(AccessSiteRow, edge_id)
            if site is None:
                return None
            full = have_version == 0 or have_version > site.version
            query = select(AccessSyncItemRow).where(AccessSyncItemRow.edge_id == edge_id)
            if full:
                query = query.where(AccessSyncItemRow.body.is_not(None))
            else:
                query = query.where(AccessSyncItemRow.version > have_version)
            items = [
                AccessItem(
                    key=r.key,
                    version=r.version,
                    body=None if r.body is None else _BODY.validate_python(r.body),
                )
                # Ordered by key too, so that the same update always splits into the same
                # chunks: an edge fills a lost chunk from a re-send.
                for r in session.scalars(
                    query.order_by(AccessSyncItemRow.version, AccessSyncItemRow.key)
                )
            ]
            return AccessListUpdate(
                edge_id=edge_id,
                from_version=0 if full else have_version,
                to_version=site.version,
                full=full,
                items=items,
            )

    # --- the access log ------------------------------------------------------------------

    def ingest_log(self, records: Sequence[AccessRecord], received_at: datetime) -> int:
        """Store access log records once each (by id); return how many were new."""
        if not records:
            return 0
        rows = [
            {
                "id": r.id,
                "edge_id": r.edge_id,
                "door_id": r.door_id,
                "kind": r.kind.value,
                "ts": r.ts,
                "reader_id": r.reader_id,
                "credential_id": r.credential_id,
                "person_id": r.person_id,
                "reason": r.reason,
                "fingerprint": r.fingerprint,
                "received_at": received_at,
            }
            for r in {r.id: r for r in records}.values()
        ]
        insert = (
            postgresql.insert(AccessEventRow)
            if self._dialect == "postgresql"
            else sqlite.insert(AccessEventRow)
        )
        with self._writing() as session:
            result = session.execute(
                insert.on_conflict_do_nothing(index_elements=["id"]).returning(AccessEventRow.id),
                rows,
            )
            return len(result.all())

    def query_log(
        self,
        *,
        door_id: str | None = None,
        person_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        edge_ids: frozenset[str] | None = None,
    ) -> list[AccessEventView]:
        """Return access log records, newest first, filtered by door, person, time range
        (and only of ``edge_ids``, if given)."""
        query = select(AccessEventRow)
        if edge_ids is not None:
            query = query.where(AccessEventRow.edge_id.in_(sorted(edge_ids)))
        if door_id is not None:
            query = query.where(AccessEventRow.door_id == door_id)
        if person_id is not None:
            query = query.where(AccessEventRow.person_id == person_id)
        if since is not None:
            query = query.where(AccessEventRow.ts >= since)
        if until is not None:
            query = query.where(AccessEventRow.ts < until)
        query = query.order_by(AccessEventRow.ts.desc(), AccessEventRow.id).limit(limit)
        with self._reading() as session:
            return [_event_view(r) for r in session.scalars(query)]


def _valid_timezone(name: str) -> str:
    try:
        return check_timezone(name)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
