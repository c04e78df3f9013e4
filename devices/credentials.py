"""A program's credentials for a broker: the JSON that ``linli broker add-edge`` (or ``init``)
prints, kept in a file only its owner can read (docs/security.md).

    linli broker add-edge /var/lib/mosquitto/broker e1 > hub-credentials.json   (umask 077)

``load_credentials`` refuses a file that group or others may read or write: a password that
the whole box can read is no identity. The file is read again at every connection, so a
rotated password written into it is used from the next reconnect on.
"""

import hashlib
import hmac
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from devices.errors import DeviceInputError


class CredentialsError(DeviceInputError):
    """A credentials file is missing, unreadable, readable by others, or malformed."""


class BrokerCredentials(BaseModel):
    """A username and its password (the rest of ``linli broker``'s output is ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    username: str
    password: SecretStr


def load_credentials(path: Path) -> BrokerCredentials:
    """Read a credentials file, or raise ``CredentialsError``."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredentialsError(f"credentials file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"credentials file {path} is accessible to others (mode {stat.filemode(mode)}): "
            f"chmod 600 {path}"
        )
    try:
        return BrokerCredentials.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise CredentialsError(f"credentials file {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise CredentialsError(
            f"credentials file {path} is not a username and password: {exc.error_count()} error(s)"
        ) from exc


SESSION_TAG_CHARS = 16
"""64 bits of the HMAC: not guessable, short enough for a readable client id."""


def session_client_id(base: str, password: str) -> str:
    """Return the client id a program with credentials actually connects with.

    Mosquitto's password/ACL backend does not bind client ids to usernames, and a client that
    connects with a client id in use takes that session over: its subscriptions and the
    messages queued for it (which the broker then drops at the read check). Any identity
    could so drain the edge's queued device messages, or the hub's queued alerts. A tag only
    the password's holder can compute keeps the id unknown to everyone else, yet the same at
    every restart, so the persistent session survives (a rotated password starts a new
    session; the edges re-send whatever was not acknowledged).
    """
    return f"{base}-{_tag(base, password)}"


def shared_group_name(base: str, password: str) -> str:
    """Return the name of the shared subscription group the holders of ``password`` (the hub's
    workers) share under ``base``.

    Mosquitto's ``acl_file`` does not check SUBSCRIBE: an identity that can name the group
    (``$share/<group>/…``) joins it and takes its round-robin turns of the alerts, which the
    broker then drops at the read check (docs/security.md). A tag only the password's holders
    can compute keeps the name unknown to the edges, and the same for every worker.
    """
    return f"{base}-{_tag(f'$share/{base}', password)}"


def _tag(message: str, password: str) -> str:
    """Return the first ``SESSION_TAG_CHARS`` hex digits of HMAC-SHA256(password, message)."""
    return hmac.new(password.encode(), message.encode(), hashlib.sha256).hexdigest()[
        :SESSION_TAG_CHARS
    ]
