"""Anchors of the audit chain: its head, signed with a key the database does not hold.

The chain alone holds against edits by hand: change an entry and its hash no longer matches.
It does not hold against someone who can write the database and knows the formula (it is
documented): they edit an entry, compute every later hash again and move the head, and the
chain checks out. So every ``audit_anchor_every_s`` the hub writes an anchor: the head's
``seq`` and hash, the time, and an HMAC-SHA256 of the three under the hub's **anchor key**,
which lives outside the database (``HubSettings.audit_key``, or a file in the data folder made
at the first anchor, mode 0600). A rewritten chain no longer has the hash an anchor holds at
that ``seq``, and an anchor forged to match needs the key. The verdict names the first such
break; anchors made under another key (another worker's, a key changed) are counted and not
checked.

What anchors do not give: protection from someone who also has the key (the hub's host). One
who deletes the anchors from an edit or a cut on leaves anchors that check out; the
**witness** (``hub.audit.witness``), the anchor this hub wrote last kept beside the key, names
that loss, and the hub signs no head whose chain lost it. Pure: no I/O.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

ANCHOR_KEY_FILE = "audit-anchor.key"
"""The anchor key's file in the hub's data folder, made at the first anchor."""
WITNESS_FILE = "audit-anchor.last"
"""The anchor this hub wrote last, in its data folder, beside the key (``hub.audit.witness``)."""
MIN_KEY_CHARS = 16
"""The shortest anchor key the hub takes (``HubSettings.audit_key``)."""


def key_id(key: bytes) -> str:
    """Return the key's public name: which key an anchor was signed with, not the key."""
    return hashlib.sha256(b"linli-audit-anchor-key:" + key).hexdigest()[:16]


def anchor_mac(key: bytes, seq: int, hash_: str, ts: datetime) -> str:
    """Return the signature of an anchor of entry ``seq`` with hash ``hash_`` made at ``ts``."""
    body = f"linli-audit-anchor-v1:{seq}:{hash_}:{ts.astimezone(UTC).isoformat()}"
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Anchor:
    """One anchor as stored."""

    seq: int
    hash: str
    ts: datetime
    key_id: str
    mac: str


def make_anchor(key: bytes, seq: int, hash_: str, ts: datetime) -> Anchor:
    """Return the anchor of entry ``seq`` (hash ``hash_``) at ``ts``, signed with ``key``."""
    return Anchor(seq, hash_, ts, key_id(key), anchor_mac(key, seq, hash_, ts))


@dataclass(frozen=True, slots=True)
class AnchorBreak:
    """Where the anchors say the chain was changed, and why."""

    seq: int
    reason: str


class AnchorRefusedError(Exception):
    """The hub will not sign the chain's head: the chain no longer holds the entry, or the
    database the anchor, that this hub anchored last (its witness)."""


def signed(key: bytes, anchor: Anchor) -> bool:
    """Return whether ``anchor`` carries ``key``'s signature of what it says."""
    return hmac.compare_digest(anchor.mac, anchor_mac(key, anchor.seq, anchor.hash, anchor.ts))


def witness_text(anchor: Anchor) -> str:
    """Return the witness file's text naming ``anchor``: the one this hub wrote last."""
    return json.dumps(
        {
            "seq": anchor.seq,
            "hash": anchor.hash,
            "ts": anchor.ts.astimezone(UTC).isoformat(),
            "key_id": anchor.key_id,
            "mac": anchor.mac,
        }
    )


def parse_witness(text: str) -> Anchor:
    """Return the anchor a witness file names; raise ``ValueError`` if it names none."""
    try:
        held = json.loads(text)
        return Anchor(
            seq=int(held["seq"]),
            hash=str(held["hash"]),
            ts=datetime.fromisoformat(held["ts"]),
            key_id=str(held["key_id"]),
            mac=str(held["mac"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an anchor witness: {exc}") from exc


def witness_refusal(
    witness: Anchor, head_seq: int, entry_hash: str | None, anchor_kept: bool
) -> str | None:
    """Return why the hub must not sign the head, given its ``witness`` (the anchor it wrote
    last), the chain's head, the hash of the entry the witness names (None: no such entry)
    and whether the database still holds that anchor; None if it may."""
    at = f"entry {witness.seq}, anchored at {witness.ts.astimezone(UTC).isoformat()}"
    if head_seq < witness.seq or entry_hash is None:
        return f"the chain ends at entry {head_seq}, before {at}: entries were removed"
    if entry_hash != witness.hash:
        return f"{at}, is not what it was: the chain was written again"
    if not anchor_kept:
        return f"the anchor of {at} is gone from the database: anchors were deleted"
    return None


class AnchorCheck:
    """Checks a chain's entries, fed in sequence order, against the anchors of one key,
    given a range at a time (``add``) so that no more than a page of them is held; and
    against the ``witness``, the anchor this hub wrote last, kept outside the database."""

    def __init__(self, key: bytes, witness: Anchor | None = None) -> None:
        self._key = key
        self.key_id = key_id(key)
        self._by_seq: dict[int, list[Anchor]] = {}
        self.checked = 0
        self.latest: Anchor | None = None
        """The anchor of the highest entry checked so far."""
        self.found: AnchorBreak | None = None
        """The first break, if any; later entries are not looked at."""
        self._witness = witness if witness is not None and witness.key_id == self.key_id else None
        """The anchor this hub wrote last (None: none of this key, or no witness file)."""
        self._witnessed = False
        """Whether the witness's anchor was found among the database's."""
        if self._witness is not None and not signed(key, self._witness):
            self.found = AnchorBreak(
                self._witness.seq, "the hub's anchor witness file is not signed with its key"
            )

    def add(self, anchors: Iterable[Anchor]) -> None:
        """Take the anchors of this key for the entries about to be fed."""
        for anchor in anchors:
            if anchor.key_id == self.key_id:
                self._by_seq.setdefault(anchor.seq, []).append(anchor)

    def entry(self, seq: int, hash_: str) -> bool:
        """Check entry ``seq`` (hash ``hash_``, already checked against the chain) against
        the anchors at it; return False once a break has been found."""
        if self.found is not None:
            return False
        for anchor in self._by_seq.pop(seq, ()):
            if not signed(self._key, anchor):
                self.found = AnchorBreak(
                    seq, "its anchor's signature is not this hub's key's: the anchor was forged"
                )
                return False
            if anchor.hash != hash_:
                self.found = AnchorBreak(
                    seq,
                    f"it is not the entry anchored at {anchor.ts.astimezone(UTC).isoformat()}:"
                    " the chain up to it was written again after it was anchored",
                )
                return False
            self.checked += 1
            if self._witness is not None and anchor.mac == self._witness.mac:
                self._witnessed = True
            if self.latest is None or (anchor.seq, anchor.ts) > (self.latest.seq, self.latest.ts):
                self.latest = anchor
        witness = self._witness
        if witness is not None and seq == witness.seq and hash_ != witness.hash:
            self.found = AnchorBreak(
                seq,
                "it is not the entry this hub anchored last (its witness file):"
                " the chain up to it was written again after it was anchored",
            )
            return False
        return True

    def finish(self, last_seq: int, beyond: Iterable[Anchor]) -> AnchorBreak | None:
        """Return the first break, counting the anchors of entries past the chain's end
        (``beyond``: this key's anchors after ``last_seq``)."""
        self.add(beyond)
        past = [seq for seq in self._by_seq if seq > last_seq]
        if self.found is None and past:
            self.found = AnchorBreak(
                last_seq + 1,
                f"entry {min(past)} was anchored but the chain ends at entry {last_seq}:"
                " entries were removed after they were anchored",
            )
        witness = self._witness
        if self.found is None and witness is not None and not self._witnessed:
            # Who deletes entries and the anchors above them, or rewrites the chain from an
            # entry and deletes the anchors from there on, leaves anchors that check out:
            # the witness, outside the database, still names the hub's last one.
            if witness.seq > last_seq:
                self.found = AnchorBreak(
                    last_seq + 1,
                    f"entry {witness.seq} was anchored (this hub's witness file) but the chain"
                    f" ends at entry {last_seq}: entries were removed, or this is an older copy"
                    " of the database",
                )
            else:
                self.found = AnchorBreak(
                    witness.seq,
                    "the anchor of it this hub wrote last (its witness file) is gone from the"
                    " database: anchors were deleted",
                )
        return self.found
