"""The hand-written migrations create exactly the schema the models describe."""

import hashlib
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, String, inspect, select, text

from devices.kinds import AlertKind, DeviceKind
from hub.cases.correlation import DEFAULT_RULES, route
from hub.evidence.repository import EvidenceStore
from hub.persistence.engine import alembic_config, migrate
from hub.persistence.schema import Base
from hub.persistence.tables import CaseRow
from hub.store import HubStore
from tests.hub.factories import T0, alert_id, make_alert, make_device
from tests.hub.test_evidence_store import JPEG, image


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_the_comparison_would_see_a_difference(engine: Engine) -> None:
    altered = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(altered)
    altered.tables["alerts"].c.location.type = String(100)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), altered)
    assert len(diffs) == 1


def test_migrating_again_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    assert set(inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}
    assert {"devices", "alerts", "cases", "case_events", "edges", "households"} <= set(
        Base.metadata.tables
    )


def test_there_is_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_place_keys_are_written_anew_from_the_folded_place(engine: Engine) -> None:
    """0018: an incident under way when the hub is upgraded keeps taking its alerts. Two
    spellings of one place both open then: the one already holding the new key keeps it,
    the other keeps its own until it is resolved (no unique key is broken)."""
    store = HubStore(engine)
    for device_id, place in (("b3-smoke", "Building 3/Unit 1"), ("b3-heat", "building 3/Unit 2")):
        store.fleet.register_device(make_device(device_id, kind=DeviceKind.SMOKE, location=place))
    now = T0
    store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], now)
    config = alembic_config()

    def to(revision: str) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            if revision == "head":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)

    def keys() -> list[tuple[str | None, str]]:
        with engine.connect() as connection:
            query = select(CaseRow.open_key, CaseRow.correlation_key).order_by(CaseRow.id)
            return [(open_key, key) for open_key, key in connection.execute(query)]

    def spelt(place: str) -> str:
        return "fire@" + hashlib.sha256(place.encode()).hexdigest()[:40]

    new = route(DEFAULT_RULES, "b3-smoke", AlertKind.SMOKE, "Building 3/Unit 1").key
    assert keys() == [(new, new)]
    to("0017")
    assert keys() == [(spelt("Building 3"), spelt("Building 3"))]
    # Under the code of 0017, the other spelling was another incident (the key is the new
    # one here, as this code computes it: the collision an upgrade meets).
    # Today's intake reads a column of 0019 (who registered each device) and those of 0022
    # (whether it is retired): lent to the 0017 schema for this one ingest, and taken back
    # before the upgrade adds them for good.
    lent = {
        "registered_by": "VARCHAR(32)",
        "retired_at": "TIMESTAMP",
        "retired_by": "VARCHAR(64)",
        "retired_reason": "TEXT",
    }
    # Likewise the audit trail's token of 0027, the case's version of 0028 and its street and
    # district of 0030.
    lent_elsewhere = [
        ("audit_log", "token_id", "INTEGER"),
        ("cases", "version", "INTEGER NOT NULL DEFAULT 1"),
        ("cases", "street", "VARCHAR(128)"),
        ("cases", "district", "VARCHAR(128)"),
    ]
    with engine.begin() as connection:
        for column, sql_type in lent.items():
            connection.execute(text(f"ALTER TABLE devices ADD COLUMN {column} {sql_type}"))
        for table, column, sql_type in lent_elsewhere:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
    store.intake.ingest_alerts([make_alert(device_id="b3-heat")], now + timedelta(seconds=5))
    with engine.begin() as connection:
        for column in lent:
            connection.execute(text(f"ALTER TABLE devices DROP COLUMN {column}"))
        for table, column, _ in lent_elsewhere:
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    assert len(keys()) == 2
    to("head")
    assert keys() == [(spelt("Building 3"), new), (new, new)]


def test_the_pictures_held_before_their_size_was_kept_count_toward_their_edges_quota(
    engine: Engine, tmp_path: Path
) -> None:
    """0020: the size of each picture already held is copied from its blob."""
    evidence = EvidenceStore(engine, tmp_path / "evidence")
    evidence.store(image(alert=alert_id()), JPEG, T0)
    evidence.store(image(alert=alert_id(), jpeg=JPEG + b"2"), JPEG + b"2", T0)
    config = alembic_config()
    for revision in ("0019", "head"):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            if revision == "head":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    assert evidence.held_bytes("e1") == 2 * len(JPEG) + 1
