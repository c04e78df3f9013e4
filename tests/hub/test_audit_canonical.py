"""The audit trail's canonical bytes (``hub.audit.chain.canonical``) are the standard library's
``json`` output, byte for byte, whichever encoder writes them: every hash of every stored chain
depends on it."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.audit.chain import (
    AuditAction,
    AuditRecord,
    _flat_text,
    _same_in_orjson,
    canonical,
    chain,
)

_REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reference(seq: int, record: AuditRecord, prev_hash: str, detail: dict[str, Any]) -> bytes:
    """The canonical bytes as they were defined from the start."""
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
    return _REFERENCE.encode(body).encode()


# Every character, control characters, quotes, backslashes, lone surrogates and characters
# beyond the BMP included.
_TEXT = st.text(alphabet=st.characters(codec=None), max_size=12)
_SCALARS = (
    _TEXT
    | st.none()
    | st.booleans()
    | st.integers()  # also beyond 64 bits
    | st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2)
    | st.integers(min_value=2**64 - 2, max_value=2**64 + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e16, 1e-7, 0.1, -0.0, 1e300, 5e-324, 123456789012345678.0])
    | st.sampled_from(list(AuditAction))
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_TEXT | st.integers() | st.booleans(), inner, max_size=4)
    ),
    max_leaves=12,
)
_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])
)


@settings(max_examples=600, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**40),
    ts=_TIMES,
    action=_TEXT | st.sampled_from(list(AuditAction)),
    case_id=st.none() | st.integers(min_value=1, max_value=2**40),
    alert_id=st.none() | _TEXT,
    actor=st.none() | _TEXT,
    detail=st.dictionaries(_TEXT, _VALUES, max_size=6),
    prev_hash=st.sampled_from(["0" * 64, "ab" * 32]),
)
def test_canonical_bytes_are_the_standard_encoders(
    seq: int,
    ts: datetime,
    action: str,
    case_id: int | None,
    alert_id: str | None,
    actor: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> None:
    record = AuditRecord(
        ts=ts, action=action, case_id=case_id, alert_id=alert_id, actor=actor, detail=detail
    )
    # Keys of mixed types cannot be sorted: then both refuse the entry, alike.
    assert _outcome(canonical, seq, record, prev_hash, detail) == _outcome(
        reference, seq, record, prev_hash, detail
    )


def _outcome(encode: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "written", encode(*args)
    except (TypeError, ValueError) as exc:
        return "refused", type(exc)


def test_the_trails_everyday_entries_take_the_fast_encoder() -> None:
    """What the intake writes for every alert: plain text, or no detail at all."""
    stored = {
        "edge_id": "e1",
        "device_id": "gas-001",
        "kind": "gas",
        "state": "raised",
        "severity": "critical",
        "ts": "2025-03-01T02:00:00+00:00",
    }
    assert _flat_text(stored)
    assert _flat_text({})
    assert _same_in_orjson({"silence_id": 7, "tags": ["a", None, True]})
    assert not _same_in_orjson({"level": 0.5})  # a float: the standard encoder writes it
    assert not _flat_text({"level": 0.5})


def test_a_chain_hashes_as_before() -> None:
    """A fixed chain's last hash, computed with the standard encoder before the fast one came:
    it would change if a single byte of any entry's canonical form did."""
    ts = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    records = [
        AuditRecord(
            ts=ts + timedelta(seconds=n),
            action=AuditAction.ALERT_STORED if n % 2 else "alert_attached",
            case_id=None if n % 2 else n,
            alert_id=f"a{n}",
            actor=None if n % 3 else '王 "ops"\n',
            detail={"n": n, "名": "楼", "level": n / 3, "big": 2**70, "nested": [{"x": None}]}
            if n % 4 == 0
            else {"kind": "gas", "state": "raised"},
        )
        for n in range(12)
    ]
    entries = chain(records, 0, "0" * 64)
    assert [e.seq for e in entries] == list(range(1, 13))
    prev = "0" * 64
    for record, entry in zip(records, entries, strict=True):
        assert entry.prev_hash == prev
        assert canonical(entry.seq, record, prev, dict(record.detail or {})) == reference(
            entry.seq, record, prev, dict(record.detail or {})
        )
        prev = entry.hash
    assert entries[-1].hash == EXPECTED_LAST_HASH


EXPECTED_LAST_HASH = "1ff74e10c64bbf1dbd8343c3a40518915845817d62c6c05771a32dfc0985f523"
"""Computed by the chain of 2026-12-04 (b570380), which wrote every entry with ``json``."""
