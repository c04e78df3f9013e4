"""The allow-list versions: what changed for an edge, versioned in the transaction that changed it.

Every write that can change what an edge must know ends, in the same transaction, with
``resync``: it compiles the site's allow-list (``hub.access.rules.compile_allow_list``),
compares it with the items last versioned for the edge, and gives the changed items the site's
next version. So versions are per edge (one site, one edge), increase monotonically, and an
edge holding version ``n`` catches up with exactly the items whose version is above ``n``
(``AllowListRepository.updates_since``); tombstones are kept so that deletions reach it too.

The site row is locked first in every such transaction (``lock_site``: ``FOR UPDATE`` on
PostgreSQL; SQLite writers take the database lock up front), so two hub workers never hand out
one version twice.
"""

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.access import (
    AccessBody,
    AccessItem,
    AccessListUpdate,
    CredentialKind,
    DoorConfig,
    SiteAccess,
    TimeWindow,
    credential_key,
)
from hub.access.rules import (
    CredentialSpec,
    GroupSpec,
    PersonSpec,
    changed_items,
    compile_allow_list,
    needs_snapshot,
)
from hub.errors import NotFoundError
from hub.persistence.access import (
    AccessCredentialRow,
    AccessDoorRow,
    AccessGroupRow,
    AccessMembershipRow,
    AccessPersonRow,
    AccessScheduleRow,
    AccessSiteRow,
    AccessSyncItemRow,
)
from hub.persistence.transactions import Database, of_sites

logger = logging.getLogger(__name__)

BODY: TypeAdapter[AccessBody] = TypeAdapter(AccessBody)
"""Reads a stored allow-list item's body."""
WINDOWS: TypeAdapter[list[TimeWindow]] = TypeAdapter(list[TimeWindow])
"""Reads a stored schedule's windows."""

SiteItemRow = TypeVar("SiteItemRow", AccessDoorRow, AccessGroupRow, AccessPersonRow)


def rows_of_sites(
    session: Session,
    row: type[SiteItemRow],
    edge_id: str | None = None,
    edge_ids: frozenset[str] | None = None,
) -> Sequence[SiteItemRow]:
    """Return a site table's rows by id, of one site or all (only of ``edge_ids``, if given)."""
    query = of_sites(select(row).order_by(row.id), row.edge_id, edge_id, edge_ids)
    return session.scalars(query).all()


def lock_site(session: Session, edge_id: str) -> AccessSiteRow:
    """Return a site's row, locked for the rest of the transaction; NotFoundError if none."""
    query = select(AccessSiteRow).where(AccessSiteRow.edge_id == edge_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no door access site for edge {edge_id}")
    return row


def resync(
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
    site = lock_site(session, edge_id)
    doors = [
        DoorConfig.model_validate(r.config)
        for r in session.scalars(select(AccessDoorRow).where(AccessDoorRow.edge_id == edge_id))
    ]
    schedules = {
        r.id: tuple(WINDOWS.validate_python(r.windows))
        for r in session.scalars(select(AccessScheduleRow))
    }
    groups = [
        GroupSpec(
            id=r.id,
            door_ids=frozenset(r.door_ids),
            windows=schedules.get(r.schedule_id, ()) if r.schedule_id is not None else (),
        )
        for r in session.scalars(select(AccessGroupRow).where(AccessGroupRow.edge_id == edge_id))
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
        key: None if r.body is None else BODY.validate_python(r.body) for key, r in rows.items()
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


class AllowListRepository:
    """Reads what each edge's allow-list holds, by version."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def updates_since(self, edge_id: str, have_version: int) -> AccessListUpdate | None:
        """Return what takes an edge from ``have_version`` to the newest, None if no site.

        A snapshot (``full``) when the edge needs one (``rules.needs_snapshot``): the edge
        then drops everything else it holds.
        """
        with self._db.reading() as session:
            site = session.get(AccessSiteRow, edge_id)
            if site is None:
                return None
            full = needs_snapshot(have_version, site.version)
            query = select(AccessSyncItemRow).where(AccessSyncItemRow.edge_id == edge_id)
            if full:
                query = query.where(AccessSyncItemRow.body.is_not(None))
            else:
                query = query.where(AccessSyncItemRow.version > have_version)
            items = [
                AccessItem(
                    key=r.key,
                    version=r.version,
                    body=None if r.body is None else BODY.validate_python(r.body),
                )
                # Ordered by key too, so that the same update always splits into the same
                # chunks: an edge fills a lost chunk from a re-send.
                for r in session.scalars(
                    query.order_by(AccessSyncItemRow.version, AccessSyncItemRow.key)
                )
            ]
            # A snapshot too names the version it answers: an edge holding a version this
            # hub never issued takes a lower snapshot only when it answers that version.
            return AccessListUpdate(
                edge_id=edge_id,
                from_version=have_version,
                to_version=site.version,
                full=full,
                items=items,
            )
