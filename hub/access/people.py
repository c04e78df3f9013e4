"""The repository of the people of door access sites and their credentials, and the bulk import.

Card numbers and PINs arrive here in plain text and leave only as keyed hashes; they are never
stored, returned or logged. Every write versions the changes for the site's edge in the same
transaction (``versions.resync``), scoped to the people concerned.
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.access import CredentialKind, credential_hash
from hub.access.rules import ImportProblem, PersonImport, check_import, import_scope
from hub.access.versions import lock_site, resync, rows_of_sites
from hub.access.views import CredentialView, ImportView, PersonView, credential_view
from hub.errors import InvalidInputError, NotFoundError
from hub.persistence.access import (
    AccessCredentialRow,
    AccessGroupRow,
    AccessMembershipRow,
    AccessPersonRow,
)
from hub.persistence.tables import HouseholdRow
from hub.persistence.transactions import Database, get_existing

logger = logging.getLogger(__name__)


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


class PeopleRepository:
    """Reads and writes people and their credentials."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        with self._db.writing() as session:
            lock_site(session, edge_id)
            if household_id is not None and session.get(HouseholdRow, household_id) is None:
                raise NotFoundError(f"no household {household_id}")
            row = AccessPersonRow(
                edge_id=edge_id,
                name=name,
                household_id=household_id,
                valid_from=valid_from,
                valid_until=valid_until,
                created_at=self._db.clock(),
            )
            session.add(row)
            session.flush()
            _set_groups(session, row, group_ids)
            resync(session, edge_id, people={row.id})
            return _person_view(session, row)

    def update_person(
        self,
        person_id: int,
        *,
        group_ids: Iterable[int],
        valid_from: datetime | None,
        valid_until: datetime | None,
    ) -> PersonView:
        """Replace a person's groups and validity window."""
        with self._db.writing() as session:
            row = _person(session, person_id)
            lock_site(session, row.edge_id)
            row.valid_from, row.valid_until = valid_from, valid_until
            _set_groups(session, row, group_ids)
            resync(session, row.edge_id, people={row.id})
            return _person_view(session, row)

    def delete_person(self, person_id: int) -> None:
        """Delete a person and their credentials (they leave the edge's list)."""
        with self._db.writing() as session:
            row = _person(session, person_id)
            lock_site(session, row.edge_id)
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
            resync(session, row.edge_id, people={person_id}, credentials=gone)

    def get_person(self, person_id: int) -> PersonView:
        """Return one person."""
        with self._db.reading() as session:
            return _person_view(session, _person(session, person_id))

    def list_people(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[PersonView]:
        """Return the people, of one site or all (only of ``edge_ids``, if given)."""
        with self._db.reading() as session:
            return [
                _person_view(session, r)
                for r in rows_of_sites(session, AccessPersonRow, edge_id, edge_ids)
            ]

    def edge_of_person(self, person_id: int) -> str:
        """Return the edge of a person's site."""
        with self._db.reading() as session:
            return _person(session, person_id).edge_id

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
        with self._db.writing() as session:
            person = _person(session, person_id)
            site = lock_site(session, person.edge_id)
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
                created_at=self._db.clock(),
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise InvalidInputError(f"this {kind} is already enrolled at the site") from exc
            resync(session, person.edge_id, people={person.id})
            return credential_view(row)

    def revoke_credential(self, credential_id: int) -> tuple[CredentialView, str]:
        """Revoke a credential; return it and the edge that must hear of it."""
        with self._db.writing() as session:
            row = _credential(session, credential_id)
            person = _person(session, row.person_id)
            lock_site(session, person.edge_id)
            if row.revoked_at is None:  # revoking twice keeps the first time
                row.revoked_at = self._db.clock()
            session.flush()
            resync(session, person.edge_id, people={person.id})
            return credential_view(row), person.edge_id

    def edge_of_credential(self, credential_id: int) -> str:
        """Return the edge of the site of a credential's holder."""
        with self._db.reading() as session:
            return _person(session, _credential(session, credential_id).person_id).edge_id

    def import_people(self, edge_id: str, people: Sequence[PersonImport]) -> ImportView:
        """Enrol many people and credentials at once: all or nothing, one version bump."""
        with self._db.writing() as session:
            site = lock_site(session, edge_id)
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
            now = self._db.clock()
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
            resync(session, edge_id, people=import_scope(person_ids))
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


def _person(session: Session, person_id: int) -> AccessPersonRow:
    return get_existing(session, AccessPersonRow, person_id, f"no person {person_id}")


def _credential(session: Session, credential_id: int) -> AccessCredentialRow:
    return get_existing(
        session, AccessCredentialRow, credential_id, f"no credential {credential_id}"
    )


def _set_groups(session: Session, person: AccessPersonRow, ids: Iterable[int]) -> None:
    wanted = set(ids)
    groups = session.scalars(select(AccessGroupRow).where(AccessGroupRow.id.in_(wanted)))
    found = {g.id for g in groups if g.edge_id == person.edge_id}
    if found != wanted:
        raise NotFoundError(f"no groups {sorted(wanted - found)} at site {person.edge_id}")
    session.execute(delete(AccessMembershipRow).where(AccessMembershipRow.person_id == person.id))
    session.add_all(AccessMembershipRow(person_id=person.id, group_id=g) for g in wanted)
    session.flush()


def _person_view(session: Session, row: AccessPersonRow) -> PersonView:
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
        credentials=[credential_view(c) for c in credentials],
    )
