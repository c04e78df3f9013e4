"""Correlation keys of places by their folded spelling: ``cases.correlation_key``/``open_key``.

A place's incident key was a digest of the place as spelt; it is now a digest of its folded
spelling (``devices.location.place_key``: NFKC, case-folded, inner white space collapsed), so
"Building 3" and "building 3" are one incident. The keys of the cases already opened at a
place are written anew, so that an incident under way when the hub is upgraded still takes
its next alerts. An active case whose new key another active case holds already (two
spellings of one place, both open) keeps its old one until it is resolved.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 17:40:00
"""

import hashlib
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of hub.cases.correlation and devices.location as of this revision.
_DIGEST_CHARS = 40


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_CHARS]


def _folded(place: str) -> str:
    return "/".join(
        " ".join(unicodedata.normalize("NFKC", part).casefold().split())
        for part in place.split("/")
    )


_CASES = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("rule", sa.String),
    sa.column("place", sa.String),
    sa.column("open_key", sa.String),
    sa.column("correlation_key", sa.String),
)


def _rekey(new_key: Callable[[str, str], str], old_key: Callable[[str, str], str]) -> None:
    connection = op.get_bind()
    taken = {
        key
        for (key,) in connection.execute(
            sa.select(_CASES.c.open_key).where(_CASES.c.open_key.is_not(None))
        )
    }
    rows = connection.execute(
        sa.select(
            _CASES.c.id, _CASES.c.rule, _CASES.c.place, _CASES.c.open_key, _CASES.c.correlation_key
        )
        .where(_CASES.c.rule.is_not(None), _CASES.c.place.is_not(None))
        .order_by(_CASES.c.id)
    ).all()
    for case_id, rule, place, open_key, correlation_key in rows:
        if correlation_key != old_key(rule, place):
            continue  # not a place's key as this revision knows it: left alone
        key = new_key(rule, place)
        if key == correlation_key:
            continue
        values = {"correlation_key": key}
        if open_key is not None and key not in taken:
            taken.discard(open_key)
            taken.add(key)
            values["open_key"] = key
        connection.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(**values))


def upgrade() -> None:
    """Write the keys of place incidents from the folded place."""
    _rekey(
        lambda rule, place: f"{rule}@{_digest(_folded(place))}",
        lambda rule, place: f"{rule}@{_digest(place)}",
    )


def downgrade() -> None:
    """Write them from the place as spelt again."""
    _rekey(
        lambda rule, place: f"{rule}@{_digest(place)}",
        lambda rule, place: f"{rule}@{_digest(_folded(place))}",
    )
