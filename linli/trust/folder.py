"""One broker's folder: its record, its files (all mode 0600), and the reload of a running
Mosquitto. ``linli broker`` commands are thin wrappers over ``BrokerFolder``.

Errors: ``TrustError`` (and subclasses) for anything an operator must fix.
"""

import fcntl
import json
import logging
import os
import pwd
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devices.registry import Identifier
from linli.trust.acl import DEVICE_ROLES, Identity, Role, render_acl, sweeper_for
from linli.trust.certificates import Issued, new_ca, new_server_certificate
from linli.trust.config import BrokerFiles, ListenerPlan, render_config
from linli.trust.nats import nats_hash, render_accounts
from linli.trust.passwords import mosquitto_hash, new_password, render_password_file

logger = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


class TrustError(Exception):
    """A broker folder cannot do what was asked."""


class BrokerKind(StrEnum):
    """The hub's broker (edges connect) or a site broker (devices connect)."""

    HUB = "hub"
    SITE = "site"


ISSUED_ROLES: dict[BrokerKind, frozenset[Role]] = {
    BrokerKind.HUB: frozenset({Role.EDGE, Role.PHONE}),
    BrokerKind.SITE: DEVICE_ROLES,
}
"""The identities ``linli broker add-*`` issues (and ``revoke`` withdraws) on each kind."""


class Account(BaseModel):
    """One identity in the folder's record, with its password hash (never the password)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    subject: str = ""
    hash: str
    nats_hash: str | None = None
    """The bcrypt hash of the same password, for a NATS cluster (None: issued before)."""

    @property
    def identity(self) -> Identity:
        """Return the identity this account is."""
        return Identity(self.role, self.subject)


class BrokerRecord(BaseModel):
    """What ``linli broker init`` decided, and every account issued since."""

    model_config = ConfigDict(extra="forbid")

    kind: BrokerKind
    site_edge_id: Identifier | None = None
    hosts: list[str]
    tls_port: int = Field(ge=1, le=65535)
    tls_bind: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    device_port: int | None = Field(default=None, ge=1, le=65535)
    """A site broker's plain listener for devices without TLS (``linli.trust.config``)."""
    device_bind: str | None = None
    run_as: str | None = None
    accounts: dict[str, Account] = Field(default_factory=dict)


Owner = tuple[int, int]
"""A user id and its group id."""


def owner_of(run_as: str | None) -> Owner | None:
    """Return whom the folder's files must belong to: ``run_as``, the user Mosquitto runs
    as, when root writes them for another user; else None (the writer owns them).

    Mosquitto started as root drops to its ``user`` before it writes its pid file and reads
    the password file: a folder root made for ``--user mosquitto`` stopped it at start
    ("Unable to write pid file"), and an ``add-*`` run by root would lock it out later."""
    if run_as is None or os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(run_as)
    except KeyError:
        raise TrustError(f"no user {run_as!r} on this machine (--user)") from None
    return None if account.pw_uid == 0 else (account.pw_uid, account.pw_gid)


def write_private(path: Path, data: bytes | str, owner: Owner | None = None) -> None:
    """Write ``path`` atomically, readable and writable by its owner only (``owner`` if
    given)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class BrokerFolder:
    """A broker's folder on disk."""

    def __init__(self, folder: Path) -> None:
        self.files = BrokerFiles(folder.resolve())

    # --- reading and writing the record ------------------------------------------------

    def load(self) -> BrokerRecord:
        """Return the folder's record, or raise ``TrustError``."""
        try:
            return BrokerRecord.model_validate_json(self.files.state.read_bytes())
        except FileNotFoundError as exc:
            raise TrustError(
                f"{self.files.folder} is not a broker folder: run `linli broker init` first"
            ) from exc
        except ValidationError as exc:
            raise TrustError(f"{self.files.state} is unreadable: {exc}") from exc

    @contextmanager
    def _locked(self, owner: Owner | None = None) -> Iterator[None]:
        """Serialise commands on one folder (two add-edge at once must not lose one)."""
        fd = os.open(self.files.folder / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            if owner is not None:
                os.fchown(fd, *owner)  # the broker's user runs the next commands
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _store(self, record: BrokerRecord) -> None:
        """Write the record, then the password file and ACL rendered from it."""
        identities = [a.identity for a in record.accounts.values()]
        hashes = {name: a.hash for name, a in record.accounts.items()}
        owner = owner_of(record.run_as)
        write_private(self.files.state, record.model_dump_json(indent=2), owner)
        write_private(self.files.acl, render_acl(identities), owner)
        write_private(self.files.passwords, render_password_file(hashes), owner)
        if record.kind is BrokerKind.HUB:
            accounts = record.accounts.values()
            users = [(a.identity, a.nats_hash) for a in accounts if a.nats_hash is not None]
            left_out = [name for name, a in record.accounts.items() if a.nats_hash is None]
            write_private(
                self.files.nats_accounts, render_accounts(users, left_out=left_out), owner
            )

    # --- commands ----------------------------------------------------------------------

    def init(
        self,
        *,
        kind: BrokerKind,
        hosts: list[str],
        tls_port: int,
        now: datetime,
        port: int | None = None,
        site_edge_id: str | None = None,
        tls_bind: str | None = None,
        run_as: str | None = None,
        device_port: int | None = None,
        device_bind: str | None = None,
    ) -> dict[str, str]:
        """Create the CA, the server certificate, the configuration and the first accounts;
        return the first accounts' passwords by username. Refuse a folder already set up."""
        folder = self.files.folder
        if self.files.state.exists():
            raise TrustError(f"{folder} is already a broker folder; it is never overwritten")
        _check_listeners(kind, tls_port, port, device_port, device_bind)
        owner = owner_of(run_as)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(PRIVATE_DIR_MODE)
        self.files.data.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        if owner is not None:  # Mosquitto writes its pid file and persistence in them
            os.chown(folder, *owner)
            os.chown(self.files.data, *owner)
        with self._locked(owner):
            record = BrokerRecord(
                kind=kind,
                site_edge_id=site_edge_id,
                hosts=hosts,
                tls_port=tls_port,
                tls_bind=tls_bind,
                port=port,
                device_port=device_port,
                device_bind=device_bind,
                run_as=run_as,
            )
            ca = new_ca(f"Linli {kind} broker CA ({hosts[0]})", now)
            server = new_server_certificate(ca, hosts, now)
            write_private(self.files.ca_key, ca.key_pem, owner)
            write_private(self.files.ca_cert, ca.cert_pem, owner)
            write_private(self.files.server_key, server.key_pem, owner)
            write_private(self.files.server_cert, server.cert_pem, owner)
            plan = ListenerPlan(
                tls_port=tls_port,
                tls_bind=tls_bind,
                plain_port=port,
                device_port=device_port,
                device_bind=device_bind,
                run_as=run_as,
            )
            write_private(self.files.config, render_config(self.files, plan), owner)
            match kind:
                case BrokerKind.HUB:
                    first = [Identity(Role.HUB)]
                case BrokerKind.SITE:
                    if site_edge_id is None:
                        raise TrustError("a site broker needs the id of its edge")
                    first = [Identity(Role.SITE_EDGE, site_edge_id), Identity(Role.ZIGBEE2MQTT)]
            passwords = {}
            for identity in first:
                passwords[identity.username] = self._add(record, identity)
            self._store(record)
        return passwords

    @staticmethod
    def _add(record: BrokerRecord, identity: Identity) -> str:
        password = new_password()
        record.accounts[identity.username] = Account(
            role=identity.role,
            subject=identity.subject,
            hash=mosquitto_hash(password),
            nats_hash=nats_hash(password) if record.kind is BrokerKind.HUB else None,
        )
        return password

    def issue(self, identity: Identity) -> str:
        """Issue ``identity`` a new password (a rotation if it had one: the old one stops
        working at the reload); return it."""
        return self.issue_noting_rotation(identity)[0]

    def issue_noting_rotation(self, identity: Identity) -> tuple[str, bool]:
        """Issue ``identity`` a new password as ``issue`` does; return it and whether it
        replaced one (decided under the folder's lock, so two runs at once cannot both say
        the identity was new)."""
        with self._locked():
            record = self.load()
            if identity.role not in ISSUED_ROLES[record.kind]:
                hint = " (phones report to the hub's broker)" if identity.role is Role.PHONE else ""
                raise TrustError(
                    f"a {record.kind} broker does not take {identity.role} identities{hint}"
                )
            if record.kind is BrokerKind.SITE and identity.subject == record.site_edge_id:
                raise TrustError(f"{identity.subject!r} is this site's edge, not a device")
            rotated = identity.username in record.accounts
            password = self._add(record, identity)
            self._store(record)
        return password, rotated

    def revoke(self, subject: str, role: Role | None = None) -> bool:
        """Withdraw the edge (hub broker) or the device (site broker) ``subject``, of ``role``
        if given (a hub broker's phone, a site broker's Tasmota, Shelly...; default an edge or
        a native device); return whether it had an identity."""
        with self._locked():
            record = self.load()
            default = Role.EDGE if record.kind is BrokerKind.HUB else Role.DEVICE
            if role is not None and role not in ISSUED_ROLES[record.kind]:
                raise TrustError(f"a {record.kind} broker has no {role} identities")
            username = Identity(role or default, subject).username
            if username not in record.accounts:
                return False
            del record.accounts[username]
            self._store(record)
        return True

    def open_sweep(self, swept: Identity) -> tuple[Identity, str]:
        """Issue the short-lived identity that clears the retained messages of ``swept``, a
        revoked edge (hub broker) or device (site broker) (``Role.SWEEPER``); return it and
        its password (never printed)."""
        identity = sweeper_for(swept)
        with self._locked():
            record = self.load()
            if swept.role not in ISSUED_ROLES[record.kind] or swept.role is Role.PHONE:
                raise TrustError(
                    f"a {record.kind} broker holds no retained messages of a {swept.role}"
                )
            password = self._add(record, identity)
            self._store(record)
        return identity, password

    def close_sweep(self, sweeper: Identity) -> None:
        """Withdraw the identity ``open_sweep`` issued (if it is still there)."""
        with self._locked():
            record = self.load()
            if record.accounts.pop(sweeper.username, None) is not None:
                self._store(record)

    def reload(self) -> bool:
        """Make a running Mosquitto of this folder re-read its password file and ACL (SIGHUP);
        return whether one was running."""
        return self._signal(signal.SIGHUP)

    def persist(self) -> bool:
        """Make a running Mosquitto of this folder write its persistence file now (SIGUSR1), so
        that a crash before its next autosave cannot bring back what was just cleared; return
        whether one was running."""
        return self._signal(signal.SIGUSR1)

    def _signal(self, sig: signal.Signals) -> bool:
        try:
            pid = int(self.files.pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        if not _is_mosquitto(pid):
            logger.warning("pid %s in %s is not a running mosquitto", pid, self.files.pid)
            return False
        os.kill(pid, sig)
        return True

    def ca_file(self) -> str:
        """Return the path of the CA certificate clients need."""
        return str(self.files.ca_cert)


def _check_listeners(
    kind: BrokerKind,
    tls_port: int,
    port: int | None,
    device_port: int | None,
    device_bind: str | None,
) -> None:
    """Refuse listeners that clash, and a device listener anywhere but on a site broker."""
    if device_port is None:
        if device_bind is not None:
            raise TrustError("--device-bind needs --device-port")
        return
    if kind is not BrokerKind.SITE:
        raise TrustError(
            "a hub broker takes edges, which speak TLS: a plain device listener is for a "
            "site broker's devices that cannot (--site)"
        )
    ports = [p for p in (tls_port, port, device_port) if p is not None]
    if len(set(ports)) != len(ports):
        raise TrustError(f"two listeners on one port: {sorted(ports)}")


def _is_mosquitto(pid: int) -> bool:
    """Check the pid before signalling it: a stale pid file may name another process, and
    SIGHUP's default action is to end it."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(argv0) == b"mosquitto"


def issued_pems(cert: Path, key: Path) -> Issued:
    """Read a certificate and key back (for tests and renewals)."""
    return Issued(cert.read_bytes(), key.read_bytes())


def as_json(value: object) -> str:
    """Return one line of JSON, as every ``linli broker`` command prints."""
    return json.dumps(value, sort_keys=True)
