"""Users and bearer tokens in the hub's database; each public method is one transaction.

Only hashes are stored (``hub.auth.rules``): a password's scrypt hash, a token's SHA-256. A token
row carries the role and sites it grants; a session names its user, and stops working the
moment that user is disabled. An API token an admin's account issued names that admin (its
``user_id``, the issuer) and works only while the issuer could issue it now: enabled, still an
admin, still of the token's sites (``hub.auth.issuers``). One the bootstrap token, the host's
``linli token create`` or an older hub issued names no one and stands on its own.
"""

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit.chain import AuditAction, AuditRecord
from hub.auth.issuers import (
    TokenKind,
    issuer_allows,
    revoke_beyond_issuer,
    revoke_issued_with,
)
from hub.auth.rules import (
    BOOTSTRAP_NAME,
    SESSION_LIFETIME,
    AccountChange,
    ForbiddenError,
    Principal,
    Role,
    hash_password,
    new_salt,
    secret_hash,
    unknown_user_hash,
    verify_password,
)
from hub.auth.scoping import within_scope
from hub.errors import InvalidInputError, NotFoundError
from hub.http.views import View
from hub.persistence.tables import TokenRow, UserRow
from hub.persistence.transactions import Clock, Database, audit, get_existing, utc_now

logger = logging.getLogger(__name__)

SEED_OPERATOR = "operator"
"""The account (and API token name) ``seed_operator`` creates."""


class UserView(View):
    """An account, without its password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    sites: list[str] | None
    disabled: bool
    created_at: datetime


class TokenView(View):
    """A token's record, without the token."""

    id: int
    name: str
    kind: TokenKind
    user_id: int | None
    """A session's account; an API token's issuer (None: it stands on its own)."""
    role: Role
    sites: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _user_view(row: UserRow) -> UserView:
    return UserView.model_validate(row, from_attributes=True)


def _token_view(row: TokenRow) -> TokenView:
    return TokenView.model_validate(row, from_attributes=True)


def _sites(sites: frozenset[str] | None) -> list[str] | None:
    return None if sites is None else sorted(sites)


class AuthStore:
    """Reads and writes accounts and tokens; each public method is one transaction."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self._db = Database(engine, clock=clock)

    @contextlib.contextmanager
    def _audited(self, record: AuditRecord) -> Iterator[Session]:
        # Every change to who may do what is on the audit trail, in the same transaction.
        with self._db.writing() as session:
            audit(session, record)
            yield session

    def _record(self, action: AuditAction, actor: str | None, **detail: object) -> AuditRecord:
        return AuditRecord(ts=self._db.clock(), action=action.value, actor=actor, detail=detail)

    # --- users ---------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        display_name: str | None = None,
        sites: frozenset[str] | None = None,
        actor: str | None = None,
    ) -> UserView:
        """Create an account; refuse a taken or reserved username or a too-short password."""
        if username.casefold() == BOOTSTRAP_NAME:
            raise InvalidInputError(
                f"the username {username!r} is the bootstrap token's in the audit trail"
            )
        password_hash = self._password_hash(password)
        row = UserRow(
            username=username,
            display_name=display_name or username,
            role=role.value,
            sites=_sites(sites),
            password_hash=password_hash,
            disabled=False,
            created_at=self._db.clock(),
        )
        record = self._record(
            AuditAction.USER_CREATED, actor, username=username, role=role.value, sites=_sites(sites)
        )
        try:
            with self._audited(record) as session:
                session.add(row)
        except IntegrityError as exc:
            raise InvalidInputError(f"the username {username!r} is taken") from exc
        return _user_view(row)

    def list_users(self, *, scope: frozenset[str] | None = None) -> list[UserView]:
        """Return the accounts within ``scope`` (every one when None), oldest first."""
        with self._db.reading() as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.id))
            return [_user_view(row) for row in rows if within_scope(row.sites, scope)]

    def set_user_disabled(
        self,
        user_id: int,
        disabled: bool,
        *,
        actor: str | None = None,
        scope: frozenset[str] | None = None,
    ) -> UserView:
        """Disable (or enable again) an account; its sessions end at once, for good.

        Disabling revokes the account's sessions, not only suspends them: enabling it again
        brought every session of the last shift back, the one on a stolen laptop too, that
        the admin had disabled the account to end (found by an outside review). The user
        signs in afresh. An account beyond ``scope`` is answered as a missing one.
        """
        action = AuditAction.USER_DISABLED if disabled else AuditAction.USER_ENABLED
        missing = f"no user {user_id}"
        now = self._db.clock()
        with self._audited(self._record(action, actor, user_id=user_id)) as session:
            row = get_existing(session, UserRow, user_id, missing)
            if not within_scope(row.sites, scope):
                raise NotFoundError(missing)
            row.disabled = disabled
            if disabled:
                revoked = session.connection().execute(
                    update(TokenRow)
                    .where(
                        TokenRow.user_id == user_id,
                        TokenRow.kind == TokenKind.API.value,
                        TokenRow.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
                if revoked.rowcount:
                    # Loud, not silent: a script or an edge holding one is refused from now on.
                    logger.warning(
                        "disabling user %d revoked %d API tokens it issued: issue new ones",
                        user_id,
                        revoked.rowcount,
                    )
                self._end_sessions(session, user_id)
            return _user_view(row)

    def change_password(self, principal: Principal, current: str, new: str) -> int:
        """Change the password of the account ``principal`` signed in as, with the one in use
        (``current``); end the account's other sessions (one signed in elsewhere, a stolen
        laptop's, must sign in again), keep this one; return how many ended.

        Raise ``ForbiddenError`` for a caller that is not a person signed in with a session (an
        API token, the bootstrap token: no password to change) or a wrong ``current``, and
        ``InvalidInputError`` for a new password the policy refuses or the same as before.
        """
        if principal.token_id is None or principal.own_name:
            raise ForbiddenError("only a person signed in with a password can change it")
        if current == new:
            raise InvalidInputError("the new password is the one in use")
        user = self.check_password(principal.name, current)
        if user is None:
            raise ForbiddenError("the current password is wrong")
        new_hash = self._password_hash(new)
        with self._db.writing() as session:
            row = session.get(UserRow, user.id, with_for_update=True)
            session_row = session.get(TokenRow, principal.token_id)
            if (
                row is None
                or row.disabled
                or session_row is None
                or session_row.user_id != user.id
                or session_row.kind != TokenKind.SESSION.value
            ):
                raise ForbiddenError("only a person signed in with a password can change it")
            if not verify_password(current, row.password_hash):
                # Changed by another request between the check and this transaction.
                raise ForbiddenError("the current password is wrong")
            row.password_hash = new_hash
            ended = self._end_sessions(session, user.id, keep=principal.token_id)
            audit(
                session,
                self._record(
                    AuditAction.PASSWORD_CHANGED,
                    principal.name,
                    user_id=user.id,
                    sessions_ended=ended,
                ),
            )
        return ended

    def reset_password(
        self,
        user_id: int,
        new: str,
        *,
        actor: str | None = None,
        scope: frozenset[str] | None = None,
    ) -> UserView:
        """Set an account's password (an admin's reset: a forgotten or leaked one); every
        session of the account ends. An account beyond ``scope`` is answered as a missing one."""
        new_hash = self._password_hash(new)
        missing = f"no user {user_id}"
        with self._db.writing() as session:
            row = get_existing(session, UserRow, user_id, missing)
            if not within_scope(row.sites, scope):
                raise NotFoundError(missing)
            row.password_hash = new_hash
            ended = self._end_sessions(session, user_id)
            audit(
                session,
                self._record(
                    AuditAction.PASSWORD_RESET, actor, user_id=user_id, sessions_ended=ended
                ),
            )
            return _user_view(row)

    def change_user(
        self,
        user_id: int,
        change: AccountChange,
        *,
        actor: str | None = None,
        actor_account: str | None = None,
        scope: frozenset[str] | None = None,
    ) -> UserView:
        """Change an account's role, sites or shown name. Its sessions follow at once (a
        session acts as its account is now); the API tokens it issued that it could not issue
        now (``hub.auth.issuers``) are revoked, for good and down the line, as disabling does.

        ``actor_account``: the account of the person asking (a session's), who may not change
        their own role or sites (another admin does: one slip would lock them out). An account
        beyond ``scope`` is answered as a missing one.
        """
        missing = f"no user {user_id}"
        with self._db.writing() as session:
            row = session.get(UserRow, user_id, with_for_update=True)
            if row is None or not within_scope(row.sites, scope):
                raise NotFoundError(missing)
            if change.of_rights and actor_account == row.username:
                raise ForbiddenError("another admin must change your own role or sites")
            before = {"role": row.role, "sites": row.sites, "display_name": row.display_name}
            if change.role is not None:
                row.role = change.role.value
            if change.change_sites:
                row.sites = _sites(change.sites)
            if change.display_name is not None:
                row.display_name = change.display_name
            after = {"role": row.role, "sites": row.sites, "display_name": row.display_name}
            if after == before:
                return _user_view(row)  # nothing changed, nothing recorded
            revoked = revoke_beyond_issuer(session, row, self._db.clock())
            changed = {name: value for name, value in after.items() if before[name] != value}
            audit(
                session,
                self._record(
                    AuditAction.USER_CHANGED,
                    actor,
                    user_id=user_id,
                    username=row.username,
                    before={name: before[name] for name in changed},
                    after=changed,
                    tokens_revoked=revoked,
                ),
            )
            return _user_view(row)

    @staticmethod
    def _password_hash(password: str) -> str:
        try:
            return hash_password(password, new_salt())
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc

    def _end_sessions(self, session: Session, user_id: int, keep: int | None = None) -> int:
        """Revoke the account's live sessions but ``keep``; return how many."""
        ended = session.connection().execute(
            update(TokenRow)
            .where(
                TokenRow.user_id == user_id,
                TokenRow.kind == TokenKind.SESSION.value,
                TokenRow.revoked_at.is_(None),
                TokenRow.id != (keep if keep is not None else -1),
            )
            .values(revoked_at=self._db.clock())
        )
        return ended.rowcount

    def has_user(self, username: str) -> bool:
        """Return whether an account has this username (enabled or not)."""
        with self._db.reading() as session:
            found = session.scalar(select(UserRow.id).where(UserRow.username == username))
        return found is not None

    def check_password(self, username: str, password: str) -> UserView | None:
        """Return the enabled account whose password this is, or None."""
        with self._db.reading() as session:
            row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
        usable = row is not None and not row.disabled
        stored = row.password_hash if row is not None and usable else unknown_user_hash()
        # The hash is checked whether or not the account can sign in: the same time either way.
        if not verify_password(password, stored) or row is None or not usable:
            return None
        return _user_view(row)

    # --- tokens --------------------------------------------------------------------------

    def issue_session(self, user: UserView, token: str) -> TokenView:
        """Store a sign-in session token for ``user``, valid for one shift."""
        now = self._db.clock()
        return self._add_token(
            self._record(AuditAction.SIGNED_IN, user.username),
            TokenRow(
                token_hash=secret_hash(token),
                name=f"session of {user.username}",
                kind=TokenKind.SESSION.value,
                user_id=user.id,
                role=user.role.value,
                sites=user.sites,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                revoked_at=None,
            ),
        )

    def issue_api_token(
        self,
        token: str,
        name: str,
        role: Role,
        *,
        sites: frozenset[str] | None = None,
        expires_at: datetime | None = None,
        actor: str | None = None,
        issued_with: int | None = None,
    ) -> TokenView:
        """Store an API token granting ``role`` at ``sites``.

        ``issued_with`` is the id of the token the request that issues it was authenticated
        with: the new token's issuer is that session's account (or, for an API token, that
        token's own issuer), and it works only while the issuer could issue it now
        (``principal_for``). None (the bootstrap token, the host's CLI): no issuer.
        """
        issuer: int | None = None
        parent: int | None = None  # the API token it was issued with (not a session)
        if issued_with is not None:
            with self._db.reading() as session:
                found = session.execute(
                    select(TokenRow.user_id, TokenRow.kind).where(TokenRow.id == issued_with)
                ).first()
            if found is not None:
                issuer = found[0]
                parent = issued_with if found[1] == TokenKind.API.value else None
        detail: dict[str, object] = {"name": name, "role": role.value, "sites": _sites(sites)}
        if issuer is not None:
            detail["issuer_id"] = issuer
        if parent is not None:
            detail["issued_with"] = parent
        return self._add_token(
            self._record(AuditAction.TOKEN_ISSUED, actor, **detail),
            TokenRow(
                token_hash=secret_hash(token),
                name=name,
                kind=TokenKind.API.value,
                user_id=issuer,
                role=role.value,
                sites=_sites(sites),
                created_at=self._db.clock(),
                expires_at=expires_at,
                revoked_at=None,
                issued_with=parent,
            ),
        )

    def ensure_api_token(self, token: str, name: str, role: Role) -> TokenView:
        """Store an API token unless the same token is already stored (a fixed demo token)."""
        with self._db.reading() as session:
            row = session.scalars(
                select(TokenRow).where(TokenRow.token_hash == secret_hash(token))
            ).first()
        if row is not None:
            return _token_view(row)
        try:
            return self.issue_api_token(token, name, role)
        except IntegrityError:  # another hub worker stored the same token first
            return self.ensure_api_token(token, name, role)

    def seed_operator(self, secret: str) -> None:
        """Make ``secret`` work as an operator API token and as the password of ``operator``.

        Idempotent: a token already stored and an ``operator`` account that exists are left
        as they are (a changed password stays changed).
        """
        self.ensure_api_token(secret, SEED_OPERATOR, Role.OPERATOR)
        with self._db.reading() as session:
            exists = session.scalars(
                select(UserRow.id).where(UserRow.username == SEED_OPERATOR)
            ).first()
        if exists is None:
            with contextlib.suppress(InvalidInputError):  # another worker created it first
                self.create_user(SEED_OPERATOR, secret, Role.OPERATOR, display_name="Operator")

    def _add_token(self, record: AuditRecord, row: TokenRow) -> TokenView:
        with self._audited(record) as session:
            session.add(row)
        return _token_view(row)

    def list_tokens(self, *, scope: frozenset[str] | None = None) -> list[TokenView]:
        """Return the records of the API tokens within ``scope`` (every one when None);
        sessions are not listed."""
        with self._db.reading() as session:
            rows = session.scalars(
                select(TokenRow).where(TokenRow.kind == TokenKind.API.value).order_by(TokenRow.id)
            )
            return [_token_view(row) for row in rows if within_scope(row.sites, scope)]

    def revoke_token(
        self, token_id: int, *, actor: str | None = None, scope: frozenset[str] | None = None
    ) -> TokenView:
        """Revoke a token; it stops working at once. Revoking twice keeps the first time.
        An API token's revocation reaches the API tokens issued with it, and theirs: a leaked
        admin token leaves none of what was minted with it working (a session's does not: an
        admin signing out ends nothing they issued).

        A token beyond ``scope`` is answered as a missing one.
        """
        now = self._db.clock()
        missing = f"no token {token_id}"
        record = self._record(AuditAction.TOKEN_REVOKED, actor, token_id=token_id)
        with self._audited(record) as session:
            found = get_existing(session, TokenRow, token_id, missing)
            if not within_scope(found.sites, scope):
                raise NotFoundError(missing)
            session.execute(
                update(TokenRow)
                .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if found.kind == TokenKind.API.value:
                revoke_issued_with(session, token_id, now)
            session.refresh(found)
            return _token_view(found)

    def principal_for(self, token: str) -> Principal | None:
        """Return who a bearer token acts for, or None if it is unknown, expired or revoked."""
        now = self._db.clock()
        with self._db.reading() as session:
            found = session.execute(
                select(TokenRow, UserRow)
                .outerjoin(UserRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.token_hash == secret_hash(token))
            ).first()
        if found is None:
            return None
        row, user = found
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.kind == TokenKind.API.value:
            if row.user_id is not None and not issuer_allows(user, row):
                logger.warning(
                    "API token %d (%s) refused: the admin who issued it is disabled, removed, "
                    "or no longer an admin of its sites; issue a new one",
                    row.id,
                    row.name,
                )
                return None
            # An API token acts under its own name, with its own role and sites.
            return Principal(
                name=row.name,
                role=Role(row.role),
                sites=None if row.sites is None else frozenset(row.sites),
                token_id=row.id,
                own_name=True,
            )
        if user is None or user.disabled:
            return None
        # A session follows the account as it is now (role and sites changed by an admin
        # apply at once).
        return Principal(
            name=user.username,
            role=Role(user.role),
            sites=None if user.sites is None else frozenset(user.sites),
            token_id=row.id,
            own_name=False,
        )
