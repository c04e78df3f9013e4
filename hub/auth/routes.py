"""Signing in, accounts and tokens over HTTP, and the guard every ``/api/v1`` route sits behind.

A request authenticates with ``Authorization: Bearer <token>`` or, from the console, the
session cookie that signing in sets (HttpOnly, SameSite=Strict, so page scripts never see it
and other sites cannot send it): ``__Host-linli_session`` over HTTPS, ``linli_session`` over
plain HTTP (``session_cookie``). ``authorized`` resolves the principal, checks
the permission ``hub.auth.required_permission`` names for the request, and leaves the
principal on ``request.state.principal`` for routes that record who acted. No credential is
ever logged.
"""

import asyncio
import base64
import logging
import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, SecretStr, StringConstraints

# The router's own reading of a request's path: the guard must judge the path the router
# routes, so it takes the same function rather than a copy that could drift.
from starlette._utils import get_route_path

from hub.audit.acting import ActingToken, act_with_token
from hub.auth.repository import AuthStore, TokenView, UserView
from hub.auth.rules import (
    BOOTSTRAP_NAME,
    SAFE_METHODS,
    SESSION_LIFETIME,
    AccountChange,
    AuthError,
    ForbiddenError,
    Principal,
    Role,
    SignInThrottle,
    authorize,
    from_own_page,
    new_secret,
    required_permission,
    same_secret,
)
from hub.auth.scoping import within_scope
from hub.cases.actions import OWN_ACTIONS
from hub.cases.rules import CaseAction
from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import get_clock, get_settings, get_store
from hub.http.views import Items, View

logger = logging.getLogger(__name__)

SESSION_COOKIE = "linli_session"
"""The session cookie's name over plain HTTP (the loopback demo, a LAN without TLS)."""
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
"""Its name over HTTPS: Secure, ``Path=/``, no ``Domain``, which browsers enforce for the
prefix, so no other host (a sibling subdomain) and no plain-HTTP page can set or overwrite it.
Under the plain name, such a page planted its own session in an operator's browser (cookie
tossing: she would have acted as the planter's account; outside review)."""


def session_cookie(request: Request) -> str:
    """Return the name the session cookie has on this request's scheme; the hub reads and
    sets that one only (over HTTPS a plain ``linli_session`` is anyone's)."""
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


BOOTSTRAP_PRINCIPAL = BOOTSTRAP_NAME

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._@-]{1,64}$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
SiteId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def get_auth_store(request: Request) -> AuthStore:
    """Return the app's account repository (created by the lifespan)."""
    store: AuthStore = request.app.state.auth_store
    return store


def get_throttle(request: Request) -> SignInThrottle:
    """Return the app's sign-in throttle."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle


AuthStoreDep = Annotated[AuthStore, Depends(get_auth_store)]


def bearer_token(request: Request) -> str | None:
    """Return the token a request presents (header first, then the session cookie).

    ``Authorization: Basic`` carries it as the password, the principal's name as the user:
    for clients that know no other scheme (an OwnTracks app in HTTP mode). ``authenticate``
    then checks that the user is whom the token names.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            return _basic_credentials(token)[1]
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return request.cookies.get(session_cookie(request))


def _basic_credentials(encoded: str) -> tuple[str, str | None]:
    """Return the user and the password of a Basic credential (no password if malformed)."""
    try:
        user, colon, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (ValueError, UnicodeDecodeError):
        return "", None
    return user, password if colon and password else None


def basic_user(request: Request) -> str | None:
    """Return the user of a request's Basic credential, None if it sends none."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    return _basic_credentials(encoded)[0] if scheme.lower() == "basic" else None


async def authenticate(request: Request) -> Principal:
    """Return who the request acts for, or raise ``AuthError``."""
    token = bearer_token(request)
    if token is None:
        raise AuthError("sign in first: send 'Authorization: Bearer <token>'")
    headers = request.headers
    if (
        "authorization" not in headers
        and request.method not in SAFE_METHODS
        and not from_own_page(headers.get("origin"), headers.get("referer"), headers.get("host"))
    ):
        # The session cookie, sent by a page that is not the hub's own (hub.auth.rules).
        raise ForbiddenError(
            "a change signed in with the session cookie must come from the hub's own pages "
            "(its Origin is not this host); other clients send 'Authorization: Bearer <token>'"
        )
    settings = get_settings(request)
    bootstrap: SecretStr | None = settings.bootstrap_token
    if bootstrap is not None and same_secret(token, bootstrap.get_secret_value()):
        return Principal(name=BOOTSTRAP_PRINCIPAL, role=Role.ADMIN)
    store = get_auth_store(request)
    principal = await asyncio.to_thread(store.principal_for, token)
    if principal is None:
        raise AuthError("the token is unknown, expired or revoked")
    user = basic_user(request)
    if user is not None and not same_secret(user, principal.name):
        raise AuthError("the user named is not whom the token is for")
    return principal


async def authorized(request: Request) -> Principal | None:
    """Guard of every API route: authenticate and check the permission the request needs.

    A request about one case (``/cases/<id>/…``, also the console's and the evidence
    routes) is also checked against that case: a caller scoped to other sites is told the
    case does not exist, and a responder may accept, decline, start or hand over only a case
    whose team they are on (a responder account's username is its roster id).
    """
    # Said for every request (none at first): a request handled in a context an earlier
    # one set (a test's in-process client) must not act with that one's token.
    act_with_token(None)
    # The path as the router sees it, without the prefix a proxy serves the hub under
    # (``root_path``, uvicorn's ``--root-path``, or a ``Mount``): the full URL's path
    # (``/linli/api/v1/cases``) is outside ``/api/v1``, so the guard took every API route
    # behind a prefix for a public page and answered cases, households and the roster to
    # anyone (found by an outside review).
    permission = required_permission(request.method, get_route_path(request.scope))
    if permission is None:
        return None
    principal = await authenticate(request)
    authorize(principal, permission)
    request.state.principal = principal
    if principal.own_name and principal.token_id is not None:
        # The audit trail names the token beside its name (hub.audit.acting).
        act_with_token(ActingToken(principal.name, principal.token_id))
    raw_case_id = request.path_params.get("case_id")
    if raw_case_id is not None:
        case_id = _case_number(raw_case_id)
        if principal.sites is not None or principal.role is Role.RESPONDER:
            await _check_case_scope(request, principal, case_id, _case_action(request))
    return principal


_CASE_ID = re.compile(r"[1-9][0-9]{0,17}")
_OWN_CASE_ACTIONS = frozenset(action.value for action in OWN_ACTIONS)
"""Checked here first, for a clear 403; ``hub.cases`` checks again under the case's row lock
(the team may change between this read and the action: ``PersonAction.for_self``)."""
_RESPONDER_CASE_ACTIONS = _OWN_CASE_ACTIONS | {CaseAction.COMMENT.value}
"""What a responder may do to a case only when on its team: their own moves, and writing on
its record (``respond`` is the permission of a case assigned to oneself; a note to a request
is refused to a responder not on its case too). A comment changes no duty, so it is checked
here only (found by an outside review: any responder of a site could comment on its cases)."""


def _case_number(raw: str) -> int:
    """Return the case a route's ``case_id`` names, written one way only: plain digits, no
    leading zero (case ids start at 1).

    The route itself would also take ``1.0``, ``+1`` or `` 1`` for case 1 (its integer
    conversion is lenient); a check that read the path as text missed those spellings, and
    an operator of one site could resolve another site's case through them. So the scope is
    checked on the route's own parameter, and any other spelling of an id does not exist.
    """
    if not _CASE_ID.fullmatch(raw):
        raise NotFoundError(f"case {raw[:40]!r} does not exist")
    return int(raw)


def _case_action(request: Request) -> str | None:
    """Return what a case route does (``resolve``, ``accept``…), None for the case itself."""
    template: str = getattr(request.scope.get("route"), "path", "")
    _, _, action = template.partition("{case_id}")
    return action.strip("/") or None


async def _check_case_scope(
    request: Request, principal: Principal, case_id: int, action: str | None
) -> None:
    store = get_store(request)
    scope = await asyncio.to_thread(store.cases.case_scope, case_id)
    if scope is None:
        return  # the route itself answers 404
    site_id, team = scope
    if not principal.covers(site_id):
        raise NotFoundError(f"case {case_id} does not exist")
    own_move = principal.role is Role.RESPONDER and action in _RESPONDER_CASE_ACTIONS
    if own_move and principal.name not in team:
        raise ForbiddenError(f"case {case_id} is not assigned to {principal.name}")


def current_principal(request: Request) -> Principal:
    """Return the principal ``authorized`` found (routes that record who acted use this)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise AuthError("sign in first")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def actor_of(request: Request) -> str | None:
    """Return the name to record as the actor of a change, if the request was authenticated."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return None if principal is None else principal.name


class PrincipalView(View):
    """Who the caller is."""

    name: str
    role: Role
    sites: list[str] | None

    @classmethod
    def of(cls, principal: Principal) -> "PrincipalView":
        """Return the view of a principal."""
        sites = None if principal.sites is None else sorted(principal.sites)
        return cls(name=principal.name, role=principal.role, sites=sites)


class SignInRequest(View):
    """Body of ``POST /auth/login``."""

    username: Username
    password: SecretStr


class SignedIn(View):
    """A new session: its token (shown this once) and who it is for."""

    token: str
    expires_at: str
    principal: PrincipalView


class UserRequest(View):
    """Body of ``POST /users``."""

    username: Username
    password: SecretStr
    role: Role
    display_name: Name | None = None
    sites: list[SiteId] | None = None


class TokenRequest(View):
    """Body of ``POST /tokens``: an API token for a script or an edge."""

    name: Name
    role: Role
    sites: list[SiteId] | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class IssuedToken(View):
    """A new API token (shown this once) and its record."""

    token: str
    record: TokenView


class PasswordChange(View):
    """Body of ``POST /auth/password``: the password in use and the new one."""

    current_password: SecretStr
    new_password: SecretStr


class PasswordChanged(View):
    """What changing one's password did: the account's other sessions ended."""

    sessions_ended: int


class PasswordReset(View):
    """Body of ``POST /users/{id}/password``: an admin sets a new password."""

    new_password: SecretStr


class UserChange(View):
    """Body of ``PATCH /users/{id}``: what to change of an account; a field left out stays."""

    role: Role | None = None
    sites: list[SiteId] | None = None
    """The sites the account may see; ``null``: every site."""
    display_name: Name | None = None


class DisableRequest(View):
    """Body of ``POST /users/{id}/disabled``."""

    disabled: bool


auth_router = APIRouter(prefix="/api/v1", tags=["auth"])


@auth_router.post("/auth/login")
async def sign_in(
    body: SignInRequest, request: Request, response: Response, store: AuthStoreDep
) -> SignedIn:
    """Sign in with a username and password; the session also comes as an HttpOnly cookie."""
    clock = get_clock(request)
    throttle = get_throttle(request)
    now = clock()
    address = request.client.host if request.client is not None else ""
    if not throttle.admit(body.username, address, now):
        raise AuthError("too many failed sign-ins: wait a few minutes")
    user = await asyncio.to_thread(
        store.check_password, body.username, body.password.get_secret_value()
    )
    if user is None:
        # A username no account has is not logged: it is often a password typed one field too
        # early, and the log would keep it in clear (found by an outside review).
        known = await asyncio.to_thread(store.has_user, body.username)
        who = body.username if known else f"an unknown username ({len(body.username)} characters)"
        logger.warning("failed sign-in for %s from %s", who, address or "an unknown address")
        raise AuthError("wrong username or password")
    throttle.succeeded(body.username, address, now)
    token = new_secret()
    record = await asyncio.to_thread(store.issue_session, user, token)
    cookie = session_cookie(request)
    response.set_cookie(
        cookie,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=cookie == SECURE_SESSION_COOKIE,
        path="/",
    )
    expires_at = record.expires_at.isoformat() if record.expires_at is not None else ""
    principal = Principal(name=user.username, role=user.role, sites=_frozen(user.sites))
    return SignedIn(token=token, expires_at=expires_at, principal=PrincipalView.of(principal))


@auth_router.post("/auth/logout", status_code=204)
async def sign_out(
    request: Request, principal: PrincipalDep, response: Response, store: AuthStoreDep
) -> None:
    """End the caller's session (its token stops working) and clear the cookie."""
    if principal.token_id is not None:
        await asyncio.to_thread(store.revoke_token, principal.token_id, actor=principal.name)
    cookie = session_cookie(request)
    response.delete_cookie(
        cookie, path="/", secure=cookie == SECURE_SESSION_COOKIE, httponly=True, samesite="strict"
    )


@auth_router.post("/auth/password")
async def change_password(
    body: PasswordChange, request: Request, store: AuthStoreDep, principal: PrincipalDep
) -> PasswordChanged:
    """Change the caller's own password, giving the one in use; the account's other sessions
    end (this one goes on). A wrong current password counts as a failed sign-in: a stolen
    session cannot guess it faster than the sign-in page could."""
    throttle = get_throttle(request)
    now = get_clock(request)()
    address = request.client.host if request.client is not None else ""
    if not throttle.admit(principal.name, address, now):
        raise ForbiddenError("too many wrong passwords: wait a few minutes")
    ended = await asyncio.to_thread(
        store.change_password,
        principal,
        body.current_password.get_secret_value(),
        body.new_password.get_secret_value(),
    )
    throttle.succeeded(principal.name, address, now)
    return PasswordChanged(sessions_ended=ended)


@auth_router.get("/auth/me")
async def who_am_i(principal: PrincipalDep) -> PrincipalView:
    """Say who the caller is."""
    return PrincipalView.of(principal)


@auth_router.post("/users", status_code=201)
async def create_user(body: UserRequest, store: AuthStoreDep, principal: PrincipalDep) -> UserView:
    """Create an account (admins only; a scoped admin, for some of its sites only)."""
    sites = _grantable(principal, body.sites)
    return await asyncio.to_thread(
        store.create_user,
        body.username,
        body.password.get_secret_value(),
        body.role,
        display_name=body.display_name,
        sites=sites,
        actor=principal.name,
    )


@auth_router.get("/users")
async def list_users(store: AuthStoreDep, principal: PrincipalDep) -> Items[UserView]:
    """List the accounts (admins only; a scoped admin sees those of its sites only)."""
    return Items(items=await asyncio.to_thread(store.list_users, scope=principal.sites))


@auth_router.post("/users/{user_id}/disabled")
async def disable_user(
    user_id: int, body: DisableRequest, store: AuthStoreDep, principal: PrincipalDep
) -> UserView:
    """Disable or re-enable an account; its sessions and tokens follow at once."""
    return await asyncio.to_thread(
        store.set_user_disabled,
        user_id,
        body.disabled,
        actor=principal.name,
        scope=principal.sites,
    )


@auth_router.patch("/users/{user_id}")
async def change_user(
    user_id: int, body: UserChange, store: AuthStoreDep, principal: PrincipalDep
) -> UserView:
    """Change an account's role, sites or shown name (admins only; a scoped admin, its sites'
    accounts, to some of its sites). Its sessions act as it is now at once, its live streams
    end at their next check, and the API tokens it issued that it could not issue now are
    revoked. An admin's own role and sites are another admin's to change."""
    given = body.model_fields_set
    for field in ("role", "display_name"):
        if field in given and getattr(body, field) is None:
            raise InvalidInputError(f"{field} cannot be null: leave it out to keep it")
    change = AccountChange(
        role=body.role,
        sites=_grantable(principal, body.sites) if "sites" in given else None,
        change_sites="sites" in given,
        display_name=body.display_name,
    )
    person = principal.token_id is not None and not principal.own_name
    return await asyncio.to_thread(
        store.change_user,
        user_id,
        change,
        actor=principal.name,
        actor_account=principal.name if person else None,
        scope=principal.sites,
    )


@auth_router.post("/users/{user_id}/password")
async def reset_password(
    user_id: int, body: PasswordReset, store: AuthStoreDep, principal: PrincipalDep
) -> UserView:
    """Set an account's password (admins only; a scoped admin, one of its sites' accounts);
    every session of the account ends, and its user signs in with the new one."""
    return await asyncio.to_thread(
        store.reset_password,
        user_id,
        body.new_password.get_secret_value(),
        actor=principal.name,
        scope=principal.sites,
    )


@auth_router.post("/tokens", status_code=201)
async def create_token(
    body: TokenRequest, request: Request, store: AuthStoreDep, principal: PrincipalDep
) -> IssuedToken:
    """Issue an API token for a script or an edge (admins only; a scoped admin, for some of
    its sites only); it is shown this once. It works while the admin who issued it could
    issue it now (enabled, an admin of its sites): ``AuthStore.principal_for``."""
    sites = _grantable(principal, body.sites)
    clock = get_clock(request)
    expires_at = clock() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token = new_secret()
    record = await asyncio.to_thread(
        store.issue_api_token,
        token,
        body.name,
        body.role,
        sites=sites,
        expires_at=expires_at,
        actor=principal.name,
        issued_with=principal.token_id,
    )
    return IssuedToken(token=token, record=record)


@auth_router.get("/tokens")
async def list_tokens(store: AuthStoreDep, principal: PrincipalDep) -> Items[TokenView]:
    """List the API tokens' records, never the tokens (admins only; a scoped admin sees
    those of its sites only)."""
    return Items(items=await asyncio.to_thread(store.list_tokens, scope=principal.sites))


@auth_router.delete("/tokens/{token_id}")
async def revoke_token(token_id: int, store: AuthStoreDep, principal: PrincipalDep) -> TokenView:
    """Revoke an API token (admins only; a scoped admin, one of its sites only)."""
    return await asyncio.to_thread(
        store.revoke_token, token_id, actor=principal.name, scope=principal.sites
    )


def _grantable(principal: Principal, requested: list[str] | None) -> frozenset[str] | None:
    """Return the sites a new account or token is to be good for, or raise ``ForbiddenError``
    if the caller may not grant them: a scoped caller grants only some of its own sites."""
    sites = _frozen(requested)
    if not within_scope(sites, principal.sites):
        raise ForbiddenError(
            f"{principal.name} may grant only some of its own sites: "
            f"{', '.join(sorted(principal.sites or ()))}"
        )
    return sites


def _frozen(sites: list[str] | None) -> frozenset[str] | None:
    return None if sites is None else frozenset(sites)
