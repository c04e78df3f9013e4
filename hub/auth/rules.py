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
import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

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
class AccountChange:
    """What an admin changes of an account (``PATCH /users/{id}``); each field left None stays
    as it is, and ``sites`` too unless ``change_sites`` (then None means every site)."""

    role: Role | None = None
    sites: frozenset[str] | None = None
    change_sites: bool = False
    display_name: str | None = None

    @property
    def of_rights(self) -> bool:
        """Whether it changes what the account may do or see (its role or its sites)."""
        return self.role is not None or self.change_sites


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request acts for."""

    name: str
    role: Role
    sites: frozenset[str] | None = None
    """The sites this principal may see and act on; ``None`` means every site."""
    token_id: int | None = None
    """The token row that authenticated the request (``None`` for the bootstrap token)."""
    own_name: bool = False
    """Whether ``name`` is a standalone API token's own name, not an account's (an admin names
    tokens freely, also like a person): the audit trail then names the token too."""

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


BOOTSTRAP_NAME = "bootstrap"
"""The bootstrap token's name in the audit trail (no ``token_id``, as an account's session):
no account may have it, in any case, or its actions would read as the bootstrap token's."""

API_PREFIX = "/api/v1"

PUBLIC_API_PATHS: frozenset[str] = frozenset(
    {"/api/v1/auth/login", "/api/v1/health", "/api/v1/gateway/messages"}
)
"""API paths anyone may call: signing in, the liveness counters (no personal data), and the
messaging gateway's webhook, which carries its own HMAC signature (``hub.requests.gateway``)."""

_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROUTE_RULES: tuple[tuple[frozenset[str], re.Pattern[str], Permission], ...] = (
    (frozenset({"GET"}), re.compile(r"/api/v1/auth/me"), Permission.SIGNED_IN),
    (frozenset({"POST"}), re.compile(r"/api/v1/auth/(logout|password)"), Permission.SIGNED_IN),
    # Every method: a PUT or PATCH of an account fell to the ``manage`` rule below, so the
    # first such route (``PATCH /users/<id>``) would have been an operator's (outside review).
    (
        frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}),
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
MIN_BOOTSTRAP_TOKEN_LENGTH = 32
"""The bootstrap token is chosen by whoever sets the hub up and, like every bearer token, is
not throttled (the tokens the hub issues carry 256 random bits, nothing to guess): 32
characters keep a made-up one from being guessed online (``openssl rand -hex 24`` gives 48)."""


def weak_metrics_token(token: str) -> str | None:
    """Return why ``token`` may not be the metrics token, or None if it may: it opens the
    metrics (every edge's name, what the hub refuses), and is not throttled either."""
    if len(token.strip()) < MIN_BOOTSTRAP_TOKEN_LENGTH:
        return (
            f"the metrics token must be at least {MIN_BOOTSTRAP_TOKEN_LENGTH} characters "
            "(e.g. `openssl rand -hex 24`): /metrics answers 404 until it is"
        )
    return None


def weak_bootstrap_token(token: str) -> str | None:
    """Return why ``token`` may not be the bootstrap token, or None if it may.

    It makes its holder an admin of every site: a short one (``admin``, ``changeme``) was
    guessed online at full speed, since bearer tokens are not throttled (outside review).
    """
    if len(token.strip()) < MIN_BOOTSTRAP_TOKEN_LENGTH:
        return (
            f"the bootstrap token must be at least {MIN_BOOTSTRAP_TOKEN_LENGTH} characters "
            "(e.g. `openssl rand -hex 24`): it makes its holder an admin of every site"
        )
    return None


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


@functools.cache
def unknown_user_hash() -> str:
    """Return the hash a password is checked against when no enabled account has the
    username: the answer then takes as long as a wrong password's, so the time does not tell
    which usernames exist (it did: 6 ms against 60, found by an outside review)."""
    return hash_password("no account has this password", b"\x00" * 16)


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
MAX_FAILED_SIGN_INS_PER_ADDRESS = 30
"""Failed sign-ins from one address (an IPv6 client's /64) for all usernames together before
that address must wait: bounds password spraying, and the made-up usernames that would
otherwise fill the table below and push a target's failures out of it."""
FAILED_SIGN_IN_WINDOW = timedelta(minutes=5)
MAX_TRACKED_USERNAMES = 10_000
"""Bound on the (username, address) pairs remembered, so guessing random usernames from many
addresses cannot exhaust memory. Past it, pairs whose failures are all older than the window
go first, then the oldest."""
KNOWN_ADDRESS_MEMORY = timedelta(days=30)
"""How long an address a user signed in from stays theirs: from it, guesses made elsewhere
do not lock them out (``SignInThrottle``). A month covers a rota's longest gap between shifts."""
_EVERY_ADDRESS = ""
_EVERY_USER = "\x00every user"
"""Not a username (a username is an identifier): the key of an address's failures."""


def address_group(address: str) -> str:
    """Return what the throttle counts an address under: itself, or an IPv6 address's /64
    (one client's network: it has a whole /64 to send from)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass
class SignInThrottle:
    """Refuse sign-ins for a username after too many failures in a short window.

    Counted per username *and address*: five wrong passwords for "li" from one address make
    that address wait, not li at her own desk. A limit per username alone would let anyone
    lock an operator out in the middle of an incident by guessing. Guesses from many
    addresses are bounded per username too (``max_per_user``): past that, the username waits
    everywhere, a distributed guesser's price.

    An address the user signed in from within ``known_for`` (her desk, her phone's network)
    is not refused for the guesses made elsewhere: the bound over every address would
    otherwise let a guesser with six addresses (an IPv6 /56 has 256 networks) lock an
    operator out at her own desk at 3 a.m., thirty requests every five minutes (found by an
    outside review). The bounds per (username, address) and per address still hold there.

    Kept in memory per hub process: it slows an online guesser down, it is not the only
    defence (scrypt is). The address is the client's as the hub sees it: behind a proxy on
    another host, set ``FORWARDED_ALLOW_IPS`` to it (docs/auth.md), or every client has the
    proxy's address and this is a limit per username again.
    """

    max_failures: int = MAX_FAILED_SIGN_INS
    max_per_user: int = MAX_FAILED_SIGN_INS_PER_USER
    max_per_address: int = MAX_FAILED_SIGN_INS_PER_ADDRESS
    window: timedelta = FAILED_SIGN_IN_WINDOW
    max_tracked: int = MAX_TRACKED_USERNAMES
    known_for: timedelta = KNOWN_ADDRESS_MEMORY
    _failures: dict[tuple[str, str], deque[datetime]] = field(default_factory=dict)
    _known: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """When each username last signed in from each address group."""

    def allowed(self, username: str, address: str, now: datetime) -> bool:
        """Return whether ``username`` may try to sign in from ``address`` at ``now``."""
        known = self._is_known(username, address, now)
        return all(
            len(self._recent(key, now)) < limit
            for key, limit in self._limits(username, address)
            if not (known and key == (username, _EVERY_ADDRESS))
        )

    def _is_known(self, username: str, address: str, now: datetime) -> bool:
        last = self._known.get((username, address_group(address)))
        return last is not None and now - last < self.known_for

    def _limits(self, username: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [
            ((username, address), self.max_failures),
            ((username, _EVERY_ADDRESS), self.max_per_user),
            ((_EVERY_USER, address_group(address)), self.max_per_address),
        ]

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
        for key, _ in self._limits(username, address):
            self._recent(key, now).append(now)
        if len(self._failures) > self.max_tracked:
            self._make_room(now)

    def _make_room(self, now: datetime) -> None:
        """Forget what the window has passed; if still over the bound, down to nine tenths
        of it (so that this runs seldom), forget first what matters least: counts short of
        their limit before those that refuse, fewer failures before more, older before newer.
        So a flood of made-up usernames (one failure each) cannot push out a target's count,
        which had to be forgotten once the oldest went first (found by an outside review)."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) > self.max_tracked:
            least_first = sorted(
                self._failures,
                key=lambda k: (
                    len(self._failures[k]) >= self._limit_of(k),
                    len(self._failures[k]),
                    self._failures[k][-1],
                ),
            )
            for key in least_first[: len(self._failures) - self.max_tracked * 9 // 10]:
                del self._failures[key]

    def _limit_of(self, key: tuple[str, str]) -> int:
        user, address = key
        if user == _EVERY_USER:
            return self.max_per_address
        return self.max_per_user if address == _EVERY_ADDRESS else self.max_failures

    def succeeded(self, username: str, address: str, now: datetime) -> None:
        """Forget the failures of a user who signed in from ``address``, and remember the
        address as theirs. The counts over every address and over the address's usernames
        keep a guesser's attempts and lose only this one, which ``admit`` counted as failed."""
        self._known.pop((username, address_group(address)), None)
        self._known[(username, address_group(address))] = now
        if len(self._known) > self.max_tracked:
            # Only a right password adds one, so this is a bound, not a defence: the
            # longest unseen go first (the dict keeps insertion order, renewed above).
            for key in list(self._known)[: len(self._known) - self.max_tracked]:
                del self._known[key]
        self._failures.pop((username, address), None)
        for key in ((username, _EVERY_ADDRESS), (_EVERY_USER, address_group(address))):
            every = self._failures.get(key)
            if every:
                every.pop()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        recent = self._failures.setdefault(key, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        return recent


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: the session cookie authenticates them from anywhere."""


def from_own_page(origin: str | None, referer: str | None, host: str | None) -> bool:
    """Return whether a request the session cookie authenticates came from a page of the hub
    itself: its ``Origin`` (else its ``Referer``) names the host the request was sent to.

    SameSite=Strict keeps other sites from sending the cookie, but a site is a registrable
    domain: a page on another port of the hub's host, or on a sibling subdomain, is the same
    site and its requests carry the cookie (found by an outside review: such a page
    acknowledged an SOS case and rotated a household's link). Browsers send ``Origin`` with
    every request that is not a GET or HEAD, the hub's own console's included; a request with
    neither header, or with ``Origin: null`` (a sandboxed or privacy-redirected page), is not
    taken as the hub's own.
    """
    source = origin if origin is not None else referer
    if not source or source == "null" or not host:
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()
