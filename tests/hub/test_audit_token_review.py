"""Review: the audit trail tells an API token from the person it is named like, and the
chain check runs once at a time."""

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text

from hub.app import create_app
from hub.audit.chain import EDITED, GENESIS_HASH, AuditEntry, AuditRecord, ChainVerifier, chain
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.hub.http import api_client, bearer_client, ok
from tests.hub.test_audit import fill
from tests.polling import until

BOOTSTRAP = "lnl_test-bootstrap-token-0123456789abcdef"
PASSWORD = "a long enough password"


# --- the chain: an added, optional field ---------------------------------------------------


def _entry_as_chained_before_token_ids(seq: int, prev: str) -> AuditEntry:
    """Return an entry hashed as the hub did before it recorded tokens (eight keys)."""
    ts = T0 + timedelta(seconds=seq)
    body = {
        "seq": seq,
        "ts": ts.isoformat(),
        "action": "token_issued",
        "case_id": None,
        "alert_id": None,
        "actor": "zhao",
        "detail": {"name": "x"},
        "prev_hash": prev,
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(prev.encode() + raw).hexdigest()
    return AuditEntry(seq, ts, "token_issued", None, None, "zhao", {"name": "x"}, prev, digest)


def test_an_entry_chained_before_token_ids_still_verifies() -> None:
    old = _entry_as_chained_before_token_ids(1, GENESIS_HASH)
    [new] = chain(
        [AuditRecord(ts=T0, action="token_issued", actor="zhao", token_id=4)], 1, old.hash
    )
    verifier = ChainVerifier()
    assert verifier.feed([old, new])
    assert verifier.finish(2, new.hash).intact
    # The same record without a token is chained byte for byte as before.
    [again] = chain(
        [AuditRecord(ts=old.ts, action=old.action, actor="zhao", detail={"name": "x"})],
        0,
        GENESIS_HASH,
    )
    assert again.hash == old.hash


@pytest.mark.parametrize(("seq", "token_id"), [(2, 5), (2, None), (1, 4)])
def test_editing_an_entrys_token_is_tampering(seq: int, token_id: int | None) -> None:
    """Changed, removed from a token's entry, or added to an entry written before."""
    old = _entry_as_chained_before_token_ids(1, GENESIS_HASH)
    [new] = chain(
        [AuditRecord(ts=T0, action="token_issued", actor="zhao", token_id=4)], 1, old.hash
    )
    entries = [old, new]
    entries[seq - 1] = dataclasses.replace(entries[seq - 1], token_id=token_id)
    verifier = ChainVerifier()
    assert not verifier.feed(entries)
    verdict = verifier.finish(2, new.hash)
    assert (verdict.intact, verdict.broken_seq, verdict.reason) == (False, seq, EDITED)


def test_a_stored_token_id_edited_by_hand_breaks_the_chain(
    engine: Engine, store: HubStore, clock: FakeClock
) -> None:
    fill(store, clock)
    store.audit.append(AuditRecord(ts=clock.now, action="token_issued", actor="zhao", token_id=3))
    [last] = store.audit.list_audit(limit=1000)[-1:]
    assert (last.actor, last.token_id) == ("zhao", 3)
    assert store.audit.verify_audit().intact
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET token_id = 9 WHERE seq = :seq"), {"seq": last.seq})
    verdict = store.audit.verify_audit()
    assert (verdict.intact, verdict.broken_seq, verdict.reason) == (False, last.seq, EDITED)


# --- through the API ---------------------------------------------------------------------------


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FakeClock) -> FastAPI:
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, bootstrap_token=BOOTSTRAP
    )
    return create_app(settings, clock=clock)


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


async def test_a_token_named_like_a_user_is_named_as_a_token_on_the_trail(
    app: FastAPI, admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Found by a review: a token acts under the name an admin gave it, and the demo names
    residents' phone tokens after roster ids, so ``zhao`` on the trail was the person or any
    token so named. An entry a token causes names the token; the person's do not."""
    user = {"username": "zhao", "password": PASSWORD}
    await ok(await admin.post("/api/v1/users", json={**user, "role": "operator"}), 201)
    session = (await ok(await admin.post("/api/v1/auth/login", json=user)))["token"]
    issued = await ok(
        await admin.post("/api/v1/tokens", json={"name": "zhao", "role": "operator"}), 201
    )
    token_id = issued["record"]["id"]
    case_id = await asyncio.to_thread(fill, app.state.store, clock)
    async with bearer_client(app, issued["token"]) as impostor, bearer_client(app, session) as zhao:
        await ok(await impostor.post(f"/api/v1/cases/{case_id}/comment", json={"note": "by token"}))
        await ok(await zhao.post(f"/api/v1/cases/{case_id}/comment", json={"note": "by zhao"}))
    entries = (await ok(await admin.get("/api/v1/audit", params={"limit": 1000})))["items"]
    comments = [
        (e["actor"], e["token_id"], e["detail"]["note"])
        for e in entries
        if e["case_id"] == case_id and e["detail"].get("note", "").startswith("by ")
    ]
    assert comments == [("zhao", token_id, "by token"), ("zhao", None, "by zhao")]
    # The rest: the admin's own token acted too, the person's sign-in is the person's.
    signed_in = [e for e in entries if e["action"] == "signed_in"]
    assert [(e["actor"], e["token_id"]) for e in signed_in] == [("zhao", None)]
    issued_by = [e for e in entries if e["action"] == "token_issued"]
    assert all(e["token_id"] is not None for e in issued_by if e["actor"] == "test admin")
    assert (await ok(await admin.get("/api/v1/audit/verify")))["intact"]


# --- one verification at a time -----------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_calls_to_verify_at_once_share_one_check(
    app: FastAPI, admin: httpx.AsyncClient, database_url: str
) -> None:
    """Found by a review: each call read the whole chain in a worker thread of its own, the
    threads the routes and the ingest share, so a few at once could take them all. A table
    lock held here stops the check where it reads the chain: calls made while it waits get
    its verdict and run no check of their own."""
    await ok(await admin.get("/api/v1/audit/verify"))  # the app's first check, on its own
    calls = 4
    holder = create_engine(database_url)
    try:
        with holder.connect() as lock:
            lock.execute(text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))

            def waiting() -> int:
                """How many database sessions wait to read the chain."""
                query = text(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE NOT granted AND relation = 'audit_log'::regclass"
                )
                return int(lock.execute(query).scalar_one())

            def sharing() -> int:
                """How many calls wait for a check that runs (the old hub had none)."""
                shared = getattr(app.state, "audit_verification", None)
                return int(getattr(shared, "callers", 0))

            async def all_in() -> bool:
                # Either every call has a check of its own waiting, or they all await one.
                return waiting() >= 1 and calls in (waiting(), sharing())

            tasks = [asyncio.create_task(admin.get("/api/v1/audit/verify")) for _ in range(calls)]
            await until(all_in, f"{calls} calls to verify the chain")
            assert waiting() == 1
            lock.rollback()
        verdicts = [await ok(response) for response in await asyncio.gather(*tasks)]
    finally:
        holder.dispose()
    assert verdicts == [verdicts[0]] * calls
    assert verdicts[0]["intact"] is True
