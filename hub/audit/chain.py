"""The audit trail, the pure core: a hash chain over every alert, decision and human action.

Each entry's hash is ``sha256(previous hash + canonical JSON of the entry)``, where the
canonical JSON has sorted keys, no spaces and UTF-8 text, and the entry includes its own
sequence number and the previous hash. Editing, deleting or inserting a row by hand breaks
the chain at that row; dropping rows from the end is caught by the chain head (the last
sequence number and hash, kept in their own row). An entry an API token caused also names
the token (``token_id``: its row's id, never its secret), since a token acts under a name an
admin chose, which may be a person's; the key is in the canonical JSON only when set, so the
entries written before it existed keep their hashes. Every writing transaction
(``hub.persistence.transactions``) appends entries in the same transaction as the change
they record, after locking the head row, so two hub workers can never fork the chain.

Nothing here does I/O: rows are passed in.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

GENESIS_HASH = "0" * 64
"""The "previous hash" of the first entry."""
EDITED = "its content does not match its hash (edited)"
"""Why an entry whose content was changed breaks the chain."""


class AuditAction(StrEnum):
    """What an audit entry records; case history lines use their own action names."""

    ALERT_STORED = "alert_stored"
    ALERT_SILENCED = "alert_silenced"
    SILENCE_CREATED = "silence_created"
    SILENCE_ENDED = "silence_ended"
    ROSTER_CHANGED = "roster_changed"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_CHANGED = "user_changed"
    SIGNED_IN = "signed_in"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an action name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an action name
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - an action name
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an action name
    CAMERA_COMMANDED = "camera_commanded"
    CARE_CHANGED = "care_changed"
    NOTICE_SENT = "notice_sent"
    NOTICE_READ = "notice_read"
    DEVICE_RETIRED = "device_retired"
    DEVICE_RETURNED = "device_returned"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What is to be recorded, before it has a place in the chain."""

    ts: datetime
    action: str
    case_id: int | None = None
    alert_id: str | None = None
    actor: str | None = None
    detail: dict[str, Any] | None = None
    token_id: int | None = None
    """The API token that acted, when ``actor`` is its name (``hub.audit.acting``)."""

    @classmethod
    def silenced(cls, ts: datetime, alert_id: str, **why: Any) -> "AuditRecord":
        """Return the record of an alert stored without a case, and why (a silence's id, or
        its retired device's)."""
        return cls(ts=ts, action=AuditAction.ALERT_SILENCED, alert_id=alert_id, detail=why)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the chain, as stored."""

    seq: int
    ts: datetime
    action: str
    case_id: int | None
    alert_id: str | None
    actor: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    token_id: int | None = None
    """The API token that acted under the name ``actor`` (None: a person, or the hub)."""


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The encoder that defines the canonical bytes: what ``json.dumps`` with these options builds
on every call, built once (the chain's hashes depend on its output byte for byte)."""


def _same_in_orjson(value: Any) -> bool:
    """Whether orjson, keys sorted, writes ``value`` byte for byte as ``_CANONICAL`` does.

    True for text, booleans, null, integers, and lists and dictionaries of them: both write the
    same escapes, UTF-8 and key order there (``tests/hub/test_audit_canonical.py`` checks it on
    generated values), and what orjson refuses of them (keys that are not text, integers beyond
    64 bits, lone surrogates) falls back. Not for numbers with a fraction or an exponent, whose
    shortest form the two spell differently (``1e+16`` and ``1e16``), nor for anything else,
    which the standard library's encoder then writes.
    """
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is int:
        return True
    if kind is dict:
        return all(_same_in_orjson(v) for v in value.values())
    if kind is list:
        return all(_same_in_orjson(v) for v in value)
    return isinstance(value, str)  # a string enum: both write its text


def _flat_text(detail: dict[str, Any]) -> bool:
    """The common case of ``_same_in_orjson`` for a detail, without a call per value."""
    return all(type(value) is str or value is None for value in detail.values())


def canonical(
    seq: int, record: AuditRecord | AuditEntry, prev_hash: str, detail: dict[str, Any]
) -> bytes:
    """Return the canonical bytes of an entry, the input of its hash.

    Written by orjson where its output is the same (``_same_in_orjson``: nearly every
    entry, three times faster: the trail's hashing was a fifth of a burst's intake), by the
    standard library's encoder otherwise and where orjson refuses the text (a lone surrogate).
    """
    body = {
        "seq": seq,
        "ts": record.ts.astimezone(UTC).isoformat(),
        "action": record.action,
        "case_id": record.case_id,
        "alert_id": record.alert_id,
        "actor": record.actor,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    if record.token_id is not None:
        # Only when set: the entries chained before the field existed keep their bytes.
        body["token_id"] = record.token_id
    # The other fields are text, integers or null by their types: only the detail can hold
    # what the two encoders write differently.
    if _flat_text(detail) or _same_in_orjson(detail):
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return _CANONICAL.encode(body).encode()


def link_hash(prev_hash: str, body: bytes) -> str:
    """Return the hash of an entry: sha256 over the previous hash and the entry's bytes."""
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def chain(records: Iterable[AuditRecord], head_seq: int, head_hash: str) -> list[AuditEntry]:
    """Return the entries that append ``records`` after the chain head, in order."""
    entries: list[AuditEntry] = []
    seq, prev = head_seq, head_hash
    for record in records:
        seq += 1
        detail = dict(record.detail or {})
        digest = link_hash(prev, canonical(seq, record, prev, detail))
        entries.append(
            AuditEntry(
                seq=seq,
                ts=record.ts,
                action=record.action,
                case_id=record.case_id,
                alert_id=record.alert_id,
                actor=record.actor,
                detail=detail,
                prev_hash=prev,
                hash=digest,
                token_id=record.token_id,
            )
        )
        prev = digest
    return entries


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Whether the chain is intact, how many entries were checked, and the first broken link."""

    intact: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    anchors: "AnchorsChecked | None" = None
    """What the anchors said (``hub.audit.anchors``); None: no anchor key to check them."""
    findings: tuple[str, ...] = ()
    """Each case field that parts from the case's history (``hub.audit.case_rows``), one a
    line, the first ``MAX_FINDINGS`` of them (``reason`` says how many in all)."""

    def describe(self) -> str:
        """Return one line for people (and a line per finding after it)."""
        if self.findings:
            return "\n".join([f"audit trail broken: {self.reason}", *self.findings])
        if not self.intact and self.broken_seq is None:
            return f"audit trail broken: {self.reason}"
        if not self.intact:
            return f"audit chain broken at entry {self.broken_seq}: {self.reason}"
        said = f"audit chain intact: {self.checked} entries"
        return said if self.anchors is None else f"{said}; {self.anchors.describe()}"


@dataclass(frozen=True, slots=True)
class AnchorsChecked:
    """How many anchors were checked, the latest of them, and those of another key."""

    checked: int
    latest_seq: int | None = None
    latest_at: datetime | None = None
    other_keys: int = 0
    keyed: bool = True
    """False: there was no anchor key to check them with (nothing was checked)."""

    def describe(self) -> str:
        """Return a few words for people."""
        if not self.keyed:
            return "anchors not checked (no anchor key here)"
        if not self.checked:
            said = "no anchor of this hub's key"
        else:
            assert self.latest_at is not None
            said = (
                f"{self.checked} anchors checked, the latest at entry {self.latest_seq}"
                f" ({self.latest_at.astimezone(UTC).isoformat()})"
            )
        return said + (f"; {self.other_keys} of another key not checked" if self.other_keys else "")


class ChainVerifier:
    """Checks a chain entry by entry (fed in pages, in sequence order), then against its head."""

    def __init__(self) -> None:
        self._seq = 0
        self._prev = GENESIS_HASH
        self._checked = 0
        self.verdict: ChainVerdict | None = None
        """Set at the first broken link; later entries are not looked at."""

    @property
    def checked(self) -> int:
        """Return how many entries were found intact so far."""
        return self._checked

    def feed(self, entries: Iterable[AuditEntry]) -> bool:
        """Check the next entries; return False once a broken link has been found."""
        if self.verdict is not None:
            return False
        for entry in entries:
            expected_seq = self._seq + 1
            if entry.seq != expected_seq:
                return self._broken(expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != self._prev:
                return self._broken(entry.seq, "it does not point at the previous entry's hash")
            if type(entry.detail) is not dict:
                # Every entry is chained with an object: JSON edited into null, a list or a
                # text is an edit, not a reason to stop checking (found by an outside review).
                return self._broken(entry.seq, EDITED)
            recomputed = link_hash(
                self._prev, canonical(entry.seq, entry, self._prev, entry.detail)
            )
            if recomputed != entry.hash:
                return self._broken(entry.seq, EDITED)
            self._seq, self._prev = entry.seq, entry.hash
            self._checked += 1
        return True

    def unreadable(self, seq: int) -> None:
        """Record that entry ``seq``, the next after those fed, cannot be read back (a column
        edited into what its type cannot hold: SQLite keeps any text)."""
        if self.verdict is not None:
            return
        expected_seq = self._seq + 1
        if seq != expected_seq:
            self._broken(expected_seq, f"entry {expected_seq} is missing")
        else:
            self._broken(seq, "it cannot be read: its content was edited")

    def finish(self, head_seq: int, head_hash: str) -> ChainVerdict:
        """Return the verdict, checking that the chain ends where its head says."""
        if self.verdict is not None:
            return self.verdict
        if (head_seq, head_hash) != (self._seq, self._prev):
            self._broken(
                min(self._seq, head_seq) + 1,
                f"the chain ends at entry {self._seq} but its head says {head_seq} "
                "(entries removed or added at the end, or the head edited)",
            )
            assert self.verdict is not None
            return self.verdict
        return ChainVerdict(intact=True, checked=self._checked)

    def _broken(self, seq: int, reason: str) -> bool:
        self.verdict = ChainVerdict(
            intact=False, checked=self._checked, broken_seq=seq, reason=reason
        )
        return False
