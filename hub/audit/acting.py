"""Which API token a request acts with, so that the audit trail can name it.

An API token acts under the name an admin gave it, and nothing keeps that name apart from the
accounts' (the demo names residents' phone tokens after their roster ids): ``zhao`` on the
trail could be the person or a token. The auth guard (``hub.auth.routes.authorized``) says
which token the request acts with; ``attributed``, called where every audit record is queued
(``hub.persistence.transactions.audit``), adds the token's id to the records whose actor is
that token's name. So no route or repository passes the token along: the request's context
carries it into the worker threads its transactions run in (``asyncio.to_thread`` copies it).
"""

from contextvars import ContextVar
from dataclasses import dataclass, replace

from hub.audit.chain import AuditRecord
from hub.persistence.tables import ID_LENGTH


@dataclass(frozen=True, slots=True)
class ActingToken:
    """An API token a request acts with, under its own name."""

    name: str
    token_id: int


_ACTING: ContextVar[ActingToken | None] = ContextVar("linli_acting_token", default=None)


def act_with_token(token: ActingToken | None) -> None:
    """Say which API token the current request acts with (None: a person or the hub)."""
    _ACTING.set(token)


def attributed(record: AuditRecord) -> AuditRecord:
    """Return ``record`` naming the acting API token, if its actor is that token's name.

    Compared as the repositories store a name (NUL characters dropped, cut to the actor
    column's 64 characters), and only on the actor: what a token's request records in the
    hub's name or someone else's (an alert stored, the care watch) is not the token's doing.
    """
    token = _ACTING.get()
    if token is None or record.actor is None or record.token_id is not None:
        return record
    stored = token.name.replace("\x00", "")
    if record.actor not in (token.name, stored, stored[:ID_LENGTH]):
        return record
    return replace(record, token_id=token.token_id)
