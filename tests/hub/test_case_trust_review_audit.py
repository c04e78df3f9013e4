"""Outside review of the audit trail's listing: an edited row is shown as one, never a 500."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_audit import fill


def tamper(app: FastAPI, action: str, column: str, value: str) -> int:
    """Fill the trail, edit one column of its first ``action`` entry by hand (as someone with
    the database could); return that entry's seq."""
    store: HubStore = app.state.store
    fill(store, FakeClock())
    seq = next(e.seq for e in store.audit.list_audit(limit=1000) if e.action == action)
    with store.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = {value} WHERE seq = {seq}"))
    return seq


async def listed(client: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await client.get("/api/v1/audit", params={"limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.mark.parametrize("detail", ["null", "[]", '"edited"', "3", "true"])
async def test_the_listing_marks_a_detail_edited_into_something_not_an_object(
    app: FastAPI, client: httpx.AsyncClient, detail: str
) -> None:
    """Found by an outside review: ``/audit/verify`` named such an entry, but ``GET /audit``
    answered 500 for the whole page that held it."""
    seq = tamper(app, "acknowledged", "detail", f"'{detail}'")
    entries = await listed(client)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    marked = {e["seq"]: e["unreadable"] for e in entries if e["unreadable"] is not None}
    assert marked == {seq: "its detail is not a JSON object: it was edited"}
    edited = entries[seq - 1]
    assert (edited["action"], edited["actor"], edited["detail"]) == ("acknowledged", "op-1", {})
    assert edited["ts"] is not None


# SQLite only: PostgreSQL checks a json or timestamptz value when it is written.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("detail", "'{not json'", "its detail cannot be read: it was edited"),
        ("detail", "x'ff00'", "its detail cannot be read: it was edited"),
        ("ts", "'yesterday'", "its ts cannot be read: it was edited"),
    ],
)
async def test_the_listing_marks_a_row_edited_into_what_cannot_be_read(
    app: FastAPI, client: httpx.AsyncClient, column: str, value: str, why: str
) -> None:
    """SQLite keeps whatever text is written into a column: a detail that is not JSON or a
    time that is not one made the listing answer 500 instead of showing the entry."""
    seq = tamper(app, "opened", column, value)
    entries = await listed(client)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert {e["seq"]: e["unreadable"] for e in entries if e["unreadable"]} == {seq: why}
    edited = entries[seq - 1]
    assert (edited["action"], edited["case_id"]) == ("opened", 1)
    assert (edited["ts"] is None) == (column == "ts")
    assert (edited["detail"] == {}) == (column == "detail")  # else the detail as stored
    # The entries around it are shown whole, and the check names the same entry.
    assert all(e["ts"] is not None for e in entries if e["seq"] != seq)
    verdict = (await client.get("/api/v1/audit/verify")).json()
    assert (verdict["intact"], verdict["broken_seq"]) == (False, seq)
