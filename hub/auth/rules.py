"""Who may do what at the hub, the pure core: roles, permissions, principals, secrets.

People sign in with a username and password and get a session token; scripts and edges use
API tokens an admin issues. Either way a request carries an opaque bearer token, and the hub
stores only its SHA-256: a database dump hands out no working token. Passwords are stored as
salted scrypt hashes (RFC 7914 parameters below), compared in constant time.

What a principal may do is one table (``ROLE_PERMISSIONS``) and what each API route needs is
one function (``required_permission``), so the whole policy reads in one screen. A principal
scoped to some sites sees and acts on only those sites' records; ``sites=None`` means all.

Nothing here does I/O or reads the clock: ``now`` is passed in (only ``new_secret`` and
``new_salt`` draw randomness).
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from hub.errors import HubError


class AuthError(HubError):
    """A request without valid credentials (HTTP 401)."""


class ForbiddenError(HubError):
    """A principal asking for something its role or sites do not allow (HTTP 403)."""


class Role(StrEnum):
    """What kind of account a principal is."""

    ADMIN = "admin"
    OPERATOR = "operator"
    RESPONDER = "responder"
    EDGE = "edge"


class Permission(StrEnum):
    """What a request needs to be allowed."""

    SIGNED_IN = "signed_in"
    """Any valid credential (say who one is, sign out)."""
    READ = "read"
    """See cases, alerts, devices, edges, the live stream."""
    ACT = "act"
    """Acknowledge, dispatch, comment on and resolve cases; set silences."""
    RESPOND = "respond"
    """Accept, decline or hand over a case assigned to oneself."""
    MANAGE = "manage"
    """Register devices, households, people, credentials and doors."""
    ADMINISTER = "administer"
    """Create users and API tokens."""
    UPLOAD = "upload"
    """What an edge does over HTTP (evidence, status)."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.READ,
            Permission.ACT,
            Permission.RESPOND,
            Permission.MANAGE,
        }
    ),
    Role.RESPONDER: frozenset({Permission.SIGNED_IN, Permission.READ, Permission.RESPOND}),
    Role.EDGE: frozenset({Permission.SIGNED_IN, Permission.UPLOAD}),
}
"""The whole role policy: an operator runs a site, a responder works its own cases, an admin
also manages accounts, an edge only uploads."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request acts for."""

    name: str
    role: Role
    sites: frozenset[str] | None = None
    """The sites this principal may see and act on; ``None`` means every site."""
    token_id: int | None = None
    """The token row that authenticated the request (``None`` for the bootstrap token)."""

    def can(self, permission: Permission) -> bool:
        """Return whether the principal's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]

    def covers(self, site: str | None) -> bool:
        """Return whether the principal may see records of ``site`` (``None``: no site)."""
        return self.sites is None or (site is not None and site in self.sites)


def authorize(principal: Principal, permission: Permission, site: str | None = None) -> None:
    """Raise ``ForbiddenError`` unless ``principal`` has ``permission`` (at ``site``, if given)."""
    if not principal.can(permission):
        raise ForbiddenError(f"a {principal.role} may not {permission}")
    if site is not None and not principal.covers(site):
        raise ForbiddenError(f"{principal.name} is not allowed at site {site}")


API_PREFIX = "/api/v1"

PUBLIC_API_PATHS: frozenset[str] = frozenset(
    {"/api/v1/auth/login", "/api/v1/health", "/api/v1/gateway/messages"}
)
"""API paths anyone may call: signing in, the liveness counters (no personal data), and the
messaging gateway's webhook, which carries its own HMAC signature (``hub.requests.gateway``)."""

_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROUTE_RULES: tuple[tuple[frozenset[str], re.Pattern[str], Permission], ...] = (
    (frozenset({"GET"}), re.compile(r"/api/v1/auth/me"), Permission.SIGNED_IN),
    (frozenset({"POST"}), re.compile(r"/api/v1/auth/logout"), Permission.SIGNED_IN),
    (
        frozenset({"GET", "POST", "DELETE"}),
        re.compile(r"/api/v1/(users|tokens)(/.*)?"),
        Permission.ADMINISTER,
    ),
    (
        frozenset({"POST"}),
        re.compile(r"/api/v1/cases/\d+/(accept|decline|hand_?over|start|comment)"),
        Permission.RESPOND,
    ),
    # A responder's phone reports where they are (OwnTracks' HTTP mode).
    (frozenset({"POST"}), re.compile(r"/api/v1/owntracks"), Permission.RESPOND),
    # A responder tells the household what was done (notes, visit, after-photos).
    (frozenset({"POST"}), re.compile(r"/api/v1/requests/\d+/updates"), Permission.RESPOND),
    (_WRITE, re.compile(r"/api/v1/(cases|silences|requests)(/.*)?"), Permission.ACT),
    (frozenset({"POST"}), re.compile(r"/api/v1/cameras/[^/]+/rebaseline"), Permission.ACT),
    (frozenset({"POST"}), re.compile(r"/api/v1/(evidence|edges)(/.*)?"), Permission.UPLOAD),
    (frozenset({"GET", "HEAD"}), re.compile(r"/api/v1/.*"), Permission.READ),
    (_WRITE, re.compile(r"/api/v1/.*"), Permission.MANAGE),
)


def required_permission(method: str, path: str) -> Permission | None:
    """Return what a request to ``method path`` needs, or None for a public path.

    Paths outside ``/api/v1`` (the resident page, the console's assets, the docs) are not
    the API's to guard: they are public or carry their own secret.

    Reading needs ``read``; acting on cases ``act``; a responder's own moves ``respond``;
    every other change ``manage``; accounts ``administer``. A method nothing lists needs
    ``administer``, so a new kind of request is closed until someone decides otherwise.
    """
    if path in PUBLIC_API_PATHS or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
        return None
    for methods, pattern, permission in _ROUTE_RULES:
        if method in methods and pattern.fullmatch(path):
            return permission
    return Permission.ADMINISTER


# --- secrets ---------------------------------------------------------------------------

TOKEN_PREFIX = "lnl_"  # noqa: S105 - a marker, not a secret
"""Tokens start with this, so a leaked one is easy to recognise (and to scan for)."""
TOKEN_BYTES = 32
SESSION_LIFETIME = timedelta(hours=12)
"""How long a sign-in lasts: one operator shift."""


def new_secret() -> str:
    """Return a fresh bearer token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def secret_hash(token: str) -> str:
    """Return the stored form of a bearer token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Return whether two secrets are equal, in time independent of where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


# scrypt with N=2^14, r=8, p=1: the interactive-login parameters of RFC 7914 §2 (16 MiB, tens
# of milliseconds), cheap for one sign-in and costly for an offline guesser.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
MIN_PASSWORD_LENGTH = 10


def new_salt() -> bytes:
    """Return a fresh 16-byte salt."""
    return secrets.token_bytes(16)


def hash_password(password: str, salt: bytes) -> str:
    """Return the stored form of ``password``: ``scrypt$N$r$p$salt$hash`` (base64)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN
    )
    return "$".join(
        ("scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches a hash made by ``hash_password``."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- sign-in throttle ------------------------------------------------------------------

MAX_FAILED_SIGN_INS = 5
"""Failed sign-ins for one username from one address before that address must wait."""
MAX_FAILED_SIGN_INS_PER_USER = 30
"""Failed sign-ins for one username from all addresses together before everyone must wait."""
FAILED_SIGN_IN_WINDOW = timedelta(minutes=5)
MAX_TRACKED_USERNAMES = 10_000
"""Bound on the (username, address) pairs remembered, so guessing random usernames from many
addresses cannot exhaust memory."""
_EVERY_ADDRESS = ""


@dataclass
class SignInThrottle:
    """Refuse sign-ins for a username after too many failures in a short window.

    Counted per username *and address*: five wrong passwords for "li" from one address make
    that address wait, not li at her own desk. A limit per username alone would let anyone
    lock an operator out in the middle of an incident by guessing. Guesses from many
    addresses are bounded per username too (``max_per_user``): past that, the username waits
    everywhere, a distributed guesser's price.

    Kept in memory per hub process: it slows an online guesser down, it is not the only
    defence (scrypt is). The address is the client's as the hub sees it: behind a proxy on
    another host, set ``FORWARDED_ALLOW_IPS`` to it (docs/auth.md), or every client has the
    proxy's address and this is a limit per username again.
    """

    max_failures: int = MAX_FAILED_SIGN_INS
    max_per_user: int = MAX_FAILED_SIGN_INS_PER_USER
    window: timedelta = FAILED_SIGN_IN_WINDOW
    _failures: dict[tuple[str, str], deque[datetime]] = field(default_factory=dict)

    def allowed(self, username: str, address: str, now: datetime) -> bool:
        """Return whether ``username`` may try to sign in from ``address`` at ``now``."""
        return (
            len(self._recent((username, address), now)) < self.max_failures
            and len(self._recent((username, _EVERY_ADDRESS), now)) < self.max_per_user
        )

    def admit(self, username: str, address: str, now: datetime) -> bool:
        """Return whether ``username`` may try to sign in from ``address`` at ``now``,
        counting the attempt as failed until ``succeeded`` says otherwise.

        Counted before the password is checked, not after: the check takes tens of
        milliseconds in a worker thread, and guesses sent at once would otherwise all pass
        ``allowed`` before the first failure is recorded.
        """
        if not self.allowed(username, address, now):
            return False
        self.failed(username, address, now)
        return True

    def failed(self, username: str, address: str, now: datetime) -> None:
        """Record a failed sign-in."""
        self._recent((username, address), now).append(now)
        self._recent((username, _EVERY_ADDRESS), now).append(now)
        while len(self._failures) > MAX_TRACKED_USERNAMES:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of a user who signed in from ``address``. The count over every
        address keeps a distributed guesser's attempts and loses only this one, which
        ``admit`` counted as failed."""
        self._failures.pop((username, address), None)
        every = self._failures.get((username, _EVERY_ADDRESS))
        if every:
            every.pop()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        recent = self._failures.setdefault(key, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        return recent
