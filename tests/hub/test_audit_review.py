"""Outside review of the audit trail: a tampered chain is named, never a crash or a pass."""

import pytest
from sqlalchemy import Engine, text

from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_audit import fill


@pytest.mark.parametrize("detail", ["null", "[]", '"edited"', "3", "true"])
def test_a_detail_edited_into_something_not_an_object_breaks_the_chain_there(
    engine: Engine, store: HubStore, clock: FakeClock, detail: str
) -> None:
    """Found by an outside review: an entry whose detail was edited by hand into JSON that is
    not an object (``null``, a list, a string) made the check crash (500 from
    ``/audit/verify``, a traceback from ``linli audit verify``) instead of naming the link."""
    fill(store, clock)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET detail = '{detail}' WHERE seq = 7"))
    verdict = store.audit.verify_audit(page_size=3)
    assert (verdict.intact, verdict.broken_seq, verdict.checked) == (False, 7, 6)
    assert verdict.reason == "its content does not match its hash (edited)"


# SQLite only: PostgreSQL checks a json or timestamptz value when it is written.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("column", "value"),
    [("detail", "'{not json'"), ("ts", "'yesterday'"), ("detail", "x'ff00'")],
)
def test_a_row_edited_into_what_cannot_be_read_breaks_the_chain_there(
    engine: Engine, store: HubStore, clock: FakeClock, column: str, value: str
) -> None:
    """SQLite keeps whatever text is written into a column: a detail that is not JSON or a
    time that is not one made the check crash instead of naming the entry."""
    fill(store, clock)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = {value} WHERE seq = 5"))
    verdict = store.audit.verify_audit(page_size=3)
    assert (verdict.intact, verdict.broken_seq, verdict.checked) == (False, 5, 4)
    assert verdict.reason == "it cannot be read: its content was edited"
