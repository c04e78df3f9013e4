"""Which API tokens an account's trust still carries: an API token an admin's account issued
works only while that admin could issue it now, and revoking one reaches those issued with it.

Used by ``hub.auth.repository`` when a token is used, revoked, or its issuer is disabled or
changed.
"""

import logging
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.auth.rules import Role
from hub.auth.scoping import within_scope
from hub.persistence.tables import TokenRow, UserRow

logger = logging.getLogger(__name__)


class TokenKind(StrEnum):
    """Why a token exists."""

    SESSION = "session"
    """Issued by signing in; expires after a shift."""
    API = "api"
    """Issued by an admin for a script or an edge."""


def revoke_issued_with(session: Session, token_id: int, now: datetime) -> None:
    """Revoke the API tokens issued with ``token_id``, and those issued with them, down the
    line (ids only grow: each generation is newer than the last, so the walk ends)."""
    parents = [token_id]
    while parents:
        children = list(
            session.scalars(
                select(TokenRow.id).where(
                    TokenRow.issued_with.in_(parents), TokenRow.id > min(parents)
                )
            )
        )
        if not children:
            return
        revoked = session.connection().execute(
            update(TokenRow)
            .where(TokenRow.id.in_(children), TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if revoked.rowcount:
            logger.warning(
                "revoking token %d revoked %d API tokens issued with it", token_id, revoked.rowcount
            )
        parents = children


def revoke_beyond_issuer(session: Session, issuer: UserRow, now: datetime) -> int:
    """Revoke the live API tokens ``issuer`` issued that it could not issue now (its role or
    sites changed), and those issued with them; return how many it issued were revoked."""
    session.flush()
    beyond = [
        token.id
        for token in session.scalars(
            select(TokenRow).where(
                TokenRow.user_id == issuer.id,
                TokenRow.kind == TokenKind.API.value,
                TokenRow.revoked_at.is_(None),
            )
        )
        if not issuer_allows(issuer, token)
    ]
    if not beyond:
        return 0
    session.connection().execute(
        update(TokenRow).where(TokenRow.id.in_(beyond)).values(revoked_at=now)
    )
    for token_id in beyond:
        revoke_issued_with(session, token_id, now)
    # Loud, not silent: a script or an edge holding one is refused from now on.
    logger.warning(
        "changing user %d revoked %d API tokens it issued and could not issue now: issue new ones",
        issuer.id,
        len(beyond),
    )
    return len(beyond)


def issuer_allows(issuer: UserRow | None, token: TokenRow) -> bool:
    """Return whether the account that issued an API token could issue it now: it exists, is
    enabled, is an admin, and its sites cover the token's. A token is the issuer's trust
    handed on: it has no more rights than the issuer still has (found by an outside review:
    a token outlived its issuer's disabling and demotion and kept an admin's rights)."""
    return (
        issuer is not None
        and not issuer.disabled
        and issuer.role == Role.ADMIN.value
        and within_scope(token.sites, None if issuer.sites is None else frozenset(issuer.sites))
    )
